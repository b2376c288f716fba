"""Record validation: every problem named by file, field and what was expected."""

import copy
import datetime as dt

import pytest

from reasoner.errors import RecordError
from reasoner.record.read import record_from_data
from tests.conftest import AS_OF


def problems(data):
    with pytest.raises(RecordError) as err:
        record_from_data(data, "patient.yaml", AS_OF)
    return str(err.value).splitlines()


def test_size_must_be_a_number(eligible):
    eligible["metastases"][2]["size_mm"] = "big"
    assert problems(eligible) == ['patient.yaml: metastases[2].size_mm: expected a number >= 0 and <= 1000, got "big"']


def test_every_problem_is_reported_not_only_the_first(eligible):
    eligible["metastases"][0]["size_mm"] = -1
    eligible["patient"]["sex"] = "f"
    found = problems(eligible)
    assert len(found) == 2
    assert any("metastases[0].size_mm" in p for p in found) and any("patient.sex" in p for p in found)


@pytest.mark.parametrize("section, entry", [
    ("systemic_therapy", {"id": "M9", "drugs": ["letrozole"], "setting": "metastatic", "start": "2025-01-01",
                          "end": "2025-06-01", "ongoing": True}),
    ("other_trials", {"id": "T9", "start": "2025-01-01", "end": "2025-06-01", "ongoing": True}),
])
def test_a_period_cannot_be_both_ended_and_ongoing(eligible, section, entry):
    """Rules rely on it (the mutation-test survivors it makes equivalent are listed in docs/authoring.md)."""
    eligible.setdefault(section, []).append(entry)
    index = len(eligible[section]) - 1
    assert problems(eligible) == [f"patient.yaml: {section}[{index}].ongoing: expected false or left out when end "
                                  "is given (end is the last day; leave it out while ongoing), got true"]


def test_lesions_without_ids_are_reported_not_a_crash(eligible):
    """Found by the thorough hypothesis profile: the id cross-check ran on entries missing their id."""
    eligible["metastases"].append({"organ": "liver"})
    eligible["locoregional_lesions"] = [{"region": "breast"}]
    found = problems(eligible)
    assert any("metastases[3].id: expected this required field" in p for p in found), found
    assert any("locoregional_lesions[0].id: expected this required field" in p for p in found), found


@pytest.mark.parametrize("change, field, expected", [
    (lambda d: d["metastases"][0]["site"].update(vertebrae=["T13"]), "metastases[0].site.vertebrae[0]", "a vertebral level"),
    (lambda d: d["metastases"].append(copy.deepcopy(d["metastases"][0])), "metastases[3].id", "a unique id"),
    (lambda d: d["labs"][0].update(unit="furlongs"), "labs[0].unit", "expected"),
    (lambda d: d["patient"].update(birth_date="2026-02-30"), "patient.birth_date", "a real date"),
    (lambda d: d["patient"].update(birth_date="2027-01-01"), "patient.birth_date", "on or before the evaluation date 2026-11-23"),
    (lambda d: d["metastases"][0].update(colour="red"), "metastases[0].colour", "a known field"),
    (lambda d: d["consent"].update(signed=None), "consent.signed", "leave the field out"),
    (lambda d: d["systemic_therapy"][0].update(drugs=["snake oil"]), "systemic_therapy[0].drugs[0]", "drugs.yaml"),
    (lambda d: d.update(metastases="none"), "metastases", "a list"),
    (lambda d: d["patient"].pop("id"), "patient.id", "required"),
])
def test_bad_values_are_errors_not_guesses(eligible, change, field, expected):
    change(eligible)
    found = problems(eligible)
    assert any(p.startswith(f"patient.yaml: {field}: ") and expected in p for p in found), found


def test_planned_dates_may_lie_in_the_future(eligible):
    eligible["dates"]["treatment_start"] = "2027-03-01"
    assert record_from_data(eligible, "p.yaml", AS_OF).data["dates"]["treatment_start"].year == 2027


def test_absent_section_and_empty_list_stay_distinct(eligible):
    eligible["other_malignancies"] = []
    del eligible["comorbidities"]
    data = record_from_data(eligible, "p.yaml", AS_OF).data
    assert data["other_malignancies"] == [] and "comorbidities" not in data


