"""`eligo import-fhir` and `eligo check` on FHIR input; metastatic sites and incomplete lists in the rules."""

import copy
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import outcomes

from reasoner.cli.main import main
from reasoner.fhir import codes as fhir_codes

DATA = Path(__file__).resolve().parent / "data" / "fhir"
APP = str(DATA / "mitre" / "ctm-app_TrialMatching_Patient01.json")
SERVICE = str(DATA / "mitre" / "ctm-service_patient_data.json")
INCOMPLETE = str(DATA / "mitre" / "ctm-service_patient_data_missing_birthdate_invalid_ecog_karnofsky.json")
BRAIN = str(DATA / "mcode-examples" / "Condition-mCODESecondaryCancerConditionExample01.json")


def run(*args):
    return CliRunner().invoke(main, [*args, "--as-of", "2026-11-23"])


def check(path):
    result = run("check", path, "--format", "json", "--trial", "taormina")
    assert result.exit_code == 0, result.output
    trial = json.loads(result.stdout)["trials"][0]
    return trial["verdict"], {c["id"]: (c["outcome"], c.get("missing", [])) for c in trial["criteria"]}


def test_import_fhir_writes_a_record_check_accepts(tmp_path):
    out = tmp_path / "record.yaml"
    result = run("import-fhir", APP, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "warning: Observation/mCODETrialMatchingCancerGeneticVariantPatientExample01: observation code not mapped" \
        in result.stderr
    record = yaml.safe_load(out.read_text())
    assert record["receptors"]["her2"] == {"status": "negative"}
    assert run("check", str(out)).exit_code == 0


def test_import_fhir_to_stdout_and_json(tmp_path):
    result = run("import-fhir", SERVICE)
    assert result.exit_code == 0
    assert "organ: leptomeninges" in result.stdout and "&id" not in result.stdout   # no YAML aliases
    out = tmp_path / "record.json"
    assert run("import-fhir", SERVICE, "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text())["diagnosis"]["metastatic_diagnosis_date"] == "2017-07-21"


def test_check_reads_bundles_directly():
    verdict, criteria = check(APP)
    assert verdict == "indeterminate"
    assert criteria["I2"][0] == "pass" and criteria["I7"][0] == "pass" and criteria["I9"][0] == "pass"
    assert criteria["E2"] == ("unknown", ["metastases"])          # bone and liver sites: no CNS, lesion list unknown
    # lesion counts stay unknown, and the bundle has no imaging study (a PET-CT is asked for)
    assert criteria["I3"] == ("unknown", ["imaging", "metastases"])
    assert criteria["I4"][0] == "unknown" and "systemic_therapy" in criteria["I4"][1]   # the list may be partial


def test_a_leptomeningeal_site_excludes_for_taormina():
    verdict, criteria = check(SERVICE)
    assert verdict == "ineligible"
    assert criteria["E2"][0] == "fail"
    assert criteria["I7"] == ("unknown", ["performance_status"])   # the ECOG is another patient's


def test_incomplete_bundle_reports_what_is_missing():
    verdict, criteria = check(INCOMPLETE)
    assert verdict == "indeterminate"
    assert criteria["I2"] == ("unknown", ["dates.registration", "patient.birth_date"])   # age on the registration date
    assert criteria["I7"] == ("unknown", ["performance_status"])
    assert criteria["I9"] == ("unknown", ["receptors.er", "receptors.her2", "receptors.pgr"])
    assert all(outcome == "unknown" for outcome, _missing in criteria.values())


def test_single_brain_metastasis_resource_fails_e2():
    _verdict, criteria = check(BRAIN)
    assert criteria["E2"][0] == "fail"


@pytest.mark.parametrize("text, message", [
    ('{"resourceType": "Bundle", ', "invalid JSON"),
    ("[1, 2]", "expected a mapping of record sections"),
])
def test_bad_json_is_exit_2(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    for command in ("import-fhir", "check"):
        result = run(command, str(path))
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_import_fhir_refuses_a_record_that_is_not_fhir(tmp_path):
    path = tmp_path / "record.json"
    path.write_text('{"schema_version": 1, "patient": {"id": "x"}}')
    result = run("import-fhir", str(path))
    assert result.exit_code == 2
    assert "expected a FHIR R4 resource or Bundle (a JSON object with resourceType)" in result.stderr
    assert run("check", str(path)).exit_code == 0   # check still reads it as a record


def test_unknown_resource_is_a_warning_not_an_error(tmp_path):
    path = tmp_path / "foo.json"
    path.write_text('{"resourceType": "Foo", "id": "f1"}')
    result = run("check", str(path))
    assert result.exit_code == 0
    assert "warning: Foo/f1: Foo carries nothing Eligo reads: skipped" in result.stderr


def test_metastatic_sites_decide_e2_but_not_lesion_counts(eligible):
    record = copy.deepcopy(eligible)
    del record["metastases"]
    record["metastatic_sites"] = [{"organ": "brain"}, {"organ": "liver"}]
    result = outcomes(record)
    assert result["E2"] == "fail" and result["I3"] == "unknown" and result["I10"] == "unknown"
    record["metastatic_sites"] = [{"organ": "bone"}]
    result = outcomes(record)
    assert result["E2"] == "unknown" and result["I14"] == "unknown" and result["I1"] == "pass"


def test_sites_with_a_complete_lesion_list_must_agree(eligible):
    eligible["metastatic_sites"] = [{"organ": "liver"}, {"organ": "bone"}]
    assert outcomes(eligible)["verdict"] == "eligible"   # consistent: nothing changes
    eligible["metastatic_sites"].append({"organ": "brain"})
    with pytest.raises(Exception, match=r"metastatic_sites\[2\]\.organ: expected an organ with a lesion in metastases"):
        outcomes(eligible)


def test_incomplete_sections_are_not_evidence_of_absence(eligible):
    assert outcomes(eligible)["I4"] == "pass"            # systemic_therapy given: no metastatic regimen
    eligible["incomplete_sections"] = ["systemic_therapy"]
    result = outcomes(eligible)
    assert result["I4"] == "unknown" and "systemic_therapy" in result["missing"]["I4"]


def test_mapping_doc_lists_every_code():
    assert fhir_codes.main(["--check-doc"]) == 0
    text = fhir_codes.DOC.read_text()
    for table, systems in fhir_codes.tables().items():
        if table not in ("systems", "source"):
            for codes in systems.values():
                assert all(f"`{code}`" in text for code in codes), table
