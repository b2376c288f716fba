"""The cached UCUM factors must equal what the units library computes now."""

import json

import pytest

from reasoner.paths import reference_dir
from reasoner.record.reference import reference
from reasoner.record.units import UnitError, _live_factor, factor


def test_every_cached_factor_matches_the_units_library():
    cache = json.loads((reference_dir() / "ucum-factors.json").read_text())
    entries = cache["factors"]
    assert len(entries) > 20
    for key, cached in entries.items():
        unit, test = key.rsplit("|", 1)
        lab = reference().labs[test]
        live = _live_factor(unit, lab["unit"], lab.get("molar_mass"))
        assert live == pytest.approx(cached, rel=1e-9), key


@pytest.mark.parametrize("unit, test, expected", [
    ("mg/dL", "bilirubin", 1.0), ("umol/L", "bilirubin", 0.0584660), ("g/L", "albumin", 0.1),
    ("ukat/L", "alt", 60.0), ("[IU]/L", "alt", 1.0), ("/mm3", "platelets", 0.001), ("mL/s", "creatinine_clearance", 60.0),
])
def test_known_conversions(unit, test, expected):
    assert factor(unit, test) == pytest.approx(expected, rel=1e-5)


def test_a_unit_of_the_wrong_dimension_is_refused():
    with pytest.raises(UnitError):
        factor("mL/min", "bilirubin")
