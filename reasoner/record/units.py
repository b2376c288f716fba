"""Lab unit conversion with a UCUM-aware units library (ucumvert on pint).

Loading ucumvert's grammar costs ~1.3 s, more than a whole `eligo check` may take, so factors it
computes are kept in facts/reference/ucum-factors.json; a test recomputes every cached factor with
the library and must agree. A unit not in the cache is computed live, never guessed.
Regenerate the cache with: python -m reasoner.record.units --refresh
"""

import json
import sys
from functools import lru_cache

from ..errors import InputError
from ..paths import reference_dir
from .reference import reference

CACHE_NAME = "ucum-factors.json"

# Units commonly written on lab reports, with the canonical unit of each lab's dimension; the
# cache holds a factor for each (unit, test) pair that converts.
COMMON_UNITS = (
    "mg/dL", "mg/L", "g/dL", "g/L", "umol/L", "mmol/L", "U/L", "ukat/L", "[IU]/L",
    "10*9/L", "10*3/uL", "/uL", "/mm3", "10*6/L", "mL/min", "mL/s", "L/h", "%",
)

# Enzyme activities are reported in U/L and [IU]/L interchangeably; UCUM keeps [IU] arbitrary,
# so the clinical convention (1 IU/L = 1 U/L for ALT, AST, ALP, GGT) is stated here, once.
CLINICAL_SYNONYMS = {"[IU]/L": "U/L", "IU/L": "U/L"}

class UnitError(InputError):
    pass

@lru_cache(maxsize=1)
def _registry():
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()

def _live_factor(unit, target, molar_mass):

    registry = _registry()
    try:
        source = registry.from_ucum(unit)
    except Exception:
        raise UnitError(f"a UCUM unit (e.g. mg/dL, umol/L, 10*9/L), got \"{unit}\"") from None
    goal = registry.from_ucum(target)
    try:
        return float((source / goal).to("dimensionless").magnitude)
    except Exception:
        pass
    if molar_mass:
        grams_per_mole = molar_mass * registry.from_ucum("g/mol")
        for converted in (source * grams_per_mole, source / grams_per_mole):
            try:
                return float((converted / goal).to("dimensionless").magnitude)
            except Exception:
                continue
    raise UnitError(f"a unit convertible to {target}, got \"{unit}\"")

@lru_cache(maxsize=1)
def _cache():
    path = reference_dir() / CACHE_NAME
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)["factors"]
    except FileNotFoundError:
        return {}

def _key(unit, test):
    return f"{unit}|{test}"

@lru_cache(maxsize=256)
def factor(unit, test):
    """Multiply a value in `unit` by this to get the test's canonical unit."""
    spec = reference().labs[test]
    unit = CLINICAL_SYNONYMS.get(unit, unit) if spec["unit"] == "U/L" else unit
    cached = _cache().get(_key(unit, test))
    if cached is not None:
        return cached
    if unit == spec["unit"]:
        return 1.0
    return _live_factor(unit, spec["unit"], spec.get("molar_mass"))

def refresh_cache():
    """Recompute every common (unit, test) factor with the library and write the cache file."""
    factors = {}
    for test, spec in reference().labs.items():
        for unit in COMMON_UNITS:
            try:
                factors[_key(unit, test)] = _live_factor(unit, spec["unit"], spec.get("molar_mass"))
            except UnitError:
                continue
    path = reference_dir() / CACHE_NAME
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"generated_by": "python -m reasoner.record.units --refresh", "factors": factors}, handle, indent=1, sort_keys=True)
        handle.write("\n")
    return factors

if __name__ == "__main__":
    if sys.argv[1:] == ["--refresh"]:
        print(f"{len(refresh_cache())} factors written")
    else:
        print(__doc__)
