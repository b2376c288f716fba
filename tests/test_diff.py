"""`eligo diff`: the patients whose verdicts an amendment changes, between folders or git revisions."""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml
from click.testing import CliRunner

from reasoner.cli.main import main
from tests.conftest import AS_OF, ROOT, bench_module
from tests.test_rules_option import copy_rules

PATIENTS = ROOT / "facts" / "patients"
TAORMINA = "trials/taormina.yaml"


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def invoke(*args):
    result = CliRunner().invoke(main, ["diff", *map(str, args), "--as-of", AS_OF.isoformat(), "--workers", "1"])
    return result.exit_code, result.stdout, result.stderr


def diff_json(old, new, cohort=PATIENTS, *extra):
    code, out, err = invoke(old, new, cohort, "--format", "json", *extra)
    assert code == 0, out + err
    return json.loads(out)


def group(doc, trial, stage=None):
    return next(g for g in doc["groups"] if g["trial"] == trial and g["stage"] == stage)


def check_verdicts(rules=None):
    """{patient: TAORMINA verdict} by `eligo check` (the pyDatalog engine: an independent path)."""
    out = {}
    for path in sorted(PATIENTS.glob("*.yaml")):
        args = ["check", str(path), "--trial", "taormina", "--as-of", AS_OF.isoformat(), "--format", "json"]
        result = CliRunner().invoke(main, args + (["--rules", str(rules)] if rules else []))
        doc = json.loads(result.output)
        out[doc["patient"]] = doc["trials"][0]["verdict"]
    return out


def test_raising_taormina_age_limit_to_60_makes_ex001_ineligible_as_check_says(tmp_path):
    new = copy_rules(tmp_path, 60)
    doc = diff_json(ROOT / "rules", new)
    taormina = group(doc, "taormina")
    changed = {p["patient"]: p for p in taormina["patients"]}
    assert changed["EX-001"]["old"] == "eligible" and changed["EX-001"]["new"] == "ineligible"
    assert changed["EX-001"]["criteria"] == [{"criterion": "I2", "old": "pass", "new": "fail"}]
    before, after = check_verdicts(), check_verdicts(new)
    assert set(changed) == {p for p in before if before[p] != after[p]}
    assert all(changed[p]["new"] == after[p] and changed[p]["old"] == before[p] for p in changed)
    assert taormina["changed"] + taormina["unchanged"] == len(before)
    assert doc["criteria"] == [{"trial": "taormina", "change": "changed", "old": "I2", "new": "I2", "detail": "rules"}]
    for other in ("cosmo", "nct04158843", "nct04646564"):
        assert group(doc, other)["changed"] == 0 and group(doc, other)["unchanged"] == len(before)
    assert doc["old"]["rules"] == "rules" and doc["new"]["rules"] == str(new.resolve())
    assert doc["old"]["ruleset_sha256"] != doc["new"]["ruleset_sha256"]


@pytest.mark.parametrize("age, changes", [(55, False), (56, True)])
def test_ex001_at_her_age_and_one_year_over(tmp_path, age, changes):
    """EX-001 is 55 on 2026-11-23: a limit of 55 keeps her eligible, 56 does not."""
    doc = diff_json(ROOT / "rules", copy_rules(tmp_path, age), PATIENTS, "--trial", "taormina")
    assert ("EX-001" in {p["patient"] for p in group(doc, "taormina")["patients"]}) is changes
    assert [g["trial"] for g in doc["groups"]] == ["taormina"]


def test_the_same_rules_change_nothing_and_list_nobody(tmp_path):
    code, out, _ = invoke(ROOT / "rules", copy_rules(tmp_path), PATIENTS)
    assert code == 0
    assert "Criteria: none added, removed, re-numbered or changed" in out
    n = len(list(PATIENTS.glob("*.yaml")))
    assert f"taormina: 0 verdicts changed, {n} unchanged" in out
    assert "->" not in out


