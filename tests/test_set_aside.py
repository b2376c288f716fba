"""--as-of is what was known that day: entries dated after it are set aside and listed by every
command (check text and JSON, reports, screen rows); --strict-dates refuses them instead."""

import json

import pytest
import yaml
from click.testing import CliRunner

from reasoner.cli.main import main
from tests.conftest import EXAMPLE

LATER = {"test": "albumin", "value": 4.0, "unit": "g/dL", "date": "2026-11-30"}


@pytest.fixture
def record(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["labs"].insert(2, LATER)
    (tmp_path / "cohort").mkdir()
    path = tmp_path / "cohort" / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_check_text_lists_each_set_aside_entry(record):
    result = run("check", record, "--trial", "taormina", "--as-of", "2026-11-23")
    assert result.exit_code == 0, result.output
    assert "set aside (dated after --as-of 2026-11-23): labs[2] 2026-11-30" in result.output.splitlines()
    assert "TAORMINA (NCT05377047): ELIGIBLE" in result.output


def test_check_json_lists_them_and_a_later_as_of_uses_them(record):
    before = json.loads(run("check", record, "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json").output)
    assert before["set_aside"] == [{"path": "labs[2]", "date": "2026-11-30", "why": "date after --as-of 2026-11-23"}]
    after = json.loads(run("check", record, "--trial", "taormina", "--as-of", "2026-11-30", "--format", "json").output)
    assert after["set_aside"] == []


@pytest.mark.parametrize("command", [["check"], ["explain", "--trial", "taormina"], ["report", "--format", "md"]])
def test_strict_dates_refuses_with_exit_2(record, command):
    result = run(command[0], record, *command[1:], "--as-of", "2026-11-23", "--strict-dates")
    assert result.exit_code == 2, result.output
    assert "labs[2].date: expected a date on or before the evaluation date 2026-11-23" in result.output


def test_screen_with_strict_dates_rejects_that_record(record, tmp_path):
    errors = tmp_path / "errors.txt"
    result = run("screen", str(tmp_path / "cohort"), "--as-of", "2026-11-23", "--workers", "1", "--strict-dates",
                 "--out", str(tmp_path / "rows.jsonl"), "--errors", str(errors))
    assert result.exit_code == 2, result.output
    assert "labs[2].date: expected a date on or before the evaluation date 2026-11-23" in errors.read_text()


@pytest.mark.parametrize("fmt, line", [
    ("md", "  - `labs[2]` 2026-11-30: date after --as-of 2026-11-23"),
    ("html", "<li><code>labs[2]</code> 2026-11-30: date after --as-of 2026-11-23</li>"),
])
def test_reports_list_them_in_the_header(record, fmt, line):
    result = run("report", record, "--trial", "taormina", "--as-of", "2026-11-23", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert line in result.output


def test_report_json_lists_them(record):
    doc = json.loads(run("report", record, "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json").output)
    assert doc["set_aside"] == [{"path": "labs[2]", "date": "2026-11-30", "why": "date after --as-of 2026-11-23"}]


def test_screen_rows_list_them(record, tmp_path):
    out = tmp_path / "rows.csv"
    result = run("screen", str(tmp_path / "cohort"), "--trial", "taormina", "--as-of", "2026-11-23", "--workers", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    import csv

    first = next(csv.DictReader(out.read_text().splitlines()))
    assert first["set_aside"] == "labs[2] 2026-11-30"
