"""The fast (compiled, bottom-up) evaluator gives pyDatalog's answers: on every rule-test case, on
synthetic patients criterion by criterion, and on the constructs the rules use."""

import dataclasses
from collections import defaultdict
from types import SimpleNamespace

import pytest
from conftest import AS_OF, EXAMPLE, bench_module

from reasoner.authoring.cases import case_files, load_cases, run_case
from reasoner.errors import RuleConflict, RuleError
from reasoner.logic.clauses import parse_program
from reasoner.logic.engine import engine
from reasoner.logic.fastlog import FastEngine, Program, components, fast_engine
from reasoner.logic.rulebook import rulebook
from reasoner.pipeline import load_input
from reasoner.record.read import record_from_data
from reasoner.verdict.outcomes import trial_verdicts, verdict_rows


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.name)
def test_every_rule_test_case_passes_with_the_fast_engine(path):
    failures = []
    for case in load_cases(path):
        result = run_case(case, fast_engine())
        if result.mismatches:
            failures.append(f"{case.name}: {result.mismatches}")
    assert not failures, "\n".join(failures)


def synthetic(n, seed):
    module = bench_module("cohort")
    return [record_from_data(data, f"synthetic-{i}", AS_OF) for i, data in enumerate(module.generate(n, seed))]


def test_same_holds_lacks_and_strata_as_pydatalog_on_synthetic_patients():
    slow, fast = engine(), fast_engine()
    decided = 0
    for record in synthetic(40, seed=21):
        a, b = slow.evaluate(record), fast.evaluate(record)
        assert (a.holds, a.lacks) == (b.holds, b.lacks), record.filename
        assert getattr(a, "strata", None) == getattr(b, "strata", None), record.filename
        decided += len(a.holds) + len(a.lacks)
    assert decided > 40 * 50   # the comparison covered many decided criteria, not empty sets


def test_screening_rows_show_the_outcomes_and_verdicts_of_trial_verdicts():
    book, fast, shown = rulebook(), fast_engine(), set()
    examples = [load_input(path, AS_OF) for path in sorted((EXAMPLE.parent).glob("*.yaml"))]
    for record in synthetic(60, seed=5) + examples:
        evaluation = fast.evaluate(record, gaps=False)
        full = [(tv.trial.id, tv.stage, tv.verdict, [c.id for c in tv.failing], [c.id for c in tv.unknown])
                for tv in trial_verdicts(book, evaluation, None, with_missing=False)]
        assert verdict_rows(book, evaluation) == full, record.filename
        chosen = ["oligami", "cosmo"]   # in the order asked for, as trial_verdicts gives them
        assert verdict_rows(book, evaluation, chosen) == [r for t in chosen for r in full if r[0] == t]
        shown |= {row[2] for row in full}
    assert shown == {"eligible", "indeterminate", "ineligible"}   # every verdict was compared


@pytest.mark.parametrize("side", ["holds", "lacks"])
def test_screening_rows_refuse_a_criterion_that_both_holds_and_lacks(side):
    book, record = rulebook(), synthetic(1, seed=4)[0]
    evaluation = fast_engine().evaluate(record, gaps=False)
    both = evaluation.holds | evaluation.lacks
    conflicted = dataclasses.replace(evaluation, holds=both | {("taormina", "E3")}, lacks=both | {("taormina", "E3")})
    with pytest.raises(RuleConflict, match=r"rules/trials/\w+.yaml:\d+: \w+/\w+: the rules derive both holds and lacks"):
        verdict_rows(book, conflicted)
    one_sided = dataclasses.replace(evaluation, **{side: getattr(evaluation, side) | {("taormina", "E3")}})
    assert any(row[0] == "taormina" for row in verdict_rows(book, one_sided))


def _answers(evaluation):
    return evaluation.holds, evaluation.lacks, evaluation.strata


