"""Facts and lib rules added for OLIGAMI and NCT04158843: whole-month intervals computed in
facts.py (disease-free interval, comorbidity age, years since another cancer's treatment), the
new record fields, ULN limits in percent and the latest ECOG up to a registration date."""

import datetime as dt

import pytest

from reasoner.logic.engine import PATIENT, engine
from reasoner.record.facts import facts_of, months_between
from reasoner.record.read import record_from_data
from tests.conftest import AS_OF


def facts(data, as_of=AS_OF):
    return facts_of(record_from_data(data, "p.yaml", as_of))


def values(pf, pred):
    return sorted((f.args, f.path) for f in pf.facts if f.pred == pred)


def gaps(pf, pred):
    return sorted(g.path for g in pf.gaps if g.pred == pred)


def ask(data, pred, *args):
    record = record_from_data(data, "lib.yaml", AS_OF)
    with engine().patient(record) as session:
        rows = session.query(pred, (PATIENT,) + args)
    return sorted(tuple(row[1:]) for row in rows)


@pytest.mark.parametrize("start, end, months", [
    ("2025-08-10", "2026-08-10", 12),     # the same day of the month completes the month
    ("2025-08-11", "2026-08-10", 11),
    ("2026-01-31", "2026-02-28", 0),      # no 31st in February: the month is not complete
    ("2026-01-31", "2026-03-31", 2),
    ("2026-08-10", "2026-08-10", 0),
    ("2026-08-10", "2025-08-10", -12),    # end before start: negative
    ("2026-08-10", "2026-08-05", 0),      # less than a month either way
])
def test_months_between(start, end, months):
    assert months_between(dt.date.fromisoformat(start), dt.date.fromisoformat(end)) == months


def test_months_from_treatment_to_metastatic_diagnosis():
    data = {"schema_version": 1, "patient": {"id": "F1"},
            "diagnosis": {"metastatic_diagnosis_date": "2026-08-10"},
            "systemic_therapy": [
                {"id": "A", "drugs": ["docetaxel"], "setting": "adjuvant", "start": "2025-05-01", "end": "2025-08-11"},
                {"id": "B", "drugs": ["trastuzumab"], "setting": "adjuvant", "start": "2026-01-01", "ongoing": True}],
            "surgery": [{"id": "S", "procedure": "mastectomy", "date": "2024-08-10"},
                        {"id": "T", "procedure": "biopsy"}]}
    pf = facts(data)
    assert values(pf, "regimen_end_months_to_metastasis") == [(("A", 11), "systemic_therapy[0].end")]
    assert gaps(pf, "regimen_end_months_to_metastasis") == ["systemic_therapy[1].end"]
    assert values(pf, "surgery_months_to_metastasis") == [(("S", 24), "surgery[0].date")]
    assert gaps(pf, "surgery_months_to_metastasis") == ["surgery[1].date"]


def test_without_a_metastatic_diagnosis_date_the_interval_is_a_gap_naming_it():
    data = {"schema_version": 1, "patient": {"id": "F2"},
            "surgery": [{"id": "S", "procedure": "mastectomy", "date": "2024-08-10"}]}
    pf = facts(data)
    assert values(pf, "surgery_months_to_metastasis") == []
    assert gaps(pf, "surgery_months_to_metastasis") == ["diagnosis.metastatic_diagnosis_date"]


def _on(pf, pred, when):
    """The facts of pred counted to the day `when` (YYYY-MM-DD), without the day argument."""
    day = dt.date.fromisoformat(when).toordinal()
    return [(args[:-2] + args[-1:], path) for args, path in values(pf, pred) if args[-2] == day]


def _days(pf, pred):
    return sorted({dt.date.fromordinal(args[-2]).isoformat() for args, _ in values(pf, pred)})


def test_other_malignancy_treatment_years_and_recorded_treatments():
    data = {"schema_version": 1, "patient": {"id": "F3"}, "dates": {"registration": "2026-12-01"},
            "other_malignancies": [
                {"id": "X", "category": "invasive", "treatment_end": "2021-12-01", "treatments": []},
                {"id": "Y", "category": "invasive", "treatment_end": "2021-12-02"}]}
    pf = facts(data)
    # counted to the registration date (2026-12-01) and to --as-of (2026-11-23), the bound a trial
    # date not recorded cannot be before; to no other day
    assert _days(pf, "malignancy_treatment_years_at") == ["2026-11-23", "2026-12-01"]
    assert _on(pf, "malignancy_treatment_years_at", "2026-12-01") == [
        (("X", 5), "other_malignancies[0].treatment_end"), (("Y", 4), "other_malignancies[1].treatment_end")]
    assert _on(pf, "malignancy_treatment_years_at", "2026-11-23") == [
        (("X", 4), "other_malignancies[0].treatment_end"), (("Y", 4), "other_malignancies[1].treatment_end")]
    assert gaps(pf, "malignancy_treatment_years_at") == []
    assert values(pf, "malignancy_treatments_recorded") == [(("X",), "other_malignancies[0].treatments")]
    assert gaps(pf, "malignancy_treatments_recorded") == ["other_malignancies[1].treatments"]


