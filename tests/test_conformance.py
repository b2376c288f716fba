"""The screening evaluator against an outside standard: the core suites of `datalog-conformance`
(facts, joins, recursion, stratified negation, programs that must be refused), each case translated
by reasoner/logic/conformance.py and evaluated by fastlog. Every case passes except the ones listed
in OUTSIDE, whose reason is Eligo's documented reading; a change either way fails this test.

The two cases over 1 MB of YAML (Soufflé hmmer and lubm, 3 and 17 MB) are slow: they run only with
ELIGO_CONFORMANCE_LARGE=1 (not yet seen to finish: a run on a loaded machine stopped after 15 min)."""

import os

import pytest
import yaml

pytest.importorskip("datalog_conformance", reason="pip install -e '.[dev]' brings the conformance suite")

from datalog_conformance import schema  # noqa: E402
from datalog_conformance.plugin import _load_multi_case_file, get_tests_dir  # noqa: E402
from datalog_conformance.runner import ConformanceFailure, YamlTestRunner  # noqa: E402

from reasoner.logic.conformance import (  # noqa: E402
    ArityMismatch,
    CyclicNegation,
    FastEvaluator,
    SafetyViolationError,
    UnboundVariable,
    evaluate_program,
)

CORE = ("basic", "errors", "negation", "recursion")
LARGE = 1_000_000
# Cases whose expectation differs from Eligo's reading on purpose, with the reason.
OUTSIDE = {
    "unsafe_negation_variable_only_in_negative_literal":
        "the evaluator reads a variable that occurs only under a negation as 'none exists' (as pyDatalog does, and "
        "as the suite's own Soufflé and Nemo negation cases expect, e.g. `not s3(X, P, P)`); in Eligo's rule files "
        "`eligo lint` refuses it as unsafe (tests/test_authoring_lint.py)",
}


def core_cases():
    large = os.environ.get("ELIGO_CONFORMANCE_LARGE") == "1"
    out = []
    for suite in CORE:
        for path in sorted((get_tests_dir() / suite).glob("*.yaml")):
            if path.stat().st_size > LARGE and not large:
                continue
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader
            for case in (_load_multi_case_file(raw, path) if "tests" in raw else [schema.TestCase.from_dict(raw)]):
                out.append(pytest.param(case, id=f"{suite}/{path.stem}::{case.name}"))
    return out


CASES = core_cases()


def test_the_core_suites_were_found():
    assert len(CASES) >= 90


@pytest.mark.parametrize("case", CASES)
def test_core_case_with_the_fast_engine(case):
    runner = YamlTestRunner(FastEvaluator())
    if case.name in OUTSIDE:
        with pytest.raises(ConformanceFailure):
            runner.run_test_case(case)
        return
    runner.run_test_case(case)


def test_the_outside_cases_still_exist():
    names = {p.values[0].name for p in CASES}
    assert set(OUTSIDE) <= names


def test_right_recursion_over_a_cycle_terminates():
    facts = {"edge": [(0, 1), (1, 2), (2, 0)]}
    out = evaluate_program(["r(X, Y) :- edge(X, Z), r(Z, Y).", "r(X, Y) :- edge(X, Y)."], facts)
    assert out["r"] == {(a, b) for a in range(3) for b in range(3)}


def test_body_order_does_not_change_the_answer():
    facts = {"a": [(1,), (2,), (3,)], "b": [(2,)]}
    written = evaluate_program(["c(X) :- not b(X), X > 1, a(X)."], facts)
    assert written["c"] == {(3,)}


def test_arithmetic_arguments_and_constants():
    out = evaluate_program(['s(X, Y, X + Y) :- n(X), n(Y), X < Y.', 'k("one", -2) :- n(1).'], {"n": [(1,), (2,)]})
    assert out["s"] == {(1, 2, 3)} and out["k"] == {("one", -2)}


@pytest.mark.parametrize("rules, facts, error", [
    (["p(X) :- q(X, Y)."], {"q": [(1,)]}, ArityMismatch),
    (["p(X) :- q(Y)."], {"q": [(1,)]}, UnboundVariable),
    (["p(X) :- q(Y), X > Y."], {"q": [(1,)]}, UnboundVariable),
    (["p(_) :- q(_)."], {"q": [(1,)]}, SafetyViolationError),
    (["p(X) :- q(X), not r(X).", "r(X) :- q(X), not p(X)."], {"q": [(1,)]}, CyclicNegation),
])
def test_programs_standard_datalog_refuses_are_refused(rules, facts, error):
    with pytest.raises(error):
        evaluate_program(rules, facts)


def test_a_safe_program_on_the_same_facts_is_accepted():
    assert evaluate_program(["p(X) :- q(X, Y)."], {"q": [(1, 2)]})["p"] == {(1,)}