def test_many_patients_in_one_run_get_exactly_the_answers_each_gets_alone():
    fast = fast_engine()
    assert fast.program(None).per_patient   # the rules read one patient at a time: batches share a run
    examples = [load_input(path, AS_OF) for path in sorted((EXAMPLE.parent).glob("*.yaml"))]
    records = synthetic(50, seed=17) + examples
    together = fast.evaluate_many(records)
    assert [_answers(e) for e in together] == [_answers(fast.evaluate(r, gaps=False)) for r in records]
    assert len({frozenset(e.holds) for e in together}) > 40   # the patients differ: nothing was shared
    one_trial = fast.evaluate_many(records[:10], ["oligami"])
    assert [_answers(e) for e in one_trial] == [_answers(fast.evaluate(r, ["oligami"], gaps=False)) for r in records[:10]]


def test_a_record_whose_facts_fail_is_reported_alone_and_the_others_are_judged():
    fast, records = fast_engine(), synthetic(3, seed=2)
    broken = dataclasses.replace(records[1], data=None)   # no facts can be built from it
    out = fast.evaluate_many([records[0], broken, records[2]])
    assert isinstance(out[1], Exception)
    assert [_answers(out[0]), _answers(out[2])] == [_answers(fast.evaluate(r, gaps=False)) for r in (records[0], records[2])]


def test_a_record_that_breaks_the_shared_run_is_found_and_reported_alone(monkeypatch):
    from reasoner.logic import fastlog

    fast, records = fast_engine(), synthetic(3, seed=2)
    real = fastlog.facts_of

    def facts_of(record, gaps=True):
        found = real(record, gaps)
        if record is records[1]:   # an age that is text: comparing it with a number raises
            found.rows[:] = [(pred, (args[0], "old"), path) if pred == "age_at" else (pred, args, path)
                             for pred, args, path in found.rows]
        return found

    monkeypatch.setattr(fastlog, "facts_of", facts_of)
    out = fast.evaluate_many(records)
    assert isinstance(out[1], TypeError)
    assert [_answers(out[0]), _answers(out[2])] == [_answers(fast.evaluate(r, gaps=False)) for r in (records[0], records[2])]


PER_PATIENT = [
    ("crit_holds(P, 't', 'A') <= sex(P, 'female') & ~lesion(P, _L, 'brain')\n", True),
    ("big(O) <= organ_class(O, 'visceral')\ncrit_holds(P, 't', 'A') <= lesion(P, _L, O) & big(O)\n", True),
    ("(n[P] == len_(L)) <= lesion(P, L, _O)\ncrit_holds(P, 't', 'A') <= sex(P, _S) & (n[P] == N) & (N > 1)\n", True),
    # another patient's facts: a negation over any patient, P read before it is bound, P compared,
    # a count over patients, P at another place
    ("crit_holds(P, 't', 'A') <= sex(P, 'female') & ~lesion(_Q, _L, 'brain')\n", False),
    ("crit_holds(P, 't', 'A') <= ~lesion(P, _L, 'brain') & sex(P, 'female')\n", False),
    ("crit_holds(P, 't', 'A') <= sex(P, _S) & (P != 'x')\n", False),
    ("(n[O] == len_(P)) <= lesion(P, _L, O)\ncrit_holds(P, 't', 'A') <= lesion(P, _L, O) & (n[O] == N) & (N > 1)\n", False),
    ("crit_holds(P, 't', 'A') <= sex(P, _S) & lesion(P, P, _O)\n", False),
]


@pytest.mark.parametrize("text, alone", PER_PATIENT)
def test_a_program_shares_a_run_only_when_each_patient_reads_its_own_facts(text, alone):
    assert Program(SimpleNamespace(clauses=parse_program(text, "t.dl"))).per_patient is alone


def test_a_program_reading_across_patients_judges_each_patient_alone():
    text = "crit_holds(P, 't', 'A') <= sex(P, 'female') & ~lesion(_Q, _L, 'brain')\n"
    fast = FastEngine(SimpleNamespace(clauses=parse_program(text, "t.dl"), key="t"))
    records = [r for r in synthetic(40, seed=9)]
    brain = [any(m["organ"] == "brain" for m in r.data.get("metastases", [])) for r in records]
    assert any(brain) and not all(brain)
    together = fast.evaluate_many(records)
    assert [_answers(e) for e in together] == [_answers(fast.evaluate(r, gaps=False)) for r in records]


