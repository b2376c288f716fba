"""Explanations are exact: re-checked against the record and the engine, independently of explain.py.

For every criterion of every trial of every example record: each rule node's clause body holds
for the bindings it shows (base literals are facts of the record with the right source path,
derived ones have their own rule node, comparisons evaluate true, negated literals have no match
in the engine, aggregate values agree with the rows shown); every leaf is a record fact (with its
source path), a reference fact, or a stated absence/missing input; the trial node points at the
criteria that decide its verdict.
"""

import dataclasses

import pytest

from reasoner.explain.graph import explain
from reasoner.logic.clauses import COMPARE_FUNC, Atom, Comparison, Const, FunctionValue, Var, evaluate
from reasoner.logic.engine import PATIENT, engine
from reasoner.logic.rulebook import rulebook
from reasoner.pipeline import load_input
from reasoner.record.facts import facts_of, reference_facts
from reasoner.record.predicates import BASE
from reasoner.verdict.outcomes import ELIGIBLE, INELIGIBLE, trial_verdicts
from tests.conftest import AS_OF, ROOT

EXAMPLES = sorted((ROOT / "facts" / "patients").glob("*.yaml"))


def children(graph, node, role=None):
    edges = sorted(graph.out_edges(node, data=True), key=lambda e: e[2]["order"])
    return [child for _n, child, data in edges if role is None or data["role"] == role]


def ground(terms, bindings):
    return tuple(t.value if isinstance(t, Const) else bindings.get(t.name) for t in terms)


class Checker:
    """Re-checks one explanation graph against the record's facts and the engine's answers."""

    def __init__(self, graph, record, session):
        self.graph, self.record, self.session = graph, record, session
        self.clauses = {(c.where, c.text): c for c in rulebook().clauses}
        self.record_facts = {}
        for fact in facts_of(record).facts:
            self.record_facts.setdefault((fact.pred, (PATIENT,) + fact.args), set()).add(fact.path)
        self.reference = {}
        for fact in reference_facts():
            file, _, key = fact.path.partition(": ")
            self.reference.setdefault((fact.pred, fact.args), set()).add((file, key))

    def holds_in_engine(self, pred, args):
        return bool(self.session.query(pred, list(args)))

    def check_fact(self, node):
        data = self.graph.nodes[node]
        key = (data["pred"], tuple(data["args"]))
        if data["pred"] == "as_of":
            assert data["source_path"] == "--as-of" and data["args"] == [PATIENT, self.record.as_of.toordinal()]
        elif BASE[data["pred"]].patient:
            assert key in self.record_facts, f"{node}: not a fact of the record"
            assert data["source_file"] == (None if data["source_path"] == "--as-of" else self.record.filename)
            assert data["source_path"] in self.record_facts[key], f"{node}: wrong source {data['source_path']}"
        else:
            assert (data["source_file"], data["source_path"]) in self.reference[key], node
            assert data["source_file"].startswith("facts/reference/")

    def check_body(self, node, clause, bindings, body_children):
        """Every literal of clause's body holds under bindings, and the child shown for it matches."""
        assert len(body_children) == len(clause.body), f"{node}: {len(body_children)} children for {len(clause.body)} literals"
        for lit, child in zip(clause.body, body_children):
            data = self.graph.nodes[child]
            if isinstance(lit, Comparison):
                left, right = evaluate(lit.left, bindings), evaluate(lit.right, bindings)
                assert COMPARE_FUNC[lit.op](left, right), f"{node}: {lit.text} false for {bindings}"
                assert data["kind"] == "comparison" and data["holds"] is True
            elif isinstance(lit, FunctionValue):
                keys, value = ground(lit.args, bindings), bindings[lit.value.name] if isinstance(lit.value, Var) else lit.value.value
                assert (*keys, value) in self.session.function(lit.func, list(keys)), f"{node}: {lit.text}"
                assert data["kind"] == "aggregate" and data["value"] == value and tuple(data["keys"]) == keys
            elif lit.negated:
                pattern = ground(lit.args, bindings)
                assert not self.session.query(lit.pred, list(pattern)), f"{node}: ~{lit.pred}{pattern} has a match"
                assert data["kind"] in ("negation", "absent") and tuple(data["pattern"]) == pattern
            else:
                args = ground(lit.args, bindings)
                assert None not in args, f"{node}: {lit.pred} not ground under {bindings}"
                assert tuple(data["args"]) == args and data["pred"] == lit.pred, f"{node}: child {child} for {lit}"
                if lit.pred in BASE:
                    assert data["kind"] == "fact"
                else:
                    assert data["kind"] == "rule" and self.holds_in_engine(lit.pred, args)

    def check_rule(self, node):
        data = self.graph.nodes[node]
        clause = self.clauses[(data["where"], data["clause"])]
        bindings = data["bindings"]
        assert ground(clause.head.args, bindings) == tuple(data["args"]), f"{node}: head does not match"
        self.check_body(node, clause, bindings, children(self.graph, node, "body"))

    def check_aggregate(self, node):
        data = self.graph.nodes[node]
        clause = self.clauses[(data["where"], data["clause"])]
        target = clause.head.target.name
        counted = sorted({row[target] for row in data["rows"]}, key=repr)
        assert sorted(data["counted"], key=repr) == counted
        if data["agg"] == "len_":
            assert data["value"] == len(counted)
        elif data["agg"] == "max_":
            assert data["value"] == max(counted)
        elif data["agg"] == "min_":
            assert data["value"] == min(counted)
        shown = set(children(self.graph, node, "counted"))
        for row in data["rows"]:
            assert ground(clause.head.args, row) == tuple(data["keys"])
            for lit in clause.body:
                if isinstance(lit, Atom) and not lit.negated:
                    args = ground(lit.args, row)
                    kind = "fact" if lit.pred in BASE else "rule"
                    assert f"{kind}:{lit.pred}({', '.join(map(repr, args))})" in shown, f"{node}: row {row}"
                elif isinstance(lit, Atom):
                    assert not self.session.query(lit.pred, list(ground(lit.args, row)))
                elif isinstance(lit, Comparison):
                    assert COMPARE_FUNC[lit.op](evaluate(lit.left, row), evaluate(lit.right, row))

    def check_absence(self, node):
        data = self.graph.nodes[node]
        assert not self.session.query(data["pred"], list(data["pattern"])), f"{node}: it does exist"

    def run(self):
        for node, kind in self.graph.nodes(data="kind"):
            if kind == "rule":
                self.check_rule(node)
            elif kind == "fact":
                self.check_fact(node)
            elif kind == "aggregate":
                self.check_aggregate(node)
            elif kind in ("negation", "absent"):
                self.check_absence(node)
            elif kind == "comparison":
                data = self.graph.nodes[node]
                right = tuple(data["right"]) if isinstance(data["right"], list) else data["right"]
                assert COMPARE_FUNC[data["op"]](data["left"], right) == data["holds"], node
            if self.graph.out_degree(node) == 0:
                assert kind in ("fact", "comparison", "absent", "missing", "rule_ref", "negation", "to_decide"), f"leaf {node}"
                if kind == "negation":
                    data = self.graph.nodes[node]
                    assert data["detailed"] is False or data["rules"] == 0, f"{node}: a refutation without reasons"


