"""`eligo worklist` reads records as `check` does: entries after --as-of set aside and said (or
refused with --strict-dates), and --rules judges with a working copy."""

import datetime as dt
import json

from reasoner.pipeline import load_input
from tests.conftest import ROOT
from tests.test_cli import eligo
from tests.test_rules_option import copy_rules

EX003 = ROOT / "facts" / "patients" / "indeterminate-taormina.yaml"
EARLY = "2026-11-10"     # before EX-003's labs and performance status: they are set aside


def test_entries_after_as_of_are_listed_under_the_patient_in_every_format():
    record = load_input(EX003, dt.date.fromisoformat(EARLY))
    expected = [(e.path, e.date.isoformat()) for e in record.set_aside]
    assert expected, "the fixture must hold entries dated after the early --as-of"
    text = eligo("worklist", str(EX003), "--trial", "taormina", "--as-of", EARLY)
    assert text.returncode == 0, text.stderr
    for path, day in expected:
        assert f"  set aside (dated after --as-of, not judged): {path} {day}" in text.stdout
    doc = json.loads(eligo("worklist", str(EX003), "--trial", "taormina", "--as-of", EARLY, "--format", "json").stdout)
    assert [(e["path"], e["date"]) for e in doc["patients"][0]["set_aside"]] == expected
    csv = eligo("worklist", str(EX003), "--trial", "taormina", "--as-of", EARLY, "--format", "csv").stdout
    rows = [line for line in csv.splitlines() if ",set_aside," in line]
    assert len(rows) == len(expected) and all(path in " ".join(rows) for path, _day in expected)
    # and nothing set aside at the usual date
    doc = json.loads(eligo("worklist", str(EX003), "--trial", "taormina", "--as-of", "2026-11-23",
                           "--format", "json").stdout)
    assert doc["patients"][0]["set_aside"] == []


def test_strict_dates_refuses_the_record_instead():
    run = eligo("worklist", str(EX003), "--trial", "taormina", "--as-of", EARLY, "--strict-dates")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"{EX003}: labs[0].date: expected a date on or before the evaluation date {EARLY}" in run.stderr


def test_worklist_judges_with_a_working_copy_of_the_rules(tmp_path):
    """EX-003 (born 1979-09-30) is 47 at the planned registration (2026-12-10): with TAORMINA's age
    limit at 48 it is ineligible on I2 (cannot change) and nothing is left to collect; at 47 it is
    as installed."""
    def worklist(*extra):
        run = eligo("worklist", str(EX003), "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json", *extra)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    installed = worklist()
    assert installed["rules"] == "rules" and installed["patients"][0]["collect"]
    same = worklist("--rules", str(copy_rules(tmp_path, 47, "same")))
    assert same["patients"][0]["collect"] == installed["patients"][0]["collect"]
    older = worklist("--rules", str(copy_rules(tmp_path, 48, "older")))
    patient = older["patients"][0]
    assert patient["collect"] == [] and patient["ineligible_fixed"] == [{"trial": "TAORMINA", "failing": ["I2"]}]
    assert older["ruleset_sha256"] != installed["ruleset_sha256"]