def test_text_lists_changed_patients_then_counts(tmp_path):
    code, out, _ = invoke(ROOT / "rules", copy_rules(tmp_path, 60), PATIENTS, "--trial", "taormina")
    assert code == 0
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("taormina: "))
    assert "  EX-001 (" in out and "eligible-taormina.yaml): eligible -> ineligible; I2 pass -> fail" in out
    assert lines[head + 1].startswith("  ")
    assert "  eligible -> ineligible: 1" in out
    assert lines[-1].startswith("15 read = 15 judged + 0 invalid + 0 failed")


def test_csv_has_one_row_per_changed_patient(tmp_path):
    code, out, err = invoke(ROOT / "rules", copy_rules(tmp_path, 60), PATIENTS, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    ex001 = [r for r in rows if r["patient"] == "EX-001"]
    assert ex001 == [{"trial": "taormina", "stage": "", "source": str(PATIENTS / "eligible-taormina.yaml"),
                      "patient": "EX-001", "old_verdict": "eligible", "new_verdict": "ineligible",
                      "criteria": "I2 pass -> fail"}]
    assert f"{len(rows)} verdict changes" in err


def edit(root, old, new):
    path = root / TAORMINA
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_criteria_added_removed_and_renumbered_are_named(tmp_path):
    new = copy_rules(tmp_path)
    edit(new, "  - id: I2\n", "  - id: I99\n")                              # renumbered: same text and rules
    trial = yaml.safe_load((new / TAORMINA).read_text())
    removed = trial["criteria"][-1]["id"]
    text = (new / TAORMINA).read_text()
    cut = text.index(f"  - id: {removed}\n")
    added = ("  - id: E98\n    kind: exclusion\n    text: Brain metastasis.\n    reading: Any lesion in the brain.\n"
             "    holds:\n      - has_lesion_in(P, 'brain')\n    lacks:\n      - n_lesions(P, 0)\n")
    (new / TAORMINA).write_text(text[:cut] + added + text[text.index("\n  - id:", cut + 1) + 1:]
                                if "\n  - id:" in text[cut + 1:] else text[:cut] + added)
    doc = diff_json(ROOT / "rules", new, PATIENTS, "--trial", "taormina")
    assert {(c["change"], c["old"], c["new"]) for c in doc["criteria"]} == {
        ("renumbered", "I2", "I99"), ("removed", removed, None), ("added", None, "E98")}
    for patient in group(doc, "taormina")["patients"]:
        names = {c["criterion"] for c in patient["criteria"]}
        assert "I2" not in names and "I99" not in names and "I2->I99" not in names   # renumbering alone changes nothing
    code, out, _ = invoke(ROOT / "rules", new, PATIENTS, "--trial", "taormina")
    assert "taormina I2 renumbered as I99" in out and f"taormina {removed} removed" in out and "taormina E98 added" in out


def test_invalid_records_are_counted_listed_and_exit_2(tmp_path):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    shutil.copy(PATIENTS / "eligible-taormina.yaml", cohort / "a.yaml")
    (cohort / "b.yaml").write_text("patient: {id: X}\n")
    code, out, _ = invoke(ROOT / "rules", copy_rules(tmp_path, 60), cohort, "--trial", "taormina")
    assert code == 2
    assert "2 read = 1 judged + 1 invalid + 0 failed" in out
    assert f"  invalid {cohort / 'b.yaml'}: " in out
    assert "taormina: 1 verdict changed, 0 unchanged" in out


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path):
    """A git checkout whose rules/ raises TAORMINA's age limit to 60 in its second commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    copy_rules(repo)
    git(repo, "init", "-q")
    git(repo, "add", "rules")
    git(repo, "commit", "-qm", "rules as installed")
    holds = "taormina_earliest(P, 'registration', Ref) & age_at(P, Ref, A)"
    lacks = "taormina_date(P, 'registration', Ref) & age_at(P, Ref, A)"
    edit(repo / "rules", f"{holds} & (A >= 18)", f"{holds} & (A >= 60)")
    edit(repo / "rules", f"{lacks} & (A < 18)", f"{lacks} & (A < 60)")
    git(repo, "commit", "-qam", "age 60")
    return repo


def test_revisions_in_a_git_checkout(checkout, monkeypatch):
    monkeypatch.chdir(checkout)
    doc = diff_json("HEAD~1", "HEAD", PATIENTS, "--trial", "taormina")
    assert {p["patient"]: (p["old"], p["new"]) for p in group(doc, "taormina")["patients"]}["EX-001"] == (
        "eligible", "ineligible")
    assert doc["old"]["given"] == "HEAD~1" and len(doc["old"]["revision"]) == 40
    assert doc["old"]["revision"] != doc["new"]["revision"]
    code, out, err = invoke("nosuch", "HEAD", PATIENTS)
    assert code == 2 and "git knows no revision 'nosuch'" in err
    result = CliRunner().invoke(main, ["diff", "--workers", "1", "--", "--output=x", "HEAD", str(PATIENTS)])
    assert result.exit_code == 2 and "expected a rules folder or a git revision" in result.stderr
    assert not (checkout / "x").exists()


def test_a_revision_outside_a_git_checkout_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("HEAD~1", ROOT / "rules", PATIENTS)
    assert code == 2 and "not in a git checkout" in err and "HEAD~1" in err


@pytest.mark.parametrize("args, message", [
    (("{tmp}", "{rules}", PATIENTS), "OLD {tmp}: not a rules folder"),
    (("{rules}", "{rules}", "{tmp}/nosuch"), "no such file or folder"),
    (("{rules}", "{rules}", PATIENTS, "--trial", "nosuch"), "--trial nosuch: neither rule set has it"),
])
def test_bad_input_exits_2(tmp_path, args, message):
    fill = {"tmp": tmp_path, "rules": ROOT / "rules"}
    code, out, err = invoke(*[str(a).format(**fill) for a in args])
    assert code == 2 and message.format(**fill) in err and "Traceback" not in err


def test_two_workers_give_the_same_answer(tmp_path):
    new = copy_rules(tmp_path, 60)
    one = diff_json(ROOT / "rules", new, PATIENTS)
    result = CliRunner().invoke(main, ["diff", str(ROOT / "rules"), str(new), str(PATIENTS), "--as-of",
                                       AS_OF.isoformat(), "--format", "json", "--workers", "2"])
    two = json.loads(result.output)
    assert one["groups"] == two["groups"] and one["counts"] == two["counts"]


def test_records_with_entries_after_as_of_are_named(tmp_path):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    shutil.copy(PATIENTS / "eligible-taormina.yaml", cohort / "a.yaml")     # labs dated 2026-11-16
    args = ["diff", str(ROOT / "rules"), str(ROOT / "rules"), str(cohort), "--trial", "taormina", "--workers", "1",
            "--as-of", "2026-11-10"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0
    said = "1 record judged without entries dated after --as-of (set aside; --strict-dates refuses them)"
    assert f"{said}: {cohort / 'a.yaml'}" in result.stdout
    strict = CliRunner().invoke(main, args + ["--strict-dates"])
    assert strict.exit_code == 2 and "1 invalid" in strict.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_pooled_diff_cleanly_with_no_worker_left(tmp_path, signum, code):
    """diff runs on screening's process pool (screen/backends.process_pool): workers ignore the
    signal, the main process stops them and exits 128 + signum without a traceback."""
    from tests.test_screen_signals import group_members, wait_for

    cohort = tmp_path / "c.jsonl"
    cohort.write_text("".join(json.dumps(r) + "\n" for r in bench_module("cohort").generate(3000, 5)))
    new = copy_rules(tmp_path, 60)
    proc = subprocess.Popen([sys.executable, "-m", "reasoner", "diff", "rules", str(new), str(cohort), "--as-of",
                             AS_OF.isoformat(), "--trial", "taormina", "--workers", "2"],
                            cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: proc.poll() is not None or len(group_members(proc.pid)) >= 3, 120)
        assert proc.poll() is None, "the diff ended before it could be signalled"
        time.sleep(0.5)                       # let the workers start judging
        sent = time.monotonic()
        os.killpg(proc.pid, signum)           # as a terminal's Ctrl-C: the whole group
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - sent < 20
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert f"eligo: interrupted by {signal.Signals(signum).name}" in stderr
    assert wait_for(lambda: group_members(proc.pid) == [], 10), "worker processes outlived the diff"
