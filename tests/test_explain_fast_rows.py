"""Proof search scans the fast engine's relations instead of asking pyDatalog one query per
predicate (explain/graph.fast_rows). Held to pyDatalog: every whole relation the fast engine
gives equals pyDatalog's answer to the same question, and every explanation is the same graph
with or without them; when the engines disagree on a verdict, proof search falls back."""

import networkx as nx
import pytest
from conftest import AS_OF, ROOT, bench_module
from pyDatalog.util import DatalogError

from reasoner.explain import graph as explain_graph
from reasoner.explain.graph import explain
from reasoner.logic.engine import engine
from reasoner.logic.fastlog import fast_engine
from reasoner.logic.rulebook import LACKS, rulebook
from reasoner.pipeline import load_input
from reasoner.record.predicates import BASE
from reasoner.record.read import record_from_data

PATIENTS = sorted((ROOT / "facts" / "patients").glob("*.yaml"))


def records():
    out = [load_input(path, AS_OF) for path in PATIENTS]
    cohort = bench_module("cohort").generate(12, 7)
    return out + [record_from_data(data, f"synthetic-{i}", AS_OF) for i, data in enumerate(cohort)]


def arity_of(pred):
    defs = rulebook().definitions()
    if pred in defs:
        return len(defs[pred][0].head.args)
    return BASE[pred].arity


@pytest.mark.parametrize("record", records(), ids=lambda r: r.filename.rsplit("/", 1)[-1])
def test_every_whole_relation_is_pydatalogs(record):
    relations, complete = fast_engine().relations(record)
    functions = {name for name, clauses in rulebook().definitions().items() if hasattr(clauses[0].head, "func")}
    compared = 0
    with engine().patient(record) as session:
        for pred in sorted(complete):
            rows = relations.get(pred, set())
            if pred in functions:
                arity = len(rulebook().definitions()[pred][0].head.args)
                expected = set(session.function(pred, [None] * arity))
            else:
                arity = arity_of(pred)
                try:
                    expected = set(session.query(pred, [None] * arity))
                except DatalogError:
                    continue
            assert set(rows) == expected, pred
            compared += 1
    assert compared > 100


@pytest.mark.parametrize("path", PATIENTS, ids=lambda p: p.stem)
def test_an_explanation_is_the_same_graph_with_or_without_the_fast_rows(path, monkeypatch):
    record = load_input(path, AS_OF)
    fast = explain(record)
    monkeypatch.setattr(explain_graph, "fast_rows", lambda *args: None)
    slow = explain(record)
    assert nx.utils.graphs_equal(fast, slow)


def test_when_the_engines_disagree_proof_search_asks_pydatalog(monkeypatch):
    record = load_input(ROOT / "facts" / "patients" / "ineligible-taormina.yaml", AS_OF)
    real = fast_engine().relations

    def wrong(rec, trial_ids=None):
        relations, complete = real(rec, trial_ids)
        relations = dict(relations)
        relations[LACKS] = set()      # the fast engine "forgets" every failing criterion
        return relations, complete

    monkeypatch.setattr(type(fast_engine()), "relations", lambda self, rec, trial_ids=None: wrong(rec, trial_ids))
    evaluation = engine().evaluate(record)
    assert explain_graph.fast_rows(record, evaluation) is None
    graph = explain(record, ["taormina"])          # proofs still found: pyDatalog answered them
    assert graph.nodes["criterion:taormina/E2"]["outcome"] == "fail"
