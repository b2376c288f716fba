"""eligo check: summary first, --brief, several records, what-if --set, overlays --with (issue 15)."""

import json

from tests.conftest import ROOT
from tests.test_cli import eligo

PATIENTS = ROOT / "facts" / "patients"
INDET = str(PATIENTS / "indeterminate-taormina.yaml")
ELIG = str(PATIENTS / "eligible-taormina.yaml")
NEG_TEST = "reproductive.pregnancy_tests[+]={result: negative, date: 2026-11-20}"


def test_summary_comes_first_and_brief_prints_only_it():
    run = eligo("check", ELIG, "--as-of", "2026-11-23")
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Patient EX-001")
    taormina = next(i for i, line in enumerate(lines) if "TAORMINA" in line)
    assert taormina <= 7 and "ELIGIBLE" in lines[taormina] and "all 27 criteria met" in lines[taormina]
    brief = eligo("check", ELIG, "--as-of", "2026-11-23", "--brief")
    assert brief.stdout.splitlines() == lines[:len(brief.stdout.splitlines())]
    assert len(brief.stdout.splitlines()) == 7   # header + 6 trial/stage lines


def test_several_records_one_block_each_and_a_json_array():
    text = eligo("check", ELIG, INDET, "--trial", "taormina", "--as-of", "2026-11-23", "--brief")
    assert text.stdout.count("Patient ") == 2
    assert "INDETERMINATE  unknown I3, I12, I15, I16, E6" in text.stdout
    one = json.loads(eligo("check", ELIG, "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json").stdout)
    many = json.loads(eligo("check", ELIG, INDET, "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json").stdout)
    assert isinstance(one, dict) and one["schema_version"] == 2
    assert [d["patient"] for d in many] == ["EX-001", "EX-003"] and many[0] == one


def test_what_if_set_changes_the_verdict_and_says_so():
    before = json.loads(eligo("check", INDET, "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json").stdout)
    i16 = before["trials"][0]["criteria"][15]
    assert i16["id"] == "I16" and i16["outcome"] == "unknown" and before["overrides"] == []
    run = eligo("check", INDET, "--trial", "taormina", "--as-of", "2026-11-23", "--set", NEG_TEST,
                "--set", "dates.treatment_start=2026-11-30")
    assert run.stdout.startswith("what-if: reproductive.pregnancy_tests[+] = ")
    after = json.loads(eligo("check", INDET, "--trial", "taormina", "--as-of", "2026-11-23", "--set", NEG_TEST,
                             "--set", "dates.treatment_start=2026-11-30", "--format", "json").stdout)
    assert after["overrides"] == [
        {"path": "reproductive.pregnancy_tests[+]", "value": {"result": "negative", "date": "2026-11-20"}},
        {"path": "dates.treatment_start", "value": "2026-11-30"}]
    assert after["trials"][0]["criteria"][15]["outcome"] == "pass"


def test_what_if_is_validated_like_the_record():
    run = eligo("check", INDET, "--as-of", "2026-11-23", "--set", "labs[0].value=lots")
    assert run.returncode == 2 and "--set labs[0].value: labs[0].value: expected" in run.stderr
    run = eligo("check", INDET, "--as-of", "2026-11-23", "--set", "no-equals-sign")
    assert run.returncode == 2 and "expected PATH=VALUE" in run.stderr
    run = eligo("check", INDET, "--as-of", "2026-11-23", "--set", "labs[7].value=3")
    assert run.returncode == 2 and "no such place" in run.stderr and "Traceback" not in run.stderr


def test_overlay_adds_items_and_refuses_a_field_given_twice(tmp_path):
    overlay = tmp_path / "pet.yaml"
    overlay.write_text("imaging:\n  - {id: IMG9, modality: pet-ct, date: 2026-11-20, purpose: staging}\n")
    run = json.loads(eligo("check", INDET, "--trial", "taormina", "--as-of", "2026-11-23", "--with", str(overlay),
                           "--format", "json").stdout)
    assert run["overlays"] == [str(overlay)]
    assert run["trials"][0]["criteria"][2]["id"] == "I3" and run["trials"][0]["criteria"][2]["outcome"] == "pass"
    explain = eligo("explain", INDET, "--trial", "taormina", "--criterion", "I3", "--as-of", "2026-11-23", "--with", str(overlay))
    assert f"[{overlay}: imaging[2]]" in explain.stdout
    clash = tmp_path / "clash.yaml"
    clash.write_text("dates: {treatment_start: 2026-12-20}\n")
    run = eligo("check", INDET, "--as-of", "2026-11-23", "--with", str(clash))
    assert run.returncode == 2
    assert f"{clash}: dates.treatment_start: given both here and in {INDET}" in run.stderr
    same_id = tmp_path / "same.yaml"
    same_id.write_text("imaging:\n  - {id: IMG1, region: chest}\n")
    run = json.loads(eligo("check", INDET, "--trial", "taormina", "--as-of", "2026-11-23", "--with", str(same_id),
                           "--format", "json").stdout)
    assert run["trials"][0]["verdict"] == "indeterminate"
    bad = tmp_path / "bad.yaml"
    bad.write_text("imaging:\n  - {id: IMG1, modality: mri}\n")
    run = eligo("check", INDET, "--as-of", "2026-11-23", "--with", str(bad))
    assert run.returncode == 2 and f"{bad}: imaging[0].modality: given both here and in {INDET}" in run.stderr


def test_overlay_over_a_fhir_bundle_cites_the_overlay_and_the_fhir_resource(tmp_path):
    bundle = str(ROOT / "tests/data/fhir/mitre/ctm-app_TrialMatching_Patient01.json")
    overlay = tmp_path / "coordinator.yaml"
    overlay.write_text("diagnosis: {confirmation: histology}\n")
    run = eligo("explain", bundle, "--trial", "taormina", "--criterion", "I1", "--as-of", "2026-11-23", "--with", str(overlay))
    assert run.returncode == 0, run.stderr
    assert "I1 pass" in run.stdout
    assert f"diagnosis confirmed by: histology  [{overlay}: diagnosis.confirmation]" in run.stdout
    assert ": Condition/mCODETrialMatchingSecondaryCancerCondition03PatientExample01 code.coding[0]]" in run.stdout
