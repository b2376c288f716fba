"""Input integrity (issue 13): values read as written, references that must match, one reader with
one set of guards for every input path, and only regular files read. The CLI side of each class is
in the bad-input catalogue (docs/errors.md); these are the unit tests behind it."""

import copy
import json
import os
import socket
import subprocess
import sys
import threading

import pytest
import yaml
from click.testing import CliRunner

from reasoner.authoring.cases import LineLoader, case_record, load_cases
from reasoner.cli.main import main
from reasoner.errors import InputError, RecordError
from reasoner.fhir.importer import import_fhir, input_kind
from reasoner.logic.rulebook import build, rulebook
from reasoner.pipeline import load_input, record_from_data
from reasoner.record import read
from reasoner.record.reference import reference
from reasoner.record.units import factor
from reasoner.screen.cohort import Item, judge_item, open_items, parse_line
from tests.conftest import AS_OF, EXAMPLE, ROOT
from tests.tiny_rules import TRIAL, write_tiny

H = "schema_version: 1\npatient: {id: P1}\n"


def parsed(text, name="r.yaml"):
    return read.parse_text(text.encode(), name)


def validated(text, name="r.yaml"):
    return read.validate(parsed(text, name), name, AS_OF, criteria=rulebook().criteria_catalogue()).data


def problems(text):
    with pytest.raises(RecordError) as err:
        validated(text)
    return str(err.value)


# --- 1. YAML values are read as written ----------------------------------------------------------

@pytest.mark.parametrize("written, value", [("034", 34), ("0034", 34), ("08", 8), ("1e3", 1000.0), ("2E2", 200.0), ("-0e0", 0.0)])
def test_decimal_forms_are_read_in_base_10(written, value):
    data = parsed(H + f"metastases: [{{id: M1, organ: liver, size_mm: {written}}}]")
    assert data["metastases"][0]["size_mm"] == value
    assert validated(H + f"metastases: [{{id: M1, organ: liver, size_mm: {written}}}]")["metastases"][0]["size_mm"] == value


@pytest.mark.parametrize("written", ["1:30", "0x1F", "0b101", "1_000", ".inf", "-.inf", ".nan", ".NaN", "017_0", "1_0.5"])
def test_other_number_forms_stay_text_and_a_number_field_refuses_them_quoted(written):
    assert parsed(H + f"x: {written}")["x"] == written
    assert f'metastases[0].size_mm: expected a number >= 0 and <= 1000, got "{written}"' in \
        problems(H + f"metastases: [{{id: M1, organ: liver, size_mm: {written}}}]")


def test_zero_padded_and_sexagesimal_are_not_octal_or_base_60():
    """The issue's cases: 034 was read as 28 (octal), 1:30 as 90 (base 60)."""
    data = validated(H + "metastases: [{id: M1, organ: liver, size_mm: 034}]\nassessment: {life_expectancy_months: 010}")
    assert data["metastases"][0]["size_mm"] == 34 and data["assessment"]["life_expectancy_months"] == 10


@pytest.mark.parametrize("written", ["NO", "no", "yes", "Yes", "on", "OFF", "1.10", "2026-11-23"])
def test_text_fields_keep_the_text_as_written(written):
    data = validated(f"schema_version: 1\npatient: {{id: {written}, name: {written}}}")
    assert data["patient"]["id"] == written and data["patient"]["name"] == written


