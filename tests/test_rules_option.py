"""`--rules DIR`: every command that reads rules can use a working copy, and nothing of it leaks."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from reasoner.cli.main import main
from reasoner.logic.engine import engine
from reasoner.logic.rulebook import rulebook
from reasoner.paths import installed_rules_dir, rules_dir, using_rules
from tests.conftest import AS_OF, ROOT

EX001 = "facts/patients/eligible-taormina.yaml"      # EX-001, born 1971-03-14: 55 on 2026-11-23
I2_HOLDS = "taormina_earliest(P, 'registration', Ref) & age_at(P, Ref, A) & (A >= 18)"
I2_LACKS = "taormina_date(P, 'registration', Ref) & age_at(P, Ref, A) & (A < 18)"


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def copy_rules(tmp_path, age=None, name="rules"):
    """A working copy of rules/ (lib, trials, tests); age: TAORMINA I2's lower age limit instead of 18."""
    root = tmp_path / name
    shutil.copytree(ROOT / "rules", root)
    if age is not None:
        trial = root / "trials" / "taormina.yaml"
        text = trial.read_text()
        assert I2_HOLDS in text and I2_LACKS in text
        trial.write_text(text.replace(I2_HOLDS, I2_HOLDS.replace("18", str(age))).replace(I2_LACKS, I2_LACKS.replace("18", str(age))))
    return root


