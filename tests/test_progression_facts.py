"""Record fields added for COSMO and NCT04646564: per-lesion progression measures, locoregional
sites, imaging linked to regimens, months from a regimen's start to a study, Child-Pugh class,
radiotherapy lesion lists; and the references between them that validation checks."""

import copy
import datetime as dt

import pytest
import yaml

from reasoner.errors import EligoError
from reasoner.record.facts import facts_of
from reasoner.record.read import record_from_data
from tests.conftest import AS_OF, ROOT

COSMO = ROOT / "facts" / "patients" / "eligible-cosmo.yaml"


@pytest.fixture
def cosmo():
    return copy.deepcopy(yaml.safe_load(COSMO.read_text()))


def facts(data):
    return facts_of(record_from_data(data, "p.yaml", AS_OF))


def rows(pf, pred):
    return sorted((f.args, f.path) for f in pf.facts if f.pred == pred)


def gaps(pf, pred):
    return sorted((g.path, g.key) for g in pf.gaps if g.pred == pred)


def test_lesion_changes_are_scaled_integers_with_their_paths(cosmo):
    cosmo["metastases"][1].update(lytic_mm=12.5, baseline_lytic_mm=10)
    pf = facts(cosmo)
    assert rows(pf, "lesion_change") == [
        (("M1", "size", 16000, 22000), "metastases[0].size_mm"),
        (("M1", "suvmax", 4000, 7500), "metastases[0].suvmax"),
        (("M2", "lytic", 10000, 12500), "metastases[1].lytic_mm"),
        (("M2", "suvmax", 5200, 2100), "metastases[1].suvmax")]
    # M2 has no baseline size, M3 no measure at all: gaps keyed by the measure
    assert ("metastases[1].baseline_size_mm", ((2, "size"),)) in gaps(pf, "lesion_change")
    assert ("metastases[2].lytic_mm", ((2, "lytic"),)) in gaps(pf, "lesion_change")
    assert not [g for g in gaps(pf, "lesion_change") if g[0].startswith("metastases[0]")]


def test_lytic_measures_are_read_for_bone_lesions_only(cosmo):
    cosmo["metastases"][0].update(lytic_mm=12, baseline_lytic_mm=10)
    assert not [r for r in rows(facts(cosmo), "lesion_change") if r[0][1] == "lytic"]


def test_locoregional_sites_share_the_lesion_predicates(cosmo):
    cosmo["locoregional_lesions"] = [{"id": "LR1", "region": "axillary_nodes", "size_mm": 19, "baseline_size_mm": 12,
                                      "progressing": True}]
    pf = facts(cosmo)
    assert rows(pf, "locoregional_lesion") == [(("LR1", "axillary_nodes"), "locoregional_lesions[0]")]
    assert (("LR1", True), "locoregional_lesions[0].progressing") in rows(pf, "lesion_progressing")
    assert (("LR1", "size", 12000, 19000), "locoregional_lesions[0].size_mm") in rows(pf, "lesion_change")
    assert ("locoregional_lesions[0].amenable_to_local_therapy", ()) in gaps(pf, "locoregional_amenable")
    assert not [f for f in pf.facts if f.pred.startswith("lesion_") and f.path.startswith("locoregional") and
                f.pred not in ("lesion_progressing", "lesion_change")]   # other trials read lesion_* as metastases
    assert ("recorded", "locoregional_lesions") in [(f.pred, f.args[0]) for f in pf.facts if f.pred == "recorded"]


def test_months_from_each_regimen_start_to_each_later_study(cosmo):
    pf = facts(cosmo)
    months = {(args[0], args[1]): args[2] for args, _path in rows(pf, "regimen_imaging_months")}
    assert months[("L1", "IMG3")] == 6          # 2025-09-01 -> 2026-03-05
    assert months[("L1", "IMG2")] == 3
    assert months[("L1", "IMG5")] == 13
    assert ("L1", "IMG1") not in months         # the baseline precedes the start
    assert months[("ADJ1", "IMG1")] == 77       # every regimen, any setting


def test_imaging_links_and_confirmation(cosmo):
    pf = facts(cosmo)
    assert (("IMG1", "L1"), "imaging[0].regimen") in rows(pf, "imaging_regimen")
    assert rows(pf, "imaging_confirmed") == [(("IMG6", True), "imaging[5].confirmed")]
    del cosmo["imaging"][5]["confirmed"]
    assert gaps(facts(cosmo), "imaging_confirmed") == [("imaging[5].confirmed", ())]


def test_child_pugh_and_radiotherapy_lesion_lists(cosmo):
    cosmo["assessment"] = {"child_pugh_class": "B"}
    cosmo["radiotherapy"].append({"id": "RT2", "date": "2025-01-01"})
    pf = facts(cosmo)
    assert rows(pf, "child_pugh") == [(("b",), "assessment.child_pugh_class")]
    assert rows(pf, "radiotherapy_lesions_recorded") == [(("RT1",), "radiotherapy[0].lesions")]
    assert gaps(pf, "radiotherapy_lesions_recorded") == [("radiotherapy[1].lesions", ())]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(locoregional_lesions=[{"id": "M1", "region": "breast"}]),
     'locoregional_lesions[0].id: expected an id not used by a metastasis, got "M1"'),
    (lambda d: d["imaging"][0].update(regimen="L9"),
     'imaging[0].regimen: expected the id of a regimen in systemic_therapy ("ADJ1", "ADJ2", "L1", "BMA"; ids are case-sensitive), '
     'got "L9"'),
    (lambda d: d["metastases"][0].update(suvmax=-1), "metastases[0].suvmax: expected a number >= 0 and <= 200"),
    (lambda d: d.update(assessment={"child_pugh_class": "D"}), "assessment.child_pugh_class: expected one of a, b, c"),
])
def test_bad_references_and_values_are_named(cosmo, change, message):
    change(cosmo)
    with pytest.raises(EligoError) as err:
        record_from_data(cosmo, "p.yaml", dt.date(2026, 11, 23))
    assert message in str(err.value)