def check_verdict_edges(graph, verdicts):
    for tv in verdicts:
        tid = f"trial:{tv.trial.id}" + (f"@{tv.stage}" if tv.stage else "")
        decided_by = {graph.nodes[c]["criterion"] for c in children(graph, tid, "decided_by")}
        if tv.verdict == INELIGIBLE:
            assert decided_by == {c.id for c in tv.failing}
        elif tv.verdict == ELIGIBLE:
            assert decided_by == {c.id for c in tv.criteria}
        else:
            assert decided_by == {c.id for c in tv.unknown}
        for outcome in tv.criteria:
            node = f"criterion:{tv.trial.id}/{outcome.id}"
            data = graph.nodes[node]
            assert data["outcome"] == outcome.outcome
            if outcome.outcome == "unknown":
                needs = children(graph, node, "needs")
                assert {graph.nodes[m]["path"] for m in needs} == set(outcome.missing)
                for m in needs:
                    assert children(graph, m, "would_use"), f"{m}: no rule would read it"
                assert children(graph, node, "to_decide"), f"{node}: nothing says what would decide it"
            else:
                (proof,) = children(graph, node, "proof")
                holds = (outcome.outcome == "fail") != (outcome.kind == "inclusion")
                assert graph.nodes[proof]["pred"] == ("crit_holds" if holds else "crit_lacks")
                assert graph.nodes[proof]["args"] == [PATIENT, tv.trial.id, outcome.id]


def check(record, trial_ids=None):
    graph = explain(record, trial_ids)
    book = rulebook()
    with engine().patient(record) as session:
        Checker(graph, record, session).run()
        verdicts = trial_verdicts(book, session.evaluation(trial_ids), trial_ids)
    check_verdict_edges(graph, verdicts)
    return graph


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_criterion_of_every_example_is_explained_exactly(path):
    record = load_input(path, AS_OF)
    record = dataclasses.replace(record, filename=str(path.relative_to(ROOT)))
    graph = check(record)
    explained = {(d["trial"], d["criterion"]) for _n, d in graph.nodes(data=True) if d["kind"] == "criterion"}
    assert explained == {(t.id, c.id) for t in rulebook().trials.values() for c in t.criteria}


def test_checker_catches_a_wrong_source_path_and_a_false_binding(eligible):
    """The checker itself can fail: tamper with a graph and it must object."""
    from reasoner.record.read import record_from_data

    record = record_from_data(eligible, "p.yaml", AS_OF)
    graph = explain(record, ["taormina"])
    fact = next(n for n, d in graph.nodes(data=True) if d["kind"] == "fact" and d["pred"] == "lesion")
    graph.nodes[fact]["source_path"] = "metastases[9]"
    with engine().patient(record) as session, pytest.raises(AssertionError, match="wrong source"):
        Checker(graph, record, session).check_fact(fact)
    rule = next(n for n, d in graph.nodes(data=True) if d["kind"] == "rule" and d["pred"] == "crit_holds"
                and d["args"][2] == "I2")
    graph.nodes[rule]["bindings"] = {**graph.nodes[rule]["bindings"], "A": 17}
    with engine().patient(record) as session, pytest.raises(AssertionError):
        Checker(graph, record, session).check_rule(rule)
