"""FHIR R4 / mCODE import: specific values per bundle, unknowns stay unknown, warnings name the resource."""

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from reasoner.errors import InputError
from reasoner.fhir.importer import import_fhir
from reasoner.fhir.therapy import Use, group
from reasoner.record.read import record_from_data

DATA = Path(__file__).resolve().parent / "data" / "fhir"
AS_OF = dt.date(2026, 11, 23)
APP = "mitre/ctm-app_TrialMatching_Patient01.json"
SERVICE = "mitre/ctm-service_patient_data.json"
INCOMPLETE = "mitre/ctm-service_patient_data_missing_birthdate_invalid_ecog_karnofsky.json"
NO_HISTOLOGY = "mitre/ctm-service_patient_data_missing_histology_morph.json"
ALL_FILES = sorted(str(p.relative_to(DATA)) for p in DATA.rglob("*.json"))


def load(name):
    return json.loads((DATA / name).read_text())


def imported(name_or_data, as_of=AS_OF):
    data = load(name_or_data) if isinstance(name_or_data, str) else name_or_data
    return import_fhir(data, "test.json", as_of)


def bundle(*resources, patient=True):
    entries = [{"resource": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-05-06"}}] if patient else []
    for res in resources:
        entries.append({"resource": dict(res, subject={"reference": "Patient/p1"})})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def obs(rid, loinc, **fields):
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]}, **fields}


def snomed(code):
    return {"coding": [{"system": "http://snomed.info/sct", "code": code}]}


