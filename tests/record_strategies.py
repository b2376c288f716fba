"""Hypothesis strategies for patient records, derived from the record schema itself.

Walking reasoner.record.format.RECORD (rather than a hand-written copy of it) means a field
another helper adds is generated too, and so reaches the rules that read it. A few places need
clinical sense the schema cannot give (lab units that convert, vertebral runs, plausible ages,
values on the trials' thresholds); those are overrides by path. `repair` then makes the
cross-field rules hold (unique ids, a vertebral site only on a bone lesion, end after start), so
nearly every generated record validates. `mutations` breaks valid records on purpose.

Profiles: ELIGO_HYPOTHESIS_PROFILE=ci (default: derandomized, quick) or thorough (random, many
more examples); see docs/errors.md and tests/test_properties.py.
"""

import copy
import datetime as dt
import json
import os
import string
from functools import lru_cache
from pathlib import Path

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from reasoner.errors import RecordError
from reasoner.logic.rulebook import rulebook
from reasoner.paths import reference_dir
from reasoner.pipeline import record_from_data  # with the rules catalogue, as the CLI validates
from reasoner.record.facts import SECTIONS_WITH_ITEMS
from reasoner.record.format import FINDINGS, RECORD
from reasoner.record.reference import reference
from reasoner.record.validator import Bool, Choice, Date, Enum, List, Map, Num, Obj, Str

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 23)
NAME = "gen.yaml"

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                 HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                 HealthCheck.data_too_large])
PROFILE = os.environ.get("ELIGO_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

# Values on and around the thresholds the trials use (sizes, percentages, months, ULN multiples).
BOUNDARIES = (0, 0.5, 1, 2, 2.5, 3, 4, 5, 6, 10, 12, 18, 20, 24, 25, 30, 40, 49, 50, 51, 60, 61, 70, 80, 90, 100, 150)
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_'\"().,&~/éü中", min_size=1, max_size=12).filter(str.strip)
ID_PREFIX = {"recurrences": "REC", "metastases": "M", "locoregional_lesions": "LR", "imaging": "IMG",
             "systemic_therapy": "R", "radiotherapy": "RT", "surgery": "S", "other_malignancies": "OM",
             "other_trials": "OT"}
LIST_SIZE = {"metastases": 7, "systemic_therapy": 4, "labs": 6}


def recent_or_old_dates():
    return st.one_of(st.dates(AS_OF - dt.timedelta(days=120), AS_OF), st.dates(dt.date(1990, 1, 1), AS_OF))


def planned_dates():
    return st.dates(AS_OF - dt.timedelta(days=60), AS_OF + dt.timedelta(days=120))


def birth_dates():
    eighteen = AS_OF.replace(year=AS_OF.year - 18)
    return st.one_of(st.dates(dt.date(1935, 1, 1), dt.date(2012, 12, 31)),
                     st.sampled_from([eighteen, eighteen + dt.timedelta(days=1), eighteen - dt.timedelta(days=1)]))


def numbers(spec):
    low = spec.minimum if spec.minimum is not None else 0
    high = spec.maximum if spec.maximum is not None else 10_000
    if spec.integer:
        return st.integers(int(low), int(min(high, low + 60)))
    boundary = [b for b in BOUNDARIES if low <= b <= high and not (spec.exclusive_min and b == low)]
    floats = st.floats(low, high, allow_nan=False, allow_infinity=False, exclude_min=spec.exclusive_min)
    whole = st.integers(int(low) + (1 if spec.exclusive_min else 0), int(min(high, low + 150)))
    return st.one_of(st.sampled_from(boundary), whole, floats) if boundary else st.one_of(whole, floats)


@lru_cache(maxsize=1)
def criterion_refs():
    return sorted(f"{t.id}/{c.id}" for t in rulebook().trials.values() for c in t.criteria)


@lru_cache(maxsize=1)
def lab_units():
    """test -> units it converts from (the canonical one and every cached factor)."""
    cached = json.loads((reference_dir() / "ucum-factors.json").read_text())["factors"]
    units = {test: [spec["unit"]] for test, spec in reference().labs.items()}
    for key in sorted(cached):
        unit, test = key.split("|")
        if test in units and unit not in units[test]:
            units[test].append(unit)
    return units


@st.composite
def labs(draw):
    from reasoner.record.units import factor

    test = draw(st.sampled_from(sorted(reference().labs)))
    unit = draw(st.sampled_from(lab_units()[test]))
    per = factor(unit, test)       # canonical = value * per: thresholds are drawn in canonical units
    uln = draw(st.sampled_from([0.5, 1, 1.2, 35, 45, 60, 105, 200]))
    value = draw(st.one_of(st.sampled_from([0, 0.5 * uln, uln, 2.5 * uln, 2.99 * uln, 3 * uln, 3.01 * uln, 5 * uln,
                                            2.5, 3.5, 50, 60, 61, 100]),
                           st.floats(0, 1000, allow_nan=False)))
    lab = {"test": test, "value": round(value / per, 6), "unit": unit, "date": draw(recent_or_old_dates())}
    if draw(st.booleans()):
        lab["uln"] = round(uln / per, 6) or 1
    if draw(st.booleans()):
        lab["lln"] = round(draw(st.floats(0, uln)) / per, 6)
    return lab


@st.composite
def performance(draw):
    scale = draw(st.sampled_from(["ecog", "who", "karnofsky"]))
    value = draw(st.integers(0, 5)) if scale != "karnofsky" else draw(st.sampled_from(range(0, 101, 10)))
    return {"scale": scale, "value": value, "date": draw(recent_or_old_dates())}


@st.composite
def vertebral_runs(draw):
    levels = reference().vertebrae
    start = draw(st.integers(0, len(levels) - 1))
    run = list(levels[start:start + draw(st.integers(1, 5))])
    if draw(st.integers(0, 4)) == 0:     # now and then a second, separate run
        other = draw(st.integers(0, len(levels) - 1))
        run += [lv for lv in levels[other:other + 2] if lv not in run]
    return run


def lesion_refs(prefix):
    return st.lists(st.integers(1, 8).map(lambda k: f"{prefix}{k}"), max_size=3, unique=True)


ORGANS = st.one_of(st.sampled_from(["bone", "bone", "liver", "lung", "brain", "distant_lymph_node"]),
                   st.sampled_from(list(reference().organs)))

OVERRIDES = {
    "schema_version": lambda: st.just(1),
    "patient.birth_date": birth_dates,
    "metastases[].organ": lambda: ORGANS,
    "metastatic_sites[].organ": lambda: ORGANS,
    "metastases[].site.vertebrae": vertebral_runs,
    "metastatic_sites[].site.vertebrae": vertebral_runs,
    "labs[]": labs,
    "performance_status[]": performance,
    "toxicities[].name": lambda: st.sampled_from(["alopecia", "peripheral_neuropathy", "Peripheral neuropathy",
                                                 "fatigue", "nausea", "neutropenia"]),
    "radiotherapy[].lesions": lambda: lesion_refs("M"),
    "surgery[].lesions": lambda: lesion_refs("M"),
    "imaging[].regimen": lambda: st.integers(1, 4).map(lambda k: f"R{k}"),
    "attestations[].criterion": lambda: st.sampled_from(criterion_refs()),
    "incomplete_sections": lambda: st.lists(st.sampled_from(SECTIONS_WITH_ITEMS), max_size=2, unique=True),
}

CHOICES = {     # Choice specs by their function's name: what the schema cannot say about the values
    "_vertebra": lambda: st.sampled_from(reference().vertebrae),
    "_organ": lambda: ORGANS,
    "_drug": lambda: st.sampled_from(sorted(reference().drugs)),
    "_lab_test": lambda: st.sampled_from(sorted(reference().labs)),
    "_criterion_ref": lambda: st.sampled_from(criterion_refs()),
    "_list_section": lambda: st.sampled_from(SECTIONS_WITH_ITEMS),
}


def spec_strategy(spec, path):
    """A strategy for values of `spec` at `path` (list items as `section[]`); None: cannot generate."""
    if path in OVERRIDES:
        return OVERRIDES[path]()
    if isinstance(spec, Obj):
        fields = {k: spec_strategy(f, f"{path}.{k}" if path else k) for k, f in spec.fields.items()}
        required = {k: s for k, s in fields.items() if k in spec.required}
        if any(s is None for s in required.values()):
            return None
        optional = {k: s for k, s in fields.items() if k not in spec.required and s is not None}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(spec, List):
        item = spec_strategy(spec.item, path + "[]")
        return None if item is None else st.lists(item, max_size=LIST_SIZE.get(path, 3))
    if isinstance(spec, Map):
        item = spec_strategy(spec.item, path + ".*")
        if spec.keys is None:
            return st.dictionaries(TEXT, item, max_size=2)
        return st.fixed_dictionaries({}, optional={k: item for k in spec.keys})
    if isinstance(spec, Enum):
        return st.sampled_from(spec.values)
    if isinstance(spec, Bool):
        return st.booleans()
    if isinstance(spec, Num):
        return numbers(spec)
    if isinstance(spec, Date):
        return recent_or_old_dates() if spec.past else planned_dates()
    if isinstance(spec, Str):
        return TEXT
    if isinstance(spec, Choice):
        make = CHOICES.get(getattr(spec.func, "__name__", ""))
        return make() if make else None
    return None


def _lesion_site(lesion):
    site = lesion.get("site")
    if site is None:
        return
    if lesion.get("organ") != "bone":
        site.pop("bone", None)
        site.pop("vertebrae", None)
    elif site.get("vertebrae"):
        site["bone"] = "vertebra"
    elif site.get("bone") == "vertebra":
        site.pop("bone")


def repair(data):
    """Make the schema's cross-field rules hold, so the record validates (a copy)."""
    data = copy.deepcopy(data)
    for section, prefix in ID_PREFIX.items():
        ids = [item.get("id") for item in data.get(section, [])]
        if len(set(ids)) < len(ids):
            for i, item in enumerate(data[section]):
                item["id"] = f"{prefix}{i + 1}"
    for section in ("metastases", "metastatic_sites"):
        for lesion in data.get(section, []):
            _lesion_site(lesion)
    for regimen in data.get("systemic_therapy", []) + data.get("other_trials", []):
        if "end" in regimen and "start" in regimen and regimen["end"] < regimen["start"]:
            regimen["start"], regimen["end"] = regimen["end"], regimen["start"]
        if "end" in regimen and regimen.get("ongoing") is True:
            del regimen["ongoing"]
    for section, key in (("labs", ("test", "date")), ("attestations", ("criterion",))):
        if section in data:
            seen, kept = set(), []
            for item in data[section]:
                ident = tuple(item[k] for k in key)
                if ident not in seen:
                    seen.add(ident)
                    kept.append(item)
            data[section] = kept
    _repair_references(data)
    if "labs" in data:
        data["labs"] = [lab for lab in data["labs"] if _plausible(lab)]
    if "metastases" in data and "metastases" not in data.get("incomplete_sections", ()):
        organs = {lesion["organ"] for lesion in data["metastases"]}
        data["metastatic_sites"] = [s for s in data.get("metastatic_sites", []) if s["organ"] in organs]
        if not data["metastatic_sites"]:
            del data["metastatic_sites"]
    return data


def _repair_references(data):
    """Lesion and regimen references name existing ids (validation refuses any that match nothing)."""
    incomplete = data.get("incomplete_sections", ())
    if "metastases" in data and "metastases" not in incomplete:
        lesions = {item.get("id") for item in data["metastases"] + data.get("locoregional_lesions", [])}
        for entry in data.get("radiotherapy", []) + data.get("surgery", []):
            if "lesions" in entry:
                entry["lesions"] = [ref for ref in entry["lesions"] if ref in lesions]
    if "systemic_therapy" in data and "systemic_therapy" not in incomplete:
        regimens = {item.get("id") for item in data["systemic_therapy"]}
        for study in data.get("imaging", []):
            if study.get("regimen") not in regimens:
                study.pop("regimen", None)


def _plausible(lab):
    """Within the test's bounds (facts/reference/labs.yaml) after conversion, or not checkable here."""
    from reasoner.record.units import UnitError, factor

    spec = reference().labs.get(lab.get("test"))
    if spec is None or "unit" not in lab:
        return True
    try:
        per = factor(lab["unit"], lab["test"])
    except UnitError:
        return True
    low, high = spec["bounds"]
    return all(low <= lab[key] * per <= high for key in ("value", "uln", "lln")
               if isinstance(lab.get(key), (int, float)) and not isinstance(lab.get(key), bool))


def validate(data):
    """The Record, or None when the record is invalid (RecordError; anything else propagates)."""
    try:
        return record_from_data(data, NAME, AS_OF)
    except RecordError:
        return None


def raw_records():
    return spec_strategy(RECORD, "")


@lru_cache(maxsize=1)
def seed_records():
    """The example patients and the rule tests' base records that validate on AS_OF: mostly
    eligible, so that perturbing them reaches the eligible verdicts random records rarely do."""
    out = []
    for path in sorted(ROOT.glob("facts/patients/*.yaml")) + sorted(ROOT.glob("rules/tests/records/*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and validate(data) is not None:
            out.append(data)
    return out


def schema_at(path):
    """(spec, schema path) of the value at a record path tuple."""
    spec, where = RECORD, ""
    for key in path:
        if isinstance(spec, List):
            spec, where = spec.item, where + "[]"
        elif isinstance(spec, Map):
            spec, where = spec.item, where + ".*"
        else:
            spec, where = spec.fields[key], f"{where}.{key}" if where else key
    return spec, where


@st.composite
def perturbed_seeds(draw):
    """A seed record with a few optional fields dropped or regenerated."""
    data = copy.deepcopy(draw(st.sampled_from(seed_records())))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 4]))):
        spots = removable(data)
        if not spots:
            break
        path = draw(st.sampled_from(spots))
        spec, where = schema_at(path)
        make = spec_strategy(spec, where)
        if make is None or draw(st.booleans()):
            del get(data, path[:-1])[path[-1]]
        else:
            get(data, path[:-1])[path[-1]] = draw(make)
    return repair(data)