def test_comorbidity_months_and_nyha_class():
    data = {"schema_version": 1, "patient": {"id": "F4"}, "dates": {"registration": "2026-11-22"},
            "comorbidities": [{"condition": "myocardial_infarction", "date": "2026-05-23"},
                              {"condition": "heart_failure", "nyha_class": 2}]}
    pf = facts(data)
    assert _on(pf, "comorbidity_months_at", "2026-11-22") == [(("c1", 5), "comorbidities[0].date")]
    assert _on(pf, "comorbidity_months_at", "2026-11-23") == [(("c1", 6), "comorbidities[0].date")]
    assert values(pf, "comorbidity_nyha") == [(("c2", 2), "comorbidities[1].nyha_class")]
    assert gaps(pf, "comorbidity_months_at") == ["comorbidities[1].date"]


@pytest.mark.parametrize("birth, registration, exact, bound", [
    ("1946-08-24", "2026-08-24", 80, 80),     # 80th birthday on the registration date
    ("1945-11-23", "2026-08-24", 80, 81),     # 80 at registration though 81 on --as-of
    ("1945-08-24", "2026-08-24", 81, 81),     # 81st birthday on the registration date
    ("2008-11-23", None, None, 18),           # no registration date: only --as-of
    ("2008-11-24", None, None, 17),
])
def test_age_is_counted_to_each_trial_date_and_to_as_of(birth, registration, exact, bound):
    data = {"schema_version": 1, "patient": {"id": "F5", "birth_date": birth}}
    if registration:
        data["dates"] = {"registration": registration}
    pf = facts(data)
    assert _on(pf, "age_at", "2026-08-24") == ([((exact,), "patient.birth_date")] if exact is not None else [])
    assert _on(pf, "age_at", AS_OF.isoformat()) == [((bound,), "patient.birth_date")]
    assert not gaps(pf, "age_at")


def test_a_trial_s_own_date_is_a_reference_day_of_its_own():
    data = {"schema_version": 1, "patient": {"id": "F7", "birth_date": "1945-08-25"},
            "dates": {"registration": "2026-12-01", "by_trial": {"oligami": {"registration": "2026-08-24"}}}}
    pf = facts(data)
    assert values(pf, "trial_planned") == [
        (("oligami", "registration", dt.date(2026, 8, 24).toordinal()), "dates.by_trial.oligami.registration")]
    assert values(pf, "planned") == [(("registration", dt.date(2026, 12, 1).toordinal()), "dates.registration")]
    assert _days(pf, "age_at") == ["2026-08-24", "2026-11-23", "2026-12-01"]
    assert _on(pf, "age_at", "2026-08-24") == [((80,), "patient.birth_date")]   # her 81st birthday is the day after
    assert _on(pf, "age_at", "2026-12-01") == [((81,), "patient.birth_date")]


def test_one_record_two_trials_each_on_its_own_date():
    """The 80th year on OLIGAMI's registration day, the 81st on TAORMINA's: each trial counts to its own."""
    from reasoner.pipeline import judge
    from reasoner.pipeline import record_from_data as validated

    def outcomes(data):
        return {(v.trial.id, c.id): c.outcome for v in judge(validated(data, "p.yaml", AS_OF)).verdicts for c in v.criteria}

    data = {"schema_version": 1, "patient": {"id": "F8", "birth_date": "1945-08-25", "sex": "female"},
            "dates": {"registration": "2026-12-01", "by_trial": {"oligami": {"registration": "2026-08-24"}}}}
    found = outcomes(data)
    assert found[("oligami", "P9")] == "pass"          # 80 on 2026-08-24
    assert found[("taormina", "I2")] == "pass"         # 81 on 2026-12-01, >= 18
    del data["dates"]["by_trial"]
    assert outcomes(data)[("oligami", "P9")] == "fail"          # 81 on the shared 2026-12-01


def test_nyha_class_must_be_1_to_4():
    from reasoner.errors import RecordError

    with pytest.raises(RecordError, match=r"comorbidities\[0\]\.nyha_class"):
        facts({"schema_version": 1, "patient": {"id": "F5"}, "comorbidities": [{"condition": "heart_failure", "nyha_class": 5}]})


