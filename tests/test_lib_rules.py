"""rules/lib: the shared vocabulary every trial builds on, queried directly."""

import copy

import pytest

from reasoner.logic.engine import PATIENT, engine
from reasoner.record.read import record_from_data
from tests.conftest import AS_OF

BASE = {"schema_version": 1, "patient": {"id": "L1"}}


def ask(data, pred, *args):
    """Sorted answers of pred(P, *args) for the record (None = any value), without the patient."""
    record = record_from_data(data, "lib.yaml", AS_OF)
    with engine().patient(record) as session:
        rows = session.query(pred, (PATIENT,) + args)
    return sorted(tuple(row[1:]) for row in rows)


def with_lesions(*lesions):
    data = copy.deepcopy(BASE)
    data["metastases"] = [dict(lesion, id=lesion.get("id", f"M{i + 1}")) for i, lesion in enumerate(lesions)]
    return data


def spine(*levels, **extra):
    return {"organ": "bone", "site": {"bone": "vertebra", "vertebrae": list(levels)}, **extra}


def test_lesion_and_organ_counts():
    data = with_lesions({"organ": "liver"}, {"organ": "liver"}, spine("T4"), {"organ": "lung"})
    assert ask(data, "n_lesions", None) == [(4,)]
    assert ask(data, "n_organs", None) == [(3,)]


def test_zero_lesions_only_when_metastases_are_recorded():
    assert ask(with_lesions(), "n_lesions", None) == [(0,)]
    assert ask(copy.deepcopy(BASE), "n_lesions", None) == []


def test_largest_lesion():
    data = with_lesions({"organ": "liver", "size_mm": 12.5}, {"organ": "lung", "size_mm": 51}, {"organ": "lung"})
    assert ask(data, "largest_lesion_mm", None) == [(51,)]


def test_organ_classes_come_from_the_reference_taxonomy():
    data = with_lesions({"organ": "liver"}, {"organ": "brain"})
    assert ask(data, "has_lesion_class", "cns") == [("cns",)]
    assert ask(data, "has_lesion_class", "abdominal") == [("abdominal",)]


@pytest.mark.parametrize("levels, longest", [
    (["T6", "T7", "T8"], 3),              # three consecutive
    (["T2", "T6", "T10"], 1),             # three scattered
    (["C6", "C7", "T1"], 3),              # across C7/T1
    (["T11", "T12", "L1", "L2"], 4),      # across T12/L1
    (["L4", "L5", "S1"], 3),              # across L5/S1
    (["T12", "L2"], 1),                   # a gap of one level
])
def test_longest_vertebral_run(levels, longest):
    assert ask(with_lesions(spine(*levels)), "longest_vertebral_run", None) == [(longest,)]


def test_vertebral_run_joins_separate_lesions():
    data = with_lesions(spine("T5", "T6"), spine("T7"))
    assert ask(data, "longest_vertebral_run", None) == [(3,)]


def test_no_vertebral_lesion_is_a_run_of_zero_only_when_recorded():
    assert ask(with_lesions({"organ": "liver"}), "longest_vertebral_run", None) == [(0,)]
    assert ask(copy.deepcopy(BASE), "longest_vertebral_run", None) == []


def regimens(*items):
    data = copy.deepcopy(BASE)
    data["systemic_therapy"] = [dict(item, id=f"R{i + 1}", setting=item.get("setting", "metastatic"))
                                for i, item in enumerate(items)]
    return data


def test_de_escalation_continues_the_line():
    data = regimens({"drugs": ["pertuzumab", "trastuzumab", "docetaxel"], "start": "2025-01-01", "end": "2025-06-01"},
                    {"drugs": ["pertuzumab", "trastuzumab"], "start": "2025-06-15"})
    assert ask(data, "metastatic_lines", None) == [(1,)]
    assert ask(data, "continues_line", None) == [("R2",)]