def test_every_test_file_is_an_unmodified_copy():
    """SOURCES.md names where each file comes from; SHA256SUMS holds its hash as copied."""
    sums = dict(reversed(line.split("  ", 1)) for line in (DATA / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == ALL_FILES and len(ALL_FILES) == 32
    assert {f: hashlib.sha256((DATA / f).read_bytes()).hexdigest() for f in ALL_FILES} == sums


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_file_imports_into_a_valid_record(name):
    result = imported(name)
    record = record_from_data(result.record, name, AS_OF)   # raises if the record is invalid
    assert record.patient_id
    for path in result.record["sources"]:
        assert path.split(".")[0].split("[")[0] in result.record, path
    for warning in result.warnings:
        assert ": " in warning and "/" in warning.split(": ")[0] or warning.startswith(("staging", "test.json"))


def test_app_bundle_values():
    result = imported(APP)
    rec = result.record
    assert rec["patient"] == {"id": "mCODETrialMatchingPatientExample01", "name": "Patient B TrialMatching",
                              "sex": "female", "birth_date": dt.date(1959, 1, 1)}
    assert {k: v["status"] for k, v in rec["receptors"].items()} == {"er": "positive", "pgr": "positive", "her2": "negative"}
    assert [s["organ"] for s in rec["metastatic_sites"]] == ["bone", "liver"]
    assert rec["diagnosis"] == {"histology": "invasive ductal carcinoma", "invasive": True, "presentation": "de_novo"}
    assert rec["performance_status"] == [{"scale": "ecog", "value": 1, "date": dt.date(2019, 4, 1)}]
    assert rec["systemic_therapy"] == [
        {"id": "R1", "drugs": ["abemaciclib", "fulvestrant", "leuprorelin"], "setting": "metastatic",
         "start": dt.date(2019, 4, 1), "ongoing": True},
        {"id": "R2", "drugs": ["fulvestrant", "ribociclib"], "setting": "metastatic",
         "start": dt.date(2019, 6, 1), "ongoing": True}]
    assert rec["incomplete_sections"] == ["systemic_therapy", "performance_status"]
    assert rec["sources"]["receptors.her2.status"] == \
        "Observation/mCODETrialMatchingTumorMarker03PatientExample01 valueCodeableConcept.coding[0]"
    assert "metastases" not in rec   # per site, never per lesion
    assert any(w.startswith("Condition/mCODETrialMatchingSecondaryCancerConditionPatientExample01: regional lymph node")
               for w in result.warnings)


def test_service_bundle_values():
    result = imported(SERVICE)
    rec = result.record
    assert rec["metastatic_sites"] == [{"organ": "leptomeninges", "detected": dt.date(2017, 7, 21)}]
    assert rec["diagnosis"]["presentation"] == "recurrent"
    assert rec["diagnosis"]["metastatic_diagnosis_date"] == dt.date(2017, 7, 21)
    assert rec["diagnosis"]["histology"] == "malignant neoplasm"
    assert rec["receptors"] == {"er": {"status": "positive", "date": dt.date(2017, 7, 21)},
                                "her2": {"status": "positive", "date": dt.date(2017, 7, 21)}}
    assert rec["systemic_therapy"] == [{"id": "R1", "drugs": ["paclitaxel"], "setting": "metastatic",
                                        "start": dt.date(2017, 7, 28), "end": dt.date(2017, 9, 8), "ongoing": False}]
    assert [s["procedure"] for s in rec["surgery"]] == ["sentinel_node_biopsy"] * 3
    assert [r["date"] for r in rec["radiotherapy"]] == [dt.date(2018, 1, 24), dt.date(2018, 1, 26), dt.date(2018, 1, 27)]
    assert "performance_status" not in rec
    warnings = "\n".join(result.warnings)
    assert "MedicationStatement/6cb316ef-0e5a-4e33-9c03-6a9954150c91: duplicate of an earlier entry" in warnings
    assert "Observation/mCODEECOGPerformanceStatusExample: subject Patient/mCODEMassiveBioPatientExample1004 is not" in warnings
    assert "Observation/576e8b5e-4f9e-418c-842b-f86d6e7ce795: er: valueQuantity >=10 % is not an exact percentage" in warnings


def test_incomplete_bundle_leaves_unknowns_not_defaults():
    rec = imported(INCOMPLETE).record
    assert "birth_date" not in rec["patient"]
    assert "performance_status" not in rec and "receptors" not in rec and "metastatic_sites" not in rec
    assert set(rec) == {"schema_version", "patient", "primary_tumour", "sources"}


def test_invalid_ecog_and_karnofsky_are_skipped_with_reasons():
    data = load(INCOMPLETE)
    for entry in data["entry"]:
        entry["resource"]["subject"] = {"reference": "urn:uuid:1e208b6b-77f1-4808-a32b-9f9caf1ec334"}
    result = imported(data)
    assert "performance_status" not in result.record
    assert any(w.startswith("Observation/mCODEECOGPerformanceStatusExample: ecog score -1 not valid") for w in result.warnings)
    assert any(w.startswith("Observation/mCODEKarnofskyPerformanceStatusExample: karnofsky score -1") for w in result.warnings)


def test_histology_only_from_a_known_morphology():
    assert imported(SERVICE).record["diagnosis"]["histology"] == "malignant neoplasm"
    assert "histology" not in imported(NO_HISTOLOGY).record["diagnosis"]


@pytest.mark.parametrize("name, expected", [
    ("mcode-examples/Condition-mCODESecondaryCancerConditionExample01.json",
     {"metastatic_sites": [{"organ": "brain", "detected": dt.date(2019, 5, 1)}]}),
    ("mcode-examples/Observation-mCODEECOGPerformanceStatusExample01.json",
     {"performance_status": [{"scale": "ecog", "value": 0, "date": dt.date(2019, 4, 1)}]}),
    ("mcode-examples/Observation-mCODEKarnofskyPerformanceStatusExample01.json",
     {"performance_status": [{"scale": "karnofsky", "value": 90, "date": dt.date(2019, 4, 1)}]}),
    ("mcode-examples/Condition-mCODEComorbidConditionExample01.json",
     {"comorbidities": [{"condition": "diabetes", "status": "active", "date": dt.date(2018, 4, 1)}]}),
    ("mcode-examples/Procedure-mCODECancerRelatedRadiationProcedureExample01.json",
     {"radiotherapy": [{"id": "RT1", "date": dt.date(2019, 3, 1), "intent": "radical",
                        "target": "Structure of lower lobe of left lung (body structure)"}]}),
    ("mcode-examples/Patient-mCODEPatientExample02.json",
     {"patient": {"id": "mCODEPatientExample02", "name": "Eve A. Anyperson", "sex": "female",
                  "birth_date": dt.date(1955, 5, 20)}}),
])
def test_single_resources_make_partial_records(name, expected):
    rec = imported(name).record
    for key, value in expected.items():
        assert rec[key] == value
    if "patient" not in expected:
        assert rec["patient"] == {"id": "mCODEPatientExample01"}   # from the subject reference


@pytest.mark.parametrize("name, warning", [
    ("mcode-examples/Condition-mCODEPrimaryCancerConditionExample01.json", "primary cancer is not breast cancer"),
    ("mcode-examples/MedicationStatement-mCODECancerRelatedMedicationStatementExample01.json",
     "medication not in facts/reference/drugs.yaml (rxnorm 349472"),
    ("mcode-examples/Organization-mCODEOrganizationExample01.json", "Organization carries nothing Eligo reads"),
    ("mcode-examples/Procedure-mCODECancerRelatedSurgicalProcedureExample01.json", "procedure code not mapped"),
])
def test_unusable_resources_are_reported_by_id(name, warning):
    result = imported(name)
    rid = load(name)["id"]
    assert any(w.startswith(f"{load(name)['resourceType']}/{rid}: {warning}") for w in result.warnings)


def test_errors_for_non_fhir_and_several_patients():
    with pytest.raises(InputError, match="expected a FHIR R4 resource or Bundle"):
        import_fhir({"schema_version": 1, "patient": {"id": "x"}}, "r.json", AS_OF)
    two = bundle()
    two["entry"].append({"resource": {"resourceType": "Patient", "id": "p2"}})
    with pytest.raises(InputError, match="2 Patient resources"):
        import_fhir(two, "b.json", AS_OF)
    with pytest.raises(InputError, match="Bundle.entry: expected a list"):
        import_fhir({"resourceType": "Bundle", "entry": {}}, "b.json", AS_OF)


def test_unknown_resource_type_is_a_warning():
    result = imported(bundle({"resourceType": "Foo", "id": "f1"}))
    assert result.warnings == ["Foo/f1: Foo carries nothing Eligo reads: skipped"]


def lab(rid, value, unit, **fields):
    fields.setdefault("effectiveDateTime", "2026-11-01")
    return obs(rid, "1975-2", valueQuantity={"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                                             "code": unit}, **fields)


def test_labs_keep_their_ucum_unit_and_reference_range():
    result = imported(bundle(lab("b1", 17.1, "umol/L", referenceRange=[{"high": {"value": 20.5, "code": "umol/L"},
                                                                         "low": {"value": 3.4, "code": "umol/L"}}])))
    assert result.record["labs"] == [{"test": "bilirubin", "value": 17.1, "unit": "umol/L", "date": dt.date(2026, 11, 1),
                                      "uln": 20.5, "lln": 3.4}]
    assert result.record["sources"]["labs[0].uln"] == "Observation/b1 referenceRange[0].high.value"


def test_a_refused_unit_skips_that_lab_only():
    result = imported(bundle(lab("b1", 1.0, "kg"), lab("b2", 0.8, "mg/dL", effectiveDateTime="2026-11-02")))
    assert [entry["unit"] for entry in result.record["labs"]] == ["mg/dL"]
    assert any(w.startswith("Observation/b1: bilirubin: labs[].unit: expected a unit convertible to mg/dL") for w in result.warnings)


def test_inexact_values_are_skipped_and_future_ones_set_aside_as_in_a_yaml_record():
    comparator = lab("b1", 0.5, "mg/dL")
    comparator["valueQuantity"]["comparator"] = "<"
    result = imported(bundle(comparator, lab("b2", 0.8, "mg/dL", effectiveDateTime="2027-01-01"),
                             lab("b3", 0.7, "mg/dL", effectiveDateTime="2026-11-23")))
    assert any(w.startswith("Observation/b1: bilirubin: value <0.5 is not exact") for w in result.warnings)
    assert not any(w.startswith("Observation/b2") for w in result.warnings)
    record = record_from_data(result.record, "test.json", AS_OF)
    assert [lab["date"] for lab in record.data["labs"]] == [dt.date(2026, 11, 23)]
    assert [(e.path, e.date) for e in record.set_aside] == [("labs[1]", dt.date(2027, 1, 1))]
    assert record.set_aside[0].why == "date after --as-of 2026-11-23 (Observation/b2)"
    with pytest.raises(InputError, match=r"labs\[1\]\.date: expected a date on or before the evaluation date 2026-11-23"):
        record_from_data(result.record, "test.json", AS_OF, strict_dates=True)


def test_a_receptor_result_after_as_of_gives_way_to_the_latest_known_one():
    later = obs("e1", "16112-5", effectiveDateTime="2026-12-01", valueCodeableConcept=snomed("260385009"))
    earlier = obs("e2", "16112-5", effectiveDateTime="2026-10-01", valueCodeableConcept=snomed("10828004"))
    result = imported(bundle(later, earlier))
    assert result.record["receptors"] == {"er": {"status": "positive", "date": dt.date(2026, 10, 1)}}
    assert "Observation/e1: er: dated 2026-12-01, after --as-of 2026-11-23: set aside (an earlier result is used)" in result.warnings
    alone = imported(bundle(later))
    record = record_from_data(alone.record, "test.json", AS_OF)
    assert "receptors" not in record.data or "er" not in record.data["receptors"]
    assert [(e.path, e.why) for e in record.set_aside] == [("receptors.er", "date after --as-of 2026-11-23 (Observation/e1)")]


def test_receptor_results_of_one_day_that_disagree_are_left_out():
    pos = obs("h1", "48676-1", effectiveDateTime="2020-01-01", valueCodeableConcept=snomed("10828004"))
    neg = obs("h2", "85319-2", effectiveDateTime="2020-01-01", valueCodeableConcept=snomed("260385009"))
    later = obs("e1", "16112-5", effectiveDateTime="2021-01-01", valueCodeableConcept=snomed("260385009"))
    earlier = obs("e2", "16112-5", effectiveDateTime="2020-01-01", valueCodeableConcept=snomed("10828004"))
    result = imported(bundle(pos, neg, later, earlier))
    assert result.record["receptors"] == {"er": {"status": "negative", "date": dt.date(2021, 1, 1)}}
    assert any(w.startswith("Observation/h1: her2: results of the same date disagree") for w in result.warnings)
    assert "Observation/e2: er: Observation/e1 (newer or same date) is used instead" in result.warnings


def test_pregnancy_status_only_when_recent_and_tests_when_dated():
    status = {"coding": [{"system": "http://loinc.org", "code": "LA26683-5"}]}
    recent = obs("s1", "82810-3", effectiveDateTime="2026-11-20", valueCodeableConcept=status)
    old = obs("s2", "82810-3", effectiveDateTime="2026-01-01", valueCodeableConcept=status)
    test = obs("t1", "2106-3", effectiveDateTime="2026-11-20", valueCodeableConcept=snomed("260385009"))
    result = imported(bundle(recent, old, test))
    assert result.record["reproductive"] == {"pregnancy_tests": [{"date": dt.date(2026, 11, 20), "result": "negative"}],
                                             "pregnant": False}
    assert any(w.startswith("Observation/s2: pregnancy status of 2026-01-01 is more than 30 days") for w in result.warnings)
    assert "reproductive.pregnancy_tests" in result.record["incomplete_sections"]


def test_hiv_and_hbs_antigen_results_become_assays_without_a_laboratory():
    """FHIR does not say whether a laboratory was the trial's central one: laboratory stays out."""
    hiv = obs("h1", "75622-1", effectiveDateTime="2026-11-16", valueCodeableConcept=snomed("260385009"))
    positive = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "POS"}]}
    hbs = obs("h2", "5196-1", effectiveDateTime="2026-11-10", interpretation=[positive])
    unsure = obs("h3", "7917-8", effectiveDateTime="2026-11-12", valueCodeableConcept=snomed("82334004"))
    equivocal = obs("h4", "7917-8", effectiveDateTime="2026-11-13", valueCodeableConcept=snomed("42425007"))
    result = imported(bundle(hiv, hbs, unsure, equivocal))
    assert result.record["assays"] == [
        {"test": "hbs_antigen", "result": "positive", "date": dt.date(2026, 11, 10)},
        {"test": "hiv", "result": "indeterminate", "date": dt.date(2026, 11, 12)},
        {"test": "hiv", "result": "negative", "date": dt.date(2026, 11, 16)},
    ]
    assert result.record["sources"]["assays[2].result"] == "Observation/h1 valueCodeableConcept.coding[0]"
    assert any(w.startswith("Observation/h4: hiv assay:") for w in result.warnings)
    assert "assays" in result.record["incomplete_sections"]   # absent results are no evidence


def medication(rid, rxnorm, date, status="completed"):
    return {"resourceType": "MedicationStatement", "id": rid, "status": status, "effectiveDateTime": date,
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": rxnorm}]}}


def secondary(rid, code, onset):
    return {"resourceType": "Condition", "id": rid, "code": snomed(code), "onsetDateTime": onset}


def test_regimens_group_by_day_merge_cycles_and_need_a_metastatic_date():
    result = imported(bundle(
        secondary("m1", "94381002", "2020-03-01"),
        medication("a1", "3639", "2019-01-10"),                 # before metastasis: setting not stated
        medication("d1", "72962", "2020-04-01"), medication("t1", "224905", "2020-04-01"),
        medication("d2", "72962", "2020-04-22"), medication("t2", "224905", "2020-04-22"),   # next cycle
        medication("t3", "224905", "2020-06-01", status="active"),                         # de-escalation
        medication("x1", "999999", "2020-06-01")))
    regimens = result.record["systemic_therapy"]
    assert [(r["id"], r["drugs"], r["start"], r.get("end"), r["ongoing"]) for r in regimens] == [
        ("R1", ["docetaxel", "trastuzumab"], dt.date(2020, 4, 1), dt.date(2020, 4, 22), False),
        ("R2", ["trastuzumab"], dt.date(2020, 6, 1), None, True)]
    warnings = "\n".join(result.warnings)
    assert "MedicationStatement/a1: regimen doxorubicin from 2019-01-10: starts before metastatic disease" in warnings
    assert "MedicationStatement/x1: medication not in facts/reference/drugs.yaml (rxnorm 999999)" in warnings


def test_group_keeps_a_regimen_that_adds_a_drug_separate():
    def use(drug, day):
        return Use(drug, dt.date(2020, 1, day), None, "completed", "", "", None, "", type("R", (), {"label": drug})())
    regimens = group([use("letrozole", 1), use("letrozole", 2), use("palbociclib", 2)])
    assert [r.drugs for r in regimens] == [["letrozole"], ["letrozole", "palbociclib"]]


def test_subject_of_another_patient_is_skipped():
    data = bundle(obs("e1", "89247-1", effectiveDateTime="2026-11-01", valueInteger=1))
    data["entry"][1]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    result = imported(data)
    assert "performance_status" not in result.record
    assert result.warnings == ["Observation/e1: subject Patient/someone-else is not this bundle's patient (p1): skipped"]


def test_every_imported_field_has_a_source():
    rec = imported(SERVICE).record

    def leaves(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                yield from leaves(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for i, item in enumerate(value):
                yield from leaves(item, f"{path}[{i}]")
        else:
            yield path
    body = copy.deepcopy(rec)
    for key in ("sources", "schema_version", "incomplete_sections"):
        body.pop(key)
    missing = [p for p in leaves(body, "") if p not in rec["sources"]
               and not any(s.startswith(p + "[") for s in rec["sources"])]
    assert missing == []