def valid_records():
    """Plain record data (as YAML would load it) that validates: generated, or a perturbed seed."""
    return st.one_of(raw_records().map(repair), perturbed_seeds()).filter(lambda d: validate(d) is not None)


# Invalid values of every kind, for mutations.
BAD_VALUES = ("", "   ", "x", "T13", "2026-02-30", "\x1b[31m", -1, -0.5, 10 ** 30, 1e308, float("nan"), float("inf"),
              True, None, [], {}, [1, [2, [3]]], {"a": {"b": 1}}, "x') & ~eligible(P", 3.7)


def paths(data, prefix=()):
    """Every (path tuple) to a value inside data."""
    out = []
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return out
    for key, value in items:
        out.append(prefix + (key,))
        out += paths(value, prefix + (key,))
    return out


def get(data, path):
    for key in path:
        data = data[key]
    return data


@st.composite
def mutations(draw, base=None):
    """A valid record broken in one place: a wrong value, a dropped or unknown field, a duplicated item."""
    data = copy.deepcopy(draw(base or valid_records()))
    where = draw(st.sampled_from(paths(data)))
    parent, key = get(data, where[:-1]), where[-1]
    kind = draw(st.sampled_from(["value", "value", "drop", "unknown", "duplicate"]))
    if kind == "value":
        parent[key] = draw(st.sampled_from(BAD_VALUES))
    elif kind == "drop":
        del parent[key]
    elif kind == "unknown" and isinstance(parent, dict):
        parent["zz_" + str(key)] = 1
    elif kind == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    else:
        parent[key] = draw(st.sampled_from(BAD_VALUES))
    return data


def removable(data, spec=RECORD, prefix=()):
    """Paths of optional fields (at any depth) whose removal means only "not recorded".

    Required fields are left alone (their removal is a validation error), and so is
    incomplete_sections: removing it would claim the lists complete, which is more information.
    """
    out = []
    if isinstance(spec, Obj) and isinstance(data, dict):
        for key, value in data.items():
            if key not in spec.required and key != "incomplete_sections":
                out.append(prefix + (key,))
            if key in spec.fields:
                out += removable(value, spec.fields[key], prefix + (key,))
    elif isinstance(spec, Map) and isinstance(data, dict):
        out += [prefix + (key,) for key in data]
    elif isinstance(spec, List) and isinstance(data, list):
        for i, item in enumerate(data):
            out += removable(item, spec.item, prefix + (i,))
    return out


def without(data, path):
    data = copy.deepcopy(data)
    del get(data, path[:-1])[path[-1]]
    return data


FINDING_KEYS = tuple(FINDINGS)