def test_adding_a_drug_starts_a_new_line():
    data = regimens({"drugs": ["pertuzumab", "trastuzumab"], "start": "2025-01-01", "end": "2025-06-01"},
                    {"drugs": ["pertuzumab", "trastuzumab", "capecitabine"], "start": "2025-06-15"},
                    {"drugs": ["capecitabine"], "start": "2025-12-01"})
    assert ask(data, "metastatic_lines", None) == [(2,)]
    assert ask(data, "new_line", None) == [("R1",), ("R2",)]


def test_switching_drugs_is_a_new_line_and_adjuvant_or_bone_agents_are_not_lines():
    data = regimens({"drugs": ["letrozole"], "start": "2019-01-01", "end": "2024-01-01", "setting": "adjuvant"},
                    {"drugs": ["denosumab"], "start": "2025-01-01"},
                    {"drugs": ["letrozole", "palbociclib"], "start": "2025-01-01", "end": "2025-09-01"},
                    {"drugs": ["fulvestrant"], "start": "2025-09-10"})
    assert ask(data, "metastatic_lines", None) == [(2,)]
    assert ask(regimens(), "metastatic_lines", None) == [(0,)]


def labs(*items):
    data = copy.deepcopy(BASE)
    data["labs"] = list(items)
    return data


def lab(test, value, date, uln=None, unit="U/L"):
    item = {"test": test, "value": value, "unit": unit, "date": date}
    if uln is not None:
        item["uln"] = uln
    return item


def test_latest_lab_wins():
    data = labs(lab("alt", 200, "2026-10-01", 40), lab("alt", 50, "2026-11-01", 40))
    assert ask(data, "lab_below_uln_times", "alt", 30) == [("alt", 30)]
    assert ask(data, "lab_not_below_uln_times", "alt", 30) == []


@pytest.mark.parametrize("value, below", [(119.9, True), (120, False), (120.1, False)])
def test_uln_multiple_is_strict(value, below):
    data = labs(lab("ast", value, "2026-11-01", 40))
    assert bool(ask(data, "lab_below_uln_times", "ast", 30)) is below
    assert bool(ask(data, "lab_not_below_uln_times", "ast", 30)) is not below


def test_a_lab_without_uln_decides_neither_way():
    data = labs(lab("ast", 20, "2026-11-01"))
    assert ask(data, "lab_below_uln_times", "ast", 30) == [] == ask(data, "lab_not_below_uln_times", "ast", 30)


def test_latest_ecog_takes_the_worse_grade_of_the_latest_day():
    data = copy.deepcopy(BASE)
    data["performance_status"] = [{"scale": "ecog", "value": 3, "date": "2026-09-01"},
                                  {"scale": "who", "value": 1, "date": "2026-11-01"},
                                  {"scale": "ecog", "value": 2, "date": "2026-11-01"}]
    day = ask(data, "latest_ecog", None, None)
    assert [grade for grade, _ in day] == [2]


def test_line_head_and_number_follow_de_escalation():
    data = regimens({"drugs": ["letrozole", "palbociclib"], "start": "2024-01-01", "end": "2025-01-01"},
                    {"drugs": ["pertuzumab", "trastuzumab", "docetaxel"], "start": "2025-02-01", "end": "2025-06-01"},
                    {"drugs": ["pertuzumab", "trastuzumab"], "start": "2025-06-15", "end": "2025-09-01"},
                    {"drugs": ["trastuzumab"], "start": "2025-09-15"})
    assert ask(data, "line_head", None, None) == [("R1", "R1"), ("R2", "R2"), ("R3", "R2"), ("R4", "R2")]
    assert ask(data, "line_number", None, None) == [("R1", 1), ("R2", 2), ("R3", 2), ("R4", 2)]


def test_line_number_counts_only_metastatic_anticancer_lines():
    data = regimens({"drugs": ["tamoxifen"], "start": "2018-01-01", "end": "2023-01-01", "setting": "adjuvant"},
                    {"drugs": ["zoledronic acid"], "start": "2025-01-01"},
                    {"drugs": ["fulvestrant"], "start": "2025-01-10", "end": "2025-08-01"},
                    {"drugs": ["capecitabine"], "start": "2025-08-10"})
    assert ask(data, "line_number", None, None) == [("R3", 1), ("R4", 2)]