def test_other_trials_imaging_and_lesion_fields_become_facts():
    data = {"schema_version": 1, "patient": {"id": "F6"},
            "other_trials": [{"id": "T1", "start": "2026-01-01", "end": "2026-06-30"}, {"id": "T2", "ongoing": True}],
            "imaging": [{"id": "I1", "modality": "mri", "date": "2026-08-01", "region": "brain", "contrast": True},
                        {"id": "I2", "modality": "ct", "date": "2026-11-01", "response": "sd"}],
            "metastases": [{"id": "M1", "organ": "liver", "present": False}]}
    pf = facts(data)
    assert [a for a, _ in values(pf, "other_trial")] == [("T1",), ("T2",)]
    assert values(pf, "other_trial_end") == [(("T1", dt.date(2026, 6, 30).toordinal()), "other_trials[0].end")]
    assert values(pf, "other_trial_ongoing") == [(("T2", True), "other_trials[1].ongoing")]
    assert values(pf, "imaging_region") == [(("I1", "brain"), "imaging[0].region")]
    assert values(pf, "imaging_contrast") == [(("I1", True), "imaging[0].contrast")]
    assert values(pf, "imaging_response") == [(("I2", "sd"), "imaging[1].response")]
    assert values(pf, "lesion_present") == [(("M1", False), "metastases[0].present")]
    assert ("other_trials",) in [f.args for f in pf.facts if f.pred == "recorded"]


@pytest.mark.parametrize("value, at_most_125, above_125", [
    (1.25, True, False),    # exactly 1.25 x ULN: at most
    (1.26, False, True),
    (0.50, True, False),
])
def test_uln_percent_limits_are_inclusive_with_a_strict_complement(value, at_most_125, above_125):
    data = {"schema_version": 1, "patient": {"id": "L1"},
            "labs": [{"test": "bilirubin", "value": value, "unit": "mg/dL", "uln": 1.0, "date": "2026-11-20"}]}
    assert bool(ask(data, "lab_at_most_uln_pct", "bilirubin", 125)) is at_most_125
    assert bool(ask(data, "lab_above_uln_pct", "bilirubin", 125)) is above_125


def test_uln_percent_needs_the_uln():
    data = {"schema_version": 1, "patient": {"id": "L2"},
            "labs": [{"test": "bilirubin", "value": 3.0, "unit": "mg/dL", "date": "2026-11-20"}]}
    assert ask(data, "lab_at_most_uln_pct", "bilirubin", 150) == []
    assert ask(data, "lab_above_uln_pct", "bilirubin", 150) == []


def test_latest_ecog_by_a_planned_date_ignores_later_assessments():
    data = {"schema_version": 1, "patient": {"id": "L3"},
            "dates": {"registration": "2026-08-24", "secondary_registration": "2026-11-30"},
            "performance_status": [{"scale": "ecog", "value": 0, "date": "2026-08-17"},
                                   {"scale": "who", "value": 1, "date": "2026-08-24"},
                                   {"scale": "ecog", "value": 0, "date": "2026-08-24"},
                                   {"scale": "ecog", "value": 2, "date": "2026-08-25"}]}
    reg, later, second = (dt.date(2026, 8, 24).toordinal(), dt.date(2026, 8, 25).toordinal(), dt.date(2026, 11, 30).toordinal())
    assert ask(data, "latest_ecog_by", reg, None, None) == [(reg, 1, reg)]
    assert ask(data, "latest_ecog_by", second, None, None) == [(second, 2, later)]


def test_latest_ecog_by_a_trial_s_own_date():
    data = {"schema_version": 1, "patient": {"id": "L5"},
            "dates": {"by_trial": {"oligami": {"registration": "2026-08-24"}}},
            "performance_status": [{"scale": "ecog", "value": 0, "date": "2026-08-17"},
                                   {"scale": "ecog", "value": 2, "date": "2026-08-25"}]}
    reg, first = dt.date(2026, 8, 24).toordinal(), dt.date(2026, 8, 17).toordinal()
    assert ask(data, "latest_ecog_by", reg, None, None) == [(reg, 0, first)]


def test_latest_ecog_by_without_a_planned_date_counts_to_as_of_only():
    """No trial date recorded: the only reference day is --as-of, the earliest a trial date can be."""
    data = {"schema_version": 1, "patient": {"id": "L4"},
            "performance_status": [{"scale": "ecog", "value": 0, "date": "2026-08-17"}]}
    assert ask(data, "latest_ecog_by", None, None, None) == [(AS_OF.toordinal(), 0, dt.date(2026, 8, 17).toordinal())]
    data["dates"] = {"registration": "2026-08-16"}   # every date recorded but this one: --as-of stays a day
    assert ask(data, "latest_ecog_by", dt.date(2026, 8, 16).toordinal(), None, None) == []