def invoke(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def taormina(*extra):
    code, out = invoke("check", EX001, "--trial", "taormina", "--as-of", AS_OF.isoformat(), "--format", "json", *extra)
    assert code == 0, out
    return json.loads(out)


@pytest.mark.parametrize("age, verdict, failing", [(55, "eligible", []), (56, "ineligible", ["I2"])])
def test_check_with_a_modified_copy_on_both_sides_of_the_patients_age(tmp_path, age, verdict, failing):
    root = copy_rules(tmp_path, age)
    doc = taormina("--rules", str(root))
    assert doc["trials"][0]["verdict"] == verdict and doc["trials"][0]["failing"] == failing
    assert doc["rules"] == str(root.resolve())
    installed = taormina()
    assert installed["rules"] == "rules" and installed["trials"][0]["verdict"] == "eligible"
    assert doc["ruleset_sha256"] != installed["ruleset_sha256"]


def test_an_unchanged_copy_has_the_installed_hash_but_names_its_own_folder(tmp_path):
    root = copy_rules(tmp_path)
    doc, installed = taormina("--rules", str(root)), taormina()
    assert doc["ruleset_sha256"] == installed["ruleset_sha256"]
    assert doc["rules"] == str(root.resolve()) != installed["rules"]


def test_explain_cites_the_working_copys_files(tmp_path):
    root = copy_rules(tmp_path, 60)
    code, out = invoke("explain", EX001, "--trial", "taormina", "--criterion", "I2", "--as-of", AS_OF.isoformat(),
                       "--rules", str(root))
    assert code == 0
    trial_file = root.resolve() / "trials" / "taormina.yaml"
    assert "I2 not met" in out and f"[{trial_file}:" in out
    assert "55 < 60" in out
    code, out = invoke("explain", EX001, "--trial", "taormina", "--criterion", "I2", "--as-of", AS_OF.isoformat(),
                       "--rules", str(root), "--format", "json")
    assert json.loads(out)["rules"] == str(root.resolve())


def test_query_and_report_use_the_copy(tmp_path):
    root = copy_rules(tmp_path, 60)
    goal = "crit_lacks(P, 'taormina', 'I2')"
    code, out = invoke("query", EX001, goal, "--as-of", AS_OF.isoformat(), "--rules", str(root))
    assert code == 0 and out.splitlines()[0].endswith(": holds")
    code, out = invoke("query", EX001, goal, "--as-of", AS_OF.isoformat())
    assert code == 0 and out.splitlines()[0].endswith(": does not hold")
    code, out = invoke("report", EX001, "--trial", "taormina", "--as-of", AS_OF.isoformat(), "--format", "json",
                       "--rules", str(root))
    doc = json.loads(out)
    assert doc["rules"] == str(root.resolve()) and doc["trials"][0]["verdict"] == "ineligible"
    assert doc["command"].endswith(f"--rules {root.resolve()}")
    code, md = invoke("report", EX001, "--trial", "taormina", "--as-of", AS_OF.isoformat(), "--format", "md",
                      "--rules", str(root))
    assert f"- **Rules folder:** `{root.resolve()}`" in md


def test_trials_and_criteria_read_the_copy(tmp_path):
    root = copy_rules(tmp_path)
    (root / "trials" / "cosmo.yaml").unlink()
    code, out = invoke("trials", "--rules", str(root))
    assert code == 0 and "COSMO" not in out and "TAORMINA" in out
    code, out = invoke("criteria", "cosmo", "--rules", str(root))
    assert code == 2 and "unknown trial 'cosmo'" in out


def test_test_command_runs_the_copys_tests_against_the_copys_rules(tmp_path):
    root = copy_rules(tmp_path, 60)
    for other in (root / "tests").glob("*.yaml"):
        if other.name != "taormina.yaml":
            other.unlink()
    code, out = invoke("test", "--rules", str(root), "-k", "18th birthday")
    assert code == 1, out          # the copy's own tests still expect 18 as the limit
    assert "I2: expected pass, got fail" in out
    code, out = invoke("test", str(ROOT / "rules" / "tests" / "taormina.yaml"), "-k", "18th birthday")
    assert code == 0, out


def test_lint_and_screen_use_the_copy(tmp_path):
    root = copy_rules(tmp_path, 60)
    code, out = invoke("lint", "--rules", str(root))
    assert code == 0 and out.strip() == "lint: clean"
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    shutil.copy(ROOT / EX001, cohort / "ex001.yaml")
    out_file = tmp_path / "rows.jsonl"
    code, _ = invoke("screen", str(cohort), "--trial", "taormina", "--as-of", AS_OF.isoformat(), "--workers", "1",
                     "--out", str(out_file), "--rules", str(root))
    assert code == 0
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [(r["verdict"], r["failing"]) for r in rows] == [("ineligible", ["I2"])]


def test_screen_workers_in_a_pool_use_the_copy(tmp_path):
    """Pool processes do not share the command's context: --rules reaches them as an argument."""
    root = copy_rules(tmp_path, 60)
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(ROOT / EX001, cohort / f"{name}.yaml")
    out_file = tmp_path / "rows.jsonl"
    code, _ = invoke("screen", str(cohort), "--trial", "taormina", "--as-of", AS_OF.isoformat(), "--workers", "2",
                     "--batch-size", "1", "--out", str(out_file), "--rules", str(root))
    assert code == 0
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [(r["verdict"], r["failing"]) for r in rows] == [("ineligible", ["I2"])] * 3


@pytest.mark.parametrize("make, expected", [
    (lambda p: p / "nosuch", "no such folder"),
    (lambda p: p, "expected lib/*.dl and trials/*.yaml"),
    (lambda p: (p / "trials").mkdir() or p, "expected lib/*.dl and trials/*.yaml"),
])
def test_a_folder_that_is_not_a_rules_folder_exits_2_saying_what_is_expected(tmp_path, make, expected):
    folder = make(tmp_path)
    bundle = str(ROOT / "tests" / "data" / "fhir" / "mcode-examples" / "Patient-mCODEPatientExample02.json")
    for command in (["check", EX001], ["explain", EX001, "--trial", "taormina"], ["query", EX001, "lesion(P, L, O)"],
                    ["trials"], ["lint"], ["test"], ["worklist", EX001], ["report", EX001], ["criteria", "taormina"],
                    ["screen", EX001], ["import-fhir", bundle]):
        code, out = invoke(*command, "--rules", str(folder))
        assert code == 2, (command, out)
        assert str(folder) in out and expected in out, (command, out)


def test_nothing_leaks_after_a_command_or_a_block(tmp_path):
    root = copy_rules(tmp_path, 60)
    taormina("--rules", str(root))
    assert rules_dir() == installed_rules_dir() and rulebook().folder == "rules"
    assert engine().book.folder == "rules"
    code, _ = invoke("check", EX001, "--rules", str(root), "--trial", "nosuch")    # fails after --rules was set
    assert code == 2 and rules_dir() == installed_rules_dir()
    with using_rules(root):
        assert rulebook().folder == str(root.resolve())
        old = engine()
    assert engine().book.folder == "rules"
    with pytest.raises(RuntimeError, match="replaced"), old.patient(None):
        pass


def test_two_folders_in_one_process_never_mix(tmp_path):
    a, b = copy_rules(tmp_path, 60, "a"), copy_rules(tmp_path, 18, "b")
    for _ in range(2):
        assert taormina("--rules", str(a))["trials"][0]["verdict"] == "ineligible"
        assert taormina("--rules", str(b))["trials"][0]["verdict"] == "eligible"


def test_the_rule_cache_keys_by_content_and_folder(tmp_path):
    a, b = copy_rules(tmp_path, 60, "a"), copy_rules(tmp_path, 60, "b")
    cache = tmp_path / "cache"
    probe = ("from reasoner.paths import using_rules; from reasoner.logic.rulebook import rulebook\n"
             "import sys\nwith using_rules(sys.argv[1]):\n    b = rulebook()\n"
             "print(b.sha256, b.folder, b.trials['taormina'].criterion('I2').lacks[0].file)")
    outputs = []
    for root in (a, b, a):
        run = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, cwd=ROOT,
                             env=dict(os.environ, ELIGO_CACHE=str(cache)))
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout.split())
    assert outputs[0][0] == outputs[1][0]                            # same content, same hash
    assert outputs[0][1:] == [str(a.resolve()), str(a.resolve() / "trials" / "taormina.yaml")]
    assert outputs[1][1:] == [str(b.resolve()), str(b.resolve() / "trials" / "taormina.yaml")]
    assert outputs[2] == outputs[0]                                  # read back from a's own cache entry
    assert len(list(cache.glob("rulebook-*.pickle"))) == 2
    copy_rules(tmp_path / "again", 61, "a")      # an edit of a: its old entry is replaced, not kept
    shutil.rmtree(a)
    shutil.move(tmp_path / "again" / "a", a)
    run = subprocess.run([sys.executable, "-c", probe, str(a)], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, ELIGO_CACHE=str(cache)))
    assert run.returncode == 0 and run.stdout.split()[0] != outputs[0][0]
    assert len(list(cache.glob("rulebook-*.pickle"))) == 2
