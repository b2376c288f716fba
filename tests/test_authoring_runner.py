"""eligo test, the pytest plugin and coverage, on the tiny rules root and on the shipped rules."""

import datetime as dt
import importlib.metadata
from pathlib import Path

from click.testing import CliRunner
from tiny_rules import HEADER, line_of, write_tiny

from reasoner.cli.main import main
from reasoner.logic.engine import engine
from reasoner.record.read import record_from_data

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def add_case(root, text):
    path = root / "tests" / "tiny.yaml"
    path.write_text(path.read_text() + text)
    return len(path.read_text().splitlines()) - len(text.splitlines()) + 1


def test_passing_tests_exit_0(tmp_path):
    result = invoke("test", str(write_tiny(tmp_path) / "tests"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("6 passed, 0 failed (1 file) in ")


def test_failing_case_shows_file_line_mismatches_and_the_rules_that_fired(tmp_path):
    root = write_tiny(tmp_path)
    line = add_case(root, """\
  - name: wrong on purpose
    ref: I1
    set: {patient.birth_date: 2008-06-02}
    expect: {verdict: eligible, criteria: {I1: pass, E1: pass}}
""")
    result = invoke("test", str(root / "tests"))
    assert result.exit_code == 1
    trial = root / "trials" / "tiny.yaml"
    assert result.output.splitlines()[:9] == [
        f"{root}/tests/tiny.yaml:{line}: case 'wrong on purpose' (ref: I1)",
        "  verdict: expected eligible, got ineligible",
        "  I1: expected pass, got fail",
        "  criteria not passing: fail I1",
        "",
        f"  tiny/I1 is fail (inclusion, {trial}:{line_of(root, '- id: I1')})",
        "    Age 18 or over.",
        f"    holds  no match    {trial}:{line_of(root, '(A >= 18)')}  known_age(P, A) & (A >= 18)",
        f"    lacks  matched     {trial}:{line_of(root, '(A < 18)')}  known_age(P, A) & (A < 18)",
    ]
    assert result.output.splitlines()[-1].startswith("6 passed, 1 failed (1 file)")


def test_failing_case_on_shipped_rules_shows_the_explanation_tree(tmp_path):
    cases = tmp_path / "mine.yaml"
    cases.write_text(f"""\
trial: taormina
base: {ROOT}/rules/tests/records/taormina-base.yaml
as_of: 2026-11-23
cases:
  - name: seventeen
    set: {{patient.birth_date: 2008-12-02}}
    expect: {{criteria: {{I2: pass}}}}
""")
    result = invoke("test", str(cases))
    assert result.exit_code == 1
    assert f"{cases}:5: case 'seventeen'" in result.output
    assert "  I2: expected pass, got fail" in result.output
    lacks = line_of(ROOT / "rules", "taormina_date(P, 'registration', Ref) & age_at(P, Ref, A) & (A < 18)", "trials/taormina.yaml")
    tree = result.output.split("  taormina/I2 is fail (inclusion, rules/trials/taormina.yaml:")[1]
    assert f"[rules/trials/taormina.yaml:{lacks}]" in tree and "17 < 18" in tree


def test_bad_test_file_is_a_clear_input_error(tmp_path):
    root = write_tiny(tmp_path)
    add_case(root, "  - name: no expectation\n    ref: I1\n")
    result = invoke("test", str(root / "tests"))
    assert result.exit_code == 2
    assert result.output.strip().endswith("case 'no expectation' has no `expect`")
    assert f"{root}/tests/tiny.yaml:" in result.output


def test_select_runs_only_matching_cases(tmp_path):
    result = invoke("test", str(write_tiny(tmp_path) / "tests"), "-k", "excluded")
    assert result.output.startswith("2 passed, 0 failed"), result.output


def test_a_tmp_rule_set_does_not_disturb_the_installed_engine(tmp_path):
    before = engine()
    assert invoke("test", str(write_tiny(tmp_path) / "tests")).exit_code == 0
    data = {"schema_version": 1, "patient": {"id": "X", "sex": "female", "birth_date": dt.date(1970, 1, 1)}}
    evaluation = engine().evaluate(record_from_data(data, "x", dt.date(2026, 1, 1)), ["taormina"])
    assert engine() is before
    assert ("taormina", "I2") in evaluation.holds


def test_coverage_lists_gaps_first_and_fail_under(tmp_path):
    root = write_tiny(tmp_path, cases=["adult", "18", "17", "unknown", "80"])   # E1 never fails, tiny_old never fires
    result = invoke("test", str(root / "tests"), "--coverage", "--fail-under", "90")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    trial = root / "trials" / "tiny.yaml"
    start = lines.index(f"Coverage of tiny ({trial}), 5 cases")
    assert lines[start + 1:start + 8] == [
        "  criterion outcomes asserted: 5/6 (83.3%)   rules fired: 5/7 (71.4%)",
        "  Rules never fired:",
        f"    {trial}:{line_of(root, 'tiny_old(P)', 'trials/tiny.yaml') + 16}  crit_holds(P, 'tiny', 'E1') <= tiny_old(P)",
        f"    {trial}:{line_of(root, 'tiny_old(P) <=')}  tiny_old(P) <= known_age(P, A) & (A > 80)",
        "  Criteria missing an outcome:",
        "    E1    fail",
        "  Criteria (cases asserting each outcome):",
    ]
    assert "coverage of tiny under 90%: outcomes 83.3%, rules 71.4%" in result.output


def test_full_coverage_passes_fail_under_100(tmp_path):
    out = tmp_path / "coverage.json"
    result = invoke("test", str(write_tiny(tmp_path / "r") / "tests"), "--coverage", "--fail-under", "100", "--coverage-json", str(out))
    assert result.exit_code == 0, result.output
    assert "criterion outcomes asserted: 6/6 (100.0%)   rules fired: 7/7 (100.0%)" in result.output
    assert '"fired": 7' in out.read_text()


def test_plugin_is_registered_and_collects_rule_tests(request):
    entry = [e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "eligo_rules"]
    assert [e.value for e in entry] == ["reasoner.authoring.plugin"]
    assert request.config.pluginmanager.has_plugin("eligo_rules")


def test_plugin_runs_cases_and_reports_failures(pytester):
    root = write_tiny(pytester.path / "rules")
    (root / "tests" / "records").mkdir()
    (root / "tests" / "records" / "base.yaml").write_text(HEADER)   # a record folder is never collected as cases
    line = add_case(root, "  - name: wrong\n    ref: I1\n    expect: {criteria: {I1: fail}}\n")
    result = pytester.runpytest("rules/tests", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines([f"*rules/tests/tiny.yaml:{line}: case 'wrong' (ref: I1)", "  I1: expected fail, got pass"])


def test_plugin_reports_a_malformed_test_file_as_a_collection_error(pytester):
    root = write_tiny(pytester.path / "rules")
    line = add_case(root, "  - name: no expectation\n    ref: I1\n")
    result = pytester.runpytest("rules/tests", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*rules/tests/tiny.yaml:{line}: case 'no expectation' has no `expect`"])


def test_coverage_reaches_only_the_clauses_a_call_can_match():
    """OLIGAMI S1 reads crit_lacks(P, 'oligami', C): its coverage counts OLIGAMI's criterion rules,
    not every trial's (a constant in the call that differs from the head's cannot match)."""
    from reasoner.authoring.probe import trial_clauses
    from reasoner.logic.rulebook import rulebook

    book = rulebook()
    own, lib = trial_clauses(book, book.trials["oligami"])
    assert not [c for c in lib if "/trials/" in c.file or c.file.startswith("rules/trials/")]
    assert [c for c in lib if c.file.endswith("measures.dl")]   # lib clauses it uses are still there
