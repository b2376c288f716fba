"""Runs every rule-test case in rules/tests/ (the trials' own logic tests) under pytest."""

import pytest

from reasoner.authoring.cases import case_files, load_cases, run_case

CASES = [case for path in case_files() for case in load_cases(path)]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.trial}:{c.name}" for c in CASES])
def test_rule_case(case):
    result = run_case(case)
    detail = "; ".join(f"{m.what}: expected {m.expected}, got {m.actual}" for m in result.mismatches)
    assert result.passed, f"{case.where} {case.name}: {detail}"
