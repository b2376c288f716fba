"""`eligo` as a user runs it: whole process, exit codes, no tracebacks."""

import json
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLE, ROOT


def eligo(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "reasoner", *args], capture_output=True, text=True, cwd=cwd or ROOT)


def test_check_text_names_the_verdict():
    run = eligo("check", str(EXAMPLE), "--trial", "taormina", "--as-of", "2026-11-23")
    assert run.returncode == 0, run.stderr
    assert "TAORMINA (NCT05377047): ELIGIBLE" in run.stdout


def test_check_json_is_documented_and_deterministic():
    first = eligo("check", str(EXAMPLE), "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json")
    second = eligo("check", str(EXAMPLE), "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json")
    assert first.returncode == 0 and first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert set(doc) >= {"schema_version", "patient", "as_of", "tool_version", "ruleset_sha256", "input_sha256", "trials"}
    trial = doc["trials"][0]
    assert (trial["trial"], trial["stage"], trial["verdict"]) == ("taormina", None, "eligible")
    assert [c["id"] for c in trial["criteria"]][:3] == ["I1", "I2", "I3"]
    assert all(set(c) >= {"id", "kind", "outcome", "missing"} for c in trial["criteria"])


def test_indeterminate_names_missing_inputs(tmp_path):
    text = EXAMPLE.read_text().replace("  treatment_start: 2026-12-07\n", "")
    text = text.replace("childbearing_potential: false", "childbearing_potential: true")
    text = text.replace("  breastfeeding: false\n", "  breastfeeding: false\n  contraception: true\n")
    record = tmp_path / "p.yaml"
    record.write_text(text)
    run = eligo("check", str(record), "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json")
    trial = json.loads(run.stdout)["trials"][0]
    assert trial["verdict"] == "indeterminate" and trial["unknown"] == ["I16"]
    assert trial["criteria"][15]["missing"] == ["dates.treatment_start", "reproductive.pregnancy_tests"]
    text_run = eligo("check", str(record), "--trial", "taormina", "--as-of", "2026-11-23")
    assert "INDETERMINATE" in text_run.stdout and "missing (not in the record): dates.treatment_start" in text_run.stdout


@pytest.mark.parametrize("args, message", [
    (["check", "nowhere.yaml"], "nowhere.yaml: no such file"),
    (["check", str(EXAMPLE), "--as-of", "23/11/2026"], "expected a date YYYY-MM-DD"),
    (["check", str(EXAMPLE), "--trial", "nosuchtrial"], "unknown trial 'nosuchtrial'"),
    (["criteria", "nosuchtrial"], "unknown trial 'nosuchtrial'"),
    (["check", str(ROOT / "facts")], "is a directory"),
])
def test_bad_input_exits_2_with_a_message(args, message):
    run = eligo(*args)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr


def test_validation_error_names_file_and_field(tmp_path):
    record = tmp_path / "bad.yaml"
    record.write_text(EXAMPLE.read_text().replace("size_mm: 31", "size_mm: big"))
    run = eligo("check", str(record), "--as-of", "2026-11-23")
    assert run.returncode == 2
    assert f'{record}: metastases[2].size_mm: expected a number >= 0 and <= 1000, got "big"' in run.stderr


def test_trials_and_criteria_list_what_the_rules_hold():
    trials = eligo("trials")
    assert trials.returncode == 0 and "taormina" in trials.stdout and "NCT05377047" in trials.stdout
    crit = eligo("criteria", "taormina")
    assert crit.returncode == 0
    assert "E4 exclusion" in crit.stdout and "reading:" in crit.stdout and "rules/trials/taormina.yaml:" in crit.stdout


def test_runs_from_any_directory(tmp_path):
    run = eligo("check", str(EXAMPLE), "--trial", "taormina", "--as-of", "2026-11-23", cwd=tmp_path)
    assert run.returncode == 0 and "ELIGIBLE" in run.stdout


def test_every_lazily_loaded_command_is_registered_under_its_own_name():
    """Commands in their own modules are imported when named (cli/main.py LAZY): each name must be
    the one its command declares, and --help lists them with the commands of main.py."""
    import importlib

    from reasoner.cli import main as cli

    for name, (module, attribute) in cli.LAZY.items():
        command = getattr(importlib.import_module(module, "reasoner.cli"), attribute)
        assert command.name == name
    listed = eligo("--help").stdout
    for name in [*cli.LAZY, "check", "trials", "criteria"]:
        assert f"\n  {name} " in listed, name


def test_check_imports_no_other_commands_module():
    probe = ("import sys; from reasoner.cli.main import run; "
             "sys.argv = ['eligo', 'check', 'facts/patients/eligible-taormina.yaml', '--as-of', '2026-11-23', '--brief'];\n"
             "try:\n    run()\nexcept SystemExit as end:\n    assert end.code == 0, end.code\n"
             "print(sorted(m for m in sys.modules if m.startswith('reasoner.cli.')), file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip().splitlines()[-1] == "['reasoner.cli.main', 'reasoner.cli.options']"


def test_an_unknown_command_is_refused_with_suggestions_from_every_command():
    run = eligo("scren")
    assert run.returncode == 2
    assert "No such command 'scren'" in run.stderr and "'screen'" in run.stderr