@pytest.mark.parametrize("written", ["yes", "no", "on", "off", "NO"])
def test_booleans_are_only_true_and_false(written):
    assert f'consent.signed: expected true or false, got "{written}"' in problems(H + f"consent: {{signed: {written}}}")
    for word, value in (("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False)):
        assert validated(H + f"consent: {{signed: {word}}}")["consent"]["signed"] is value


@pytest.mark.parametrize("key", ["on", "yes", "1", "null", "true", "2026-01-01", "0x1F"])
def test_keys_are_the_text_written(key):
    data = parsed(H + f"findings: {{{key}: true}}")
    assert list(data["findings"]) == [key]
    assert f"findings.{key}: expected a known key" in problems(H + f"findings: {{{key}: true}}")


def test_a_key_written_twice_in_two_spellings_is_a_duplicate():
    with pytest.raises(InputError, match="key 'on' appears twice"):
        parsed(H + "findings: {on: true, 'on': false}")


@pytest.mark.parametrize("written", ["2026-1-5", "2026-11-18T10:00:00", "2026-11-18 10:00:00", "2026-11-18t10:00:00Z"])
def test_dates_are_yyyy_mm_dd_only(written):
    assert f'consent.date: expected a real date as YYYY-MM-DD, got "{written}"' in problems(H + f"consent: {{date: {written}}}")


def test_explicit_tags_cannot_bring_back_yaml_1_1_forms():
    for text, message in (("x: !!int 0x1F", "'0x1F' is not a decimal whole number"), ("x: !!bool yes", "'yes' is not true or false"),
                          ("x: !!float .inf", "'.inf' is not a decimal number"), ("x: !!timestamp 2026-01-01", "tag !!timestamp")):
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
            parsed(H + text)


def test_rule_test_files_read_scalars_as_records_do(tmp_path):
    doc = yaml.load("a: 034\nb: NO\nc: 1:30\non: yes\nd: 2026-11-23\n", Loader=LineLoader)  # noqa: S506 - safe subclass
    assert (doc["a"], doc["b"], doc["c"], doc["on"], doc["d"]) == (34, "NO", "1:30", "yes", "2026-11-23")


# --- 1. Lab units and plausibility bounds ---------------------------------------------------------

def test_hemoglobin_mmol_per_litre_is_per_monomer():
    """5.0 mmol/L is 8.06 g/dL (clinical labs report Hb(Fe)); the tetramer factor made it 32.2."""
    assert factor("mmol/L", "hemoglobin") == pytest.approx(1.611, abs=0.001)
    data = validated(H + "labs: [{test: hemoglobin, value: 5.0, unit: mmol/L, date: 2026-11-01}]")
    assert data["labs"][0]["value"] * data["labs"][0]["factor"] == pytest.approx(8.06, abs=0.01)


def test_conversion_factors_are_the_clinical_ones():
    for unit, test, expected in (
            ("mmol/L", "hemoglobin", 1.611), ("umol/L", "bilirubin", 1 / 17.1), ("umol/L", "creatinine", 1 / 88.4),
            ("ukat/L", "alt", 60), ("g/L", "albumin", 0.1), ("g/L", "hemoglobin", 0.1), ("10*3/uL", "platelets", 1),
            ("/uL", "neutrophils", 0.001), ("mL/s", "creatinine_clearance", 60)):
        assert factor(unit, test) == pytest.approx(expected, rel=0.002), (unit, test)


def test_every_lab_test_documents_its_factor_and_has_bounds():
    for test, spec in reference().labs.items():
        low, high = spec["bounds"]
        assert 0 <= low < high, test
        assert spec.get("factor_source", "").strip(), test


@pytest.mark.parametrize("test", sorted(reference().labs))
def test_lab_bounds_hold_on_both_sides(test):
    spec = reference().labs[test]
    low, high = spec["bounds"]
    unit = json.dumps(spec["unit"])

    def lab(value):
        return H + f"labs: [{{test: {test}, value: {value}, unit: {unit}, date: 2026-11-01}}]"
    assert validated(lab(high))["labs"][0]["value"] == high
    assert validated(lab(low))["labs"][0]["value"] == low
    message = f"labs[0].value: expected {test} between {low:g} and {high:g} {spec['unit']}"
    assert message in problems(lab(high * 1.001 + 0.001))
    if low > 0:
        assert message in problems(lab(low * 0.999))


def test_bounds_apply_after_conversion_and_to_uln_and_lln():
    # 15.5 mmol/L = 24.98 g/dL (in), 15.6 mmol/L = 25.14 g/dL (out)
    assert validated(H + "labs: [{test: hemoglobin, value: 15.5, unit: mmol/L, date: 2026-11-01}]")
    assert "(after converting from mmol/L)" in problems(H + "labs: [{test: hemoglobin, value: 15.6, unit: mmol/L, date: 2026-11-01}]")
    text = problems(H + "labs: [{test: bilirubin, value: 1, unit: mg/dL, uln: 61, lln: 70, date: 2026-11-01}]")
    assert "labs[0].uln: expected bilirubin between 0 and 60 mg/dL" in text and "labs[0].lln:" in text


def test_an_overflowing_lab_value_is_bad_input_not_a_crash():
    for value in ("1e305", "1e308", "9" * 100):
        assert "labs[0].value: expected alt between 0 and 20000 U/L" in \
            problems(H + f"labs: [{{test: alt, value: {value}, unit: U/L, uln: 40, date: 2026-11-01}}]")
    assert "labs[0].uln: expected alt between" in problems(H + "labs: [{test: alt, value: 30, unit: U/L, uln: 1e305, date: 2026-11-01}]")


# --- 2. References --------------------------------------------------------------------------------

def test_attestation_catalogue_is_computed_from_the_rules():
    book = rulebook()
    for trial in book.trials.values():
        for crit in trial.criteria:
            direct = any("attested(" in c.text for c in crit.clauses)
            if direct:
                assert book.criteria_catalogue()[trial.id][crit.id], f"{trial.id}/{crit.id}"
    assert book.criteria_catalogue()["taormina"]["I1"] is False


def test_an_attestation_read_through_a_helper_counts(tmp_path):
    trial = TRIAL.replace("  tiny_young(P) <= known_age(P, A) & (A <= 80)\n",
                          "  tiny_young(P) <= known_age(P, A) & (A <= 80)\n  tiny_judged(P) <= attested(P, 'tiny', 'E1', 'no')\n")
    trial = trial.replace("    lacks:\n      - tiny_young(P)", "    lacks:\n      - tiny_young(P)\n      - tiny_judged(P)")
    book = build(write_tiny(tmp_path, trial=trial))
    assert book.criteria_catalogue() == {"tiny": {"I1": False, "E1": True}}


def test_an_attestation_its_criterion_never_reads_is_refused_with_the_ones_that_do(eligible):
    eligible["attestations"].append({"criterion": "taormina/I1", "answer": "no", "by": "Dr A", "date": "2026-11-01"})
    takers = [c for c, takes in rulebook().criteria_catalogue()["taormina"].items() if takes]
    with pytest.raises(RecordError) as err:
        record_from_data(eligible, "p.yaml", AS_OF)
    assert f"(taormina takes attestations for {', '.join(takers)}; I1 is decided from the record alone)" in str(err.value)
    assert 'got "taormina/I1"' in str(err.value)


def test_every_judging_path_checks_attestations(tmp_path, eligible):
    eligible["attestations"].append({"criterion": "taormina/I1", "answer": "no", "by": "Dr A", "date": "2026-11-01"})
    path = tmp_path / "p.json"
    path.write_text(json.dumps(eligible, default=str))
    with pytest.raises(RecordError, match="I1 is decided from the record alone"):
        load_input(path, AS_OF)
    line = Item(0, "c.jsonl:1", line=json.dumps(eligible, default=str).encode())
    result = judge_item(line, AS_OF)
    assert result.status == "invalid" and "I1 is decided from the record alone" in result.reason
    cases = tmp_path / "t.yaml"
    cases.write_text(yaml.safe_dump({"trial": "taormina", "as_of": "2026-11-23", "base": json.loads(json.dumps(eligible, default=str)),
                                     "cases": [{"name": "c", "expect": {"verdict": "ineligible"}}]}))
    (case,) = load_cases(cases)
    record, result = case_record(case)
    assert record is None and "I1 is decided from the record alone" in result.mismatches[0].actual


def test_validation_never_imports_the_rules():
    code = ("import sys; from reasoner.record.read import record_from_data; import datetime as d; "
            "record_from_data({'schema_version': 1, 'patient': {'id': 'x'}, 'attestations': [{'criterion': 'taormina/E6', "
            "'answer': 'no', 'by': 'A', 'date': '2026-01-01'}]}, 'x', d.date(2026, 1, 1)); "
            "print(any(m.startswith('reasoner.logic') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("section", ["radiotherapy", "surgery"])
def test_a_lesion_reference_must_match_exactly(section):
    entry = "{id: X1, lesions: [%s]}" if section == "radiotherapy" else "{id: X1, procedure: metastasectomy, lesions: [%s]}"
    base = H + "metastases: [{id: M3, organ: liver}, {id: M4, organ: lung}]\nlocoregional_lesions: [{id: LR1, region: breast}]\n"
    assert validated(base + f"{section}: [{entry % 'M3, LR1'}]")[section][0]["lesions"] == ["M3", "LR1"]
    text = problems(base + f"{section}: [{entry % 'M3, m3'}]")
    assert f'{section}[0].lesions[1]: expected the id of a lesion in metastases or locoregional_lesions ("M3", "M4", "LR1"; ' \
           'ids are case-sensitive), got "m3"' in text
    assert f"{section}[0].lesions[0]" not in text
    # a reference into a section not recorded, or recorded incomplete, names what is unknown: not checked
    assert validated(H + "radiotherapy: [{id: RT1, lesions: [M9]}]")
    assert validated(H + "metastases: [{id: M1, organ: liver}]\nradiotherapy: [{id: RT1, lesions: [M9]}]\n"
                         "incomplete_sections: [metastases]")
    assert validated(H + "imaging: [{id: I1, modality: ct, date: 2026-01-01, regimen: R9}]")


def test_an_imaging_regimen_reference_lists_the_regimens():
    text = problems(H + "systemic_therapy: []\nimaging: [{id: I1, modality: ct, date: 2026-01-01, regimen: R9}]")
    assert 'imaging[0].regimen: expected the id of a regimen in systemic_therapy (none recorded; ids are case-sensitive), got "R9"' in text


@pytest.mark.parametrize("bad", ["\u202e", "\u200b", "\u2066", "\ufeff", "\n", "\t", "\u2028"])
def test_ids_refuse_invisible_and_line_breaking_characters(bad):
    for text in (f'schema_version: 1\npatient: {{id: "P{json.dumps(bad)[1:-1]}1"}}',
                 H + f'metastases: [{{id: "M{json.dumps(bad)[1:-1]}1", organ: liver}}]'):
        assert "expected an id of visible characters" in problems(text)


# --- 2. Record or FHIR ----------------------------------------------------------------------------

def test_a_record_with_schema_version_is_never_fhir(tmp_path, eligible):
    eligible["resourceType"] = "Patient"
    with pytest.raises(InputError, match="both schema_version .* and resourceType"):
        input_kind(eligible, "p.yaml")
    del eligible["resourceType"]
    assert input_kind(eligible, "p.yaml") == "record"
    assert input_kind({"resourceType": "Bundle"}, "b.json") == "fhir"
    for data, message in (({"patient": {"id": "x"}}, "neither schema_version"),
                          ({"resourceType": 3}, "resourceType: expected a FHIR resource type")):
        with pytest.raises(InputError, match=message):
            input_kind(data, "x.json")
    with pytest.raises(InputError, match="got an Eligo record"):
        import_fhir({"schema_version": 1, "resourceType": "Patient", "id": "p"}, "x.json", AS_OF)


def test_fhir_import_warns_when_it_cuts_text_and_never_cuts_an_id():
    name = "N" * 250
    imported = import_fhir({"resourceType": "Patient", "id": "p1", "name": [{"text": name}]}, "b.json", AS_OF)
    assert len(imported.record["patient"]["name"]) == 200
    assert "Patient/p1: name[0]: 250 characters, cut to the record's limit of 200" in imported.warnings
    long_id = "p" * 130
    imported = import_fhir({"resourceType": "Patient", "id": long_id}, "b.json", AS_OF)
    assert imported.record["patient"]["id"] == long_id
    with pytest.raises(RecordError, match="patient.id: expected text of at most 100 characters"):
        record_from_data(imported.record, "b.json", AS_OF)


# --- 2. One reader, one set of guards -------------------------------------------------------------

def _line(data):
    return json.dumps(data, default=str).encode()


def test_a_jsonl_line_refuses_duplicate_keys_as_a_file_does():
    with pytest.raises(InputError, match="key 'patient' appears twice"):
        parse_line(b'{"schema_version": 1, "patient": {"id": "A"}, "patient": {"id": "B"}}', "c.jsonl:1")


def test_a_huge_integer_in_a_jsonl_line_is_invalid_not_a_crash(eligible):
    raw = _line(eligible).replace(b'"schema_version": 1', b'"schema_version": 1' + b"0" * 5000)
    result = judge_item(Item(0, "c.jsonl:1", line=raw), AS_OF)
    assert result.status == "invalid" and result.reason == "a number of 5001 digits, expected at most 100"
    raw = _line(eligible).replace(b'"schema_version": 1', b'"schema_version": 1.' + b"5" * 500)
    assert judge_item(Item(0, "c.jsonl:1", line=raw), AS_OF).status == "invalid"


def test_an_overflowing_lab_in_a_jsonl_line_is_invalid(eligible):
    eligible["labs"][0]["value"] = 1e305
    result = judge_item(Item(0, "c.jsonl:1", line=_line(eligible)), AS_OF)
    assert result.status == "invalid" and "plausible range" in result.reason


def test_a_jsonl_line_and_a_json_file_give_the_same_answer(tmp_path, eligible):
    eligible["labs"][0]["value"] = 10 ** 120
    path = tmp_path / "p.json"
    path.write_bytes(_line(eligible))
    with pytest.raises(InputError) as from_file:
        load_input(path, AS_OF)
    result = judge_item(Item(0, str(path), line=_line(eligible)), AS_OF)
    assert result.reason == str(from_file.value).removeprefix(f"{path}: ")


# --- 2. --trial X --trial X -----------------------------------------------------------------------

def test_a_repeated_trial_is_judged_once():
    runner = CliRunner()
    once = runner.invoke(main, ["check", str(EXAMPLE), "--as-of", "2026-11-23", "--trial", "taormina", "--format", "json"])
    twice = runner.invoke(main, ["check", str(EXAMPLE), "--as-of", "2026-11-23", "--trial", "taormina", "--trial", "taormina",
                                 "--format", "json"])
    assert twice.exit_code == once.exit_code == 0 and twice.output == once.output


def test_a_repeated_trial_is_screened_once(tmp_path):
    runner = CliRunner()
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "p.yaml").write_text(EXAMPLE.read_text())
    out = tmp_path / "rows.jsonl"
    funnel = tmp_path / "funnel.csv"
    result = runner.invoke(main, ["screen", str(folder), "--as-of", "2026-11-23", "--trial", "taormina", "--trial", "taormina",
                                  "--workers", "1", "--out", str(out), "--funnel", str(funnel)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 1
    assert "2" not in [row.split(",")[-1] for row in funnel.read_text().splitlines()[1:]]


# --- 5. Only regular files are read ---------------------------------------------------------------

def _special_files(folder):
    os.mkfifo(folder / "a-fifo.yaml")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "b-socket.yaml"))
    os.symlink("c-loop.yaml", folder / "c-loop.yaml")
    os.symlink("missing.yaml", folder / "d-dangling.yaml")


def test_special_files_are_refused_without_being_opened(tmp_path):
    _special_files(tmp_path)
    expected = {"a-fifo.yaml": "a named pipe (FIFO), expected a regular record file",
                "b-socket.yaml": "a socket, expected a regular record file",
                "c-loop.yaml": "a loop of symbolic links", "d-dangling.yaml": "a symbolic link to a missing file (missing.yaml)"}
    done = []

    def attempt():
        for name, message in expected.items():
            with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
                read.read_bytes(tmp_path / name)
            done.append(name)
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert done == list(expected)   # a FIFO opened for reading would block here forever


def test_a_screened_folder_with_special_files_finishes_with_them_invalid(tmp_path):
    _special_files(tmp_path)
    (tmp_path / "e-patient.yaml").write_text(EXAMPLE.read_text())
    _total, items = open_items(str(tmp_path))
    results = {}

    def screen():
        for item in items:
            results[item.source.rsplit("/", 1)[-1]] = judge_item(item, AS_OF, ["taormina"])
    worker = threading.Thread(target=screen, daemon=True)
    worker.start()
    worker.join(60)
    assert len(results) == 5, sorted(results)   # a FIFO read as a record would hang the run here
    assert results["e-patient.yaml"].status == "judged"
    for name in ("a-fifo.yaml", "b-socket.yaml", "c-loop.yaml", "d-dangling.yaml"):
        assert results[name].status == "invalid", name
    assert "a named pipe (FIFO)" in results["a-fifo.yaml"].reason


def test_a_device_is_refused_from_its_stat():
    with pytest.raises(InputError, match="/dev/zero: a character device"):
        read.read_bytes("/dev/zero")


def test_deep_copy_keeps_number_text():
    data = parsed(H + "x: 034\ny: 1.10")
    copied = copy.deepcopy(data)
    assert (copied["x"].text, copied["y"].text) == ("034", "1.10")


def test_a_screened_input_that_is_a_link_loop_is_named_as_one(tmp_path):
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(InputError, match="loop: a loop of symbolic links; expected a folder of records"):
        open_items(str(tmp_path / "loop"))


def test_the_json_schema_refuses_the_id_characters_validation_refuses():
    import jsonschema

    from reasoner.record.jsonschema import dumps, record_schema

    schema = jsonschema.Draft202012Validator(record_schema())
    for pid, refused in (("P-1 é", False), ("P\u202e1", True), ("P\u200b1", True), ("P\n1", True), ("P\t1", True)):
        assert bool(list(schema.iter_errors({"schema_version": 1, "patient": {"id": pid}}))) is refused, repr(pid)
        data = {"schema_version": 1, "patient": {"id": pid}}
        if refused:   # the schema and validation agree
            with pytest.raises(RecordError, match="expected an id of visible characters"):
                record_from_data(data, "p.json", AS_OF)
        else:
            assert record_from_data(data, "p.json", AS_OF).patient_id == pid
    assert "\u202e" not in dumps()   # the pattern is written with escapes, never the characters themselves