def test_one_trial_only_gives_that_trials_part_of_the_full_answer():
    record = synthetic(1, seed=3)[0]
    full, one = fast_engine().evaluate(record), fast_engine().evaluate(record, ["taormina"])
    assert one.holds == {k for k in full.holds if k[0] == "taormina"}
    assert one.lacks == {k for k in full.lacks if k[0] == "taormina"}


def run(text, facts):
    """Evaluate a small program over facts {pred: [tuples]}; relations as sets."""
    program = Program(SimpleNamespace(clauses=parse_program(text, "t.dl")))
    relations = defaultdict(set, {pred: set(rows) for pred, rows in facts.items()})
    program.run(relations, set(), {})
    return relations


def crit(head, body):
    return f"crit_holds(P, 't', '{head}') <= {body}\n"


def test_caller_bound_head_variables_are_specialised_per_call():
    text = ("below(P, T, K) <= lab(P, T, V) & (V * 10 < K)\n"
            + crit("A", "below(P, 'alt', 30)") + crit("B", "below(P, 'alt', 20)") + crit("C", "below(P, 'ast', 30)"))
    out = run(text, {"lab": [("p", "alt", 2), ("p", "ast", 3)]})
    assert out["crit_holds"] == {("p", "t", "A")}
    assert out["below"] == {("p", "alt", 30)}


def test_a_variable_argument_where_only_the_caller_binds_is_refused():
    text = "below(P, T, K) <= lab(P, T, V) & (V < K)\n" + crit("A", "limit(P, K) & below(P, 'alt', K)")
    with pytest.raises(RuleError, match="needs constants at argument"):
        run(text, {})


def test_recursion_runs_to_a_fixpoint():
    text = ("run(P, A, A, 1) <= inv(P, A)\n"
            "run(P, A, C, N) <= run(P, A, B, M) & nxt(B, C) & inv(P, C) & (N == M + 1)\n"
            "(longest[P] == max_(N, order_by=N)) <= run(P, A, C, N)\n"
            + crit("R", "(longest[P] == N) & (N >= 4)"))
    chain = [(f"V{i}", f"V{i + 1}") for i in range(10)]
    out = run(text, {"inv": [("p", "V2"), ("p", "V3"), ("p", "V4"), ("p", "V5"), ("p", "V8")], "nxt": chain})
    assert ("p", 4) in out["longest"] and out["crit_holds"] == {("p", "t", "R")}


def test_aggregates_count_distinct_values_and_give_nothing_over_no_rows():
    text = ("(organs[P] == len_(O)) <= lesion(P, L, O)\n"
            "(biggest[P] == max_(S, order_by=S)) <= size(P, L, S)\n"
            + crit("A", "(organs[P] == N) & (N == 2)") + crit("B", "(biggest[P] == S) & (S > 50)"))
    out = run(text, {"lesion": [("p", "L1", "bone"), ("p", "L2", "bone"), ("p", "L3", "liver")], "size": []})
    assert out["organs"] == {("p", 2)} and out["biggest"] == set()
    assert out["crit_holds"] == {("p", "t", "A")}


def test_negation_with_an_unbound_variable_means_none_exists():
    text = (crit("A", "patient(P) & ~lesion(P, L, 'brain')") + crit("B", "patient(P) & ~lesion(P, L, O)"))
    out = run(text, {"patient": [("p",)], "lesion": [("p", "L1", "bone")]})
    assert out["crit_holds"] == {("p", "t", "A")}


def test_comparisons_bind_with_equality_and_test_membership():
    text = crit("A", "dx(P, D) & (Y == D + 5) & (Y in [10, 11]) & (D not in [7])")
    assert run(text, {"dx": [("p", 5)]})["crit_holds"] == {("p", "t", "A")}
    assert run(text, {"dx": [("p", 7)]})["crit_holds"] == set()