def test_lab_unit_is_converted_with_its_factor(eligible):
    eligible["labs"][0] = {"test": "bilirubin", "value": 17.1, "unit": "umol/L", "uln": 20.5, "date": "2026-11-16"}
    lab = record_from_data(eligible, "p.yaml", AS_OF).data["labs"][0]
    assert lab["factor"] == pytest.approx(0.0584660, rel=1e-5)


def _later(eligible):
    """Entries dated after AS_OF (2026-11-23): a whole lab, a regimen's end, an imaging study."""
    eligible["labs"].insert(1, {"test": "bilirubin", "value": 2.0, "unit": "mg/dL", "uln": 1.2, "date": "2026-11-24"})
    eligible["systemic_therapy"].append({"id": "M1", "drugs": ["letrozole"], "setting": "metastatic",
                                         "start": "2026-11-01", "end": "2026-12-01"})
    eligible["imaging"].append({"id": "IMG9", "modality": "ct", "date": "2027-01-05"})
    return eligible


def test_observations_after_as_of_are_set_aside_and_listed(eligible):
    count = len(eligible["labs"])
    record = record_from_data(_later(eligible), "p.yaml", AS_OF)
    assert [(e.path, e.date) for e in record.set_aside] == [   # in record order
        ("imaging[1]", dt.date(2027, 1, 5)), ("systemic_therapy[2].end", dt.date(2026, 12, 1)),
        ("labs[1]", dt.date(2026, 11, 24))]
    assert [e.why for e in record.set_aside] == ["date after --as-of 2026-11-23", "end after --as-of 2026-11-23",
                                                 "date after --as-of 2026-11-23"]
    assert len(record.data["labs"]) == count and all(lab["date"] <= AS_OF for lab in record.data["labs"])
    assert "end" not in record.data["systemic_therapy"][2] and record.data["systemic_therapy"][2]["id"] == "M1"
    assert [study["id"] for study in record.data["imaging"]] == ["IMG1"]


def test_set_aside_keeps_the_record_paths_of_the_entries_after_it(eligible):
    from reasoner.record.facts import facts_of

    record = record_from_data(_later(eligible), "p.yaml", AS_OF)
    paths = {f.path for f in facts_of(record).facts if f.pred == "lab"}
    assert "labs[1]" not in paths and "labs[0]" in paths and f"labs[{len(eligible['labs']) - 1}]" in paths


def test_the_day_of_as_of_is_known_and_the_day_after_is_not(eligible):
    eligible["labs"][0]["date"] = "2026-11-23"
    assert record_from_data(eligible, "p.yaml", AS_OF).set_aside == ()
    eligible["labs"][0]["date"] = "2026-11-24"
    assert [e.path for e in record_from_data(eligible, "p.yaml", AS_OF).set_aside] == ["labs[0]"]


def test_strict_dates_refuses_instead(eligible):
    with pytest.raises(RecordError) as err:
        record_from_data(_later(eligible), "p.yaml", AS_OF, strict_dates=True)
    assert str(err.value).splitlines() == [
        'p.yaml: imaging[1].date: expected a date on or before the evaluation date 2026-11-23, got "2027-01-05"',
        'p.yaml: systemic_therapy[2].end: expected a date on or before the evaluation date 2026-11-23, got "2026-12-01"',
        'p.yaml: labs[1].date: expected a date on or before the evaluation date 2026-11-23, got "2026-11-24"']


def test_an_imaging_link_to_a_set_aside_regimen_is_not_an_unknown_reference(eligible):
    eligible["systemic_therapy"].append({"id": "M2", "drugs": ["letrozole"], "setting": "metastatic", "start": "2026-12-01"})
    eligible["imaging"].append({"id": "B2", "modality": "ct", "date": "2026-11-20", "purpose": "baseline", "regimen": "M2"})
    record = record_from_data(eligible, "p.yaml", AS_OF)
    assert [e.path for e in record.set_aside] == ["systemic_therapy[2]"]
    eligible["imaging"][-1]["regimen"] = "M3"
    assert any("imaging[1].regimen: expected the id of a regimen" in p for p in problems(eligible))