def test_an_aggregate_it_does_not_know_is_refused_not_guessed():
    with pytest.raises(RuleError, match="does not support sum_"):
        run("(total[P] == sum_(V, for_each=V)) <= lab(P, T, V)\n" + crit("A", "(total[P] == N) & (N > 3)"), {})


def test_screening_with_the_fast_engine_gives_the_same_rows(tmp_path):
    import io
    import json

    from reasoner.screen.run import Settings
    from reasoner.screen.run import run as screen

    path = tmp_path / "c.jsonl"
    module = bench_module("cohort")
    path.write_text("".join(json.dumps(r) + "\n" for r in module.generate(15, 8)))
    texts = []
    for name in ("pydatalog", "fast"):
        out = tmp_path / f"{name}.jsonl"
        screen(Settings(input=str(path), as_of=AS_OF, out=str(out), engine=name), stderr=io.StringIO())
        texts.append(out.read_text())
    assert texts[0] == texts[1] and len(texts[0].splitlines()) >= 15



def test_a_variable_repeated_under_a_negation_means_no_tuple_with_equal_values_there():
    # pyDatalog 0.22.4 answers {(4, 5, 6)} for this program (checked by hand; see test_conformance.py)
    text = crit("A", "main(P, Y, Z) & ~s3(P, V, V)") + crit("B", "main(P, Y, Z) & ~s3(Q, V, V)")
    facts = {"main": [("p", 5, 6), ("q", 2, 3)], "s3": [("q", 7, 7), ("p", 7, 8)]}
    assert run(text, facts)["crit_holds"] == {("p", "t", "A")}
    assert run(text, {"main": [("p", 5, 6)], "s3": [("q", 7, 8)]})["crit_holds"] == {("p", "t", "A"), ("p", "t", "B")}


def _check_components(graph):
    import networkx as nx

    found = components(graph)
    digraph = nx.DiGraph()
    digraph.add_nodes_from(graph)
    digraph.add_edges_from((a, b) for a, reads in graph.items() for b in reads)
    assert sorted(map(sorted, found)) == sorted(map(sorted, nx.strongly_connected_components(digraph)))
    position = {node: i for i, members in enumerate(found) for node in members}
    # every component comes after the components it reads (a node reads only its own or earlier ones)
    assert all(position[b] <= position[a] for a, reads in graph.items() for b in reads)
    return found


def test_strata_are_networkx_components_in_dependency_order():
    """fastlog.components replaced networkx's condensation (its import cost each screening run
    ~0.15 s): the same components, each after those it reads, on the real rules and on graphs
    with cycles, self-loops and chains long enough for a recursive walk to overflow."""
    book = rulebook()
    defs = defaultdict(set)
    for clause in book.clauses:
        head = clause.head.func if hasattr(clause.head, "agg") else clause.head.pred
        defs[head] |= {lit.pred for lit in clause.body if hasattr(lit, "pred") and not hasattr(lit, "func")}
    graph = {pred: {b for b in reads if b in defs} for pred, reads in defs.items()}
    found = _check_components(graph)
    assert any(len(c) > 1 or next(iter(c)) in graph[next(iter(c))] for c in found)   # the rules do recurse
    _check_components({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "a"}, "f": set()})
    chain = {i: {i + 1} for i in range(5000)} | {5000: {0}, 5001: {2500}}
    assert len(_check_components(chain)) == 2
    import random

    rng = random.Random(17)
    for _ in range(50):
        nodes = range(rng.randint(1, 30))
        _check_components({n: {rng.choice(nodes) for _ in range(rng.randint(0, 3))} for n in nodes})


def test_screening_does_not_import_networkx(tmp_path):
    """Once the parsed rules are cached (their stratification checked with networkx then), a
    screening process's set-up (the rules loaded, the fast program compiled) does without it."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    probe = ("import sys; from reasoner.screen.cohort import warm_up; warm_up(); "
             "print('networkx' in sys.modules)")
    env = dict(os.environ, ELIGO_CACHE=str(tmp_path))
    for expected in ("True", "False"):   # the first run parses the rules and writes the cache
        run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == expected
