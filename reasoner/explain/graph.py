"""Derivation graphs (networkx) for why a patient is, is not, or cannot yet be judged eligible.

One DiGraph holds, per trial (and stage), the verdict node with edges to its deciding criteria;
each decided criterion with one minimal proof of the holds/lacks fact that decided it (rule nodes
with file:line and bindings, base facts with their record source, comparisons with values,
aggregates with what they counted, negations with what was looked for and not found); each
unknown criterion with the missing record inputs and the rules that would have read them.
Proofs are rebuilt by reasoner/logic/proofs.py while the patient's facts are asserted. Every renderer
starts from this graph; node and edge attributes are documented in docs/explanations.md.
"""

from collections import deque

import networkx as nx

from .. import __version__
from ..errors import InputError
from ..logic.clauses import Aggregate, Atom, FunctionValue, bound_value, match_pattern
from ..logic.engine import PATIENT, engine
from ..logic.proofs import AggregateProof, CompareStep, Derivation, FactStep, FunctionStep, NegationStep, Prover, Refutation
from ..logic.rulebook import HOLDS, LACKS, STRATUM, rulebook
from ..record.edit import source_file, what_if
from ..record.facts import reference_facts
from ..record.predicates import BASE, where
from ..verdict.outcomes import ELIGIBLE, FAIL, INELIGIBLE, UNKNOWN, trial_verdicts
from .decide import Finder
from .phrasebook import clause_kinds, phrasebook


def explain(record, trial_ids=None, criterion=None):
    """The explanation graph of record for the given trials (default: all) or one criterion."""
    book = rulebook()
    trial_ids = list(trial_ids or book.trials)
    for tid in trial_ids:
        trial = book.trial(tid)
        if criterion is not None and not any(c.id == criterion for c in trial.criteria):
            raise InputError(f"--criterion: trial {tid} has no criterion {criterion!r}; "
                             f"expected one of: {', '.join(c.id for c in trial.criteria)}")
    with engine().patient(record) as session:
        evaluation = session.evaluation(trial_ids)
        verdicts = trial_verdicts(book, evaluation, trial_ids)
        builder = Builder(book, record, session, fast_rows(record, evaluation, trial_ids))
        builder.graph.graph["criterion"] = criterion
        for tv in verdicts:
            builder.trial(tv, criterion)
    return builder.graph


_phrasebook = phrasebook   # the one cached Phrasebook per rule set (explain/phrasebook.py)


def fast_rows(record, evaluation, trial_ids=None):
    """The fast engine's relations for record (logic/fastlog.py), for proof search to scan instead
    of asking pyDatalog one query per predicate (~1.6x faster explain), when its criteria outcomes
    agree with the reference engine's evaluation; None (pyDatalog throughout) when they do not, or
    when the rules are outside what the fast engine compiles. The verdicts are pyDatalog's either way."""
    from ..errors import RuleError
    from ..logic.fastlog import fast_engine

    try:
        relations, complete = fast_engine().relations(record, trial_ids)
    except RuleError:
        return None
    holds = {(t, c) for _p, t, c in relations.get(HOLDS, ())}
    lacks = {(t, c) for _p, t, c in relations.get(LACKS, ())}
    strata = {}
    for _p, trial, name, value in relations.get(STRATUM, ()) if STRATUM else ():
        strata.setdefault((trial, name), set()).add(value)
    agree = (holds, lacks, strata) == (evaluation.holds, evaluation.lacks, evaluation.strata)
    return (relations, complete) if agree else None


class Builder:
    """Adds trial, criterion and proof nodes for one patient session; node ids are stable so a
    fact or derivation used twice is one node (the graph is a DAG, not a tree)."""

    def __init__(self, book, record, session, rows=None):
        self.book = book
        self.record = record
        self.prover = Prover(session, book, rows)
        self.words = phrasebook(book)
        self.graph = nx.DiGraph(
            patient=record.patient_id, as_of=record.as_of.isoformat(), input=record.filename,
            input_sha256=record.sha256, ruleset_sha256=book.sha256, rules=book.folder, tool_version=__version__,
            condensed=False, overlays=list(getattr(record, "overlays", ())), what_if=what_if(record))
        self.sources = {}
        self.items = {}      # list item id (M1, ADJ2) -> its record path (metastases[0])
        for fact in session.facts.facts:
            if fact.args and fact.path.endswith("]") and "." not in fact.path:
                self.items.setdefault(fact.args[0], fact.path)
            file = None if fact.path == "--as-of" else source_file(record, fact.path)   # the command line is not the record
            self.sources.setdefault((fact.pred, (PATIENT,) + fact.args), []).append((file, fact.path))
        for fact in reference_facts():
            file, _, key = fact.path.partition(": ")
            self.sources.setdefault((fact.pred, fact.args), []).append((file, key))
        self.fhir = record.data.get("sources") or {}   # FHIR import: record path -> "Type/id element"
        self.finder = Finder(book, session, self.prover)
        self.gaps = {}
        self._fed_paths = {}
        self._gaps_of = {}
        for gap in session.facts.gaps:
            self._gaps_of.setdefault(gap.pred, []).append(gap)
            self.gaps.setdefault(gap.path, []).append(gap)

    # -- graph helpers ---------------------------------------------------------------------------
    def node(self, node_id, **attrs):
        if node_id not in self.graph:
            self.graph.add_node(node_id, **attrs)
        return node_id

    def edge(self, parent, child, role, **attrs):
        if not self.graph.has_edge(parent, child):
            self.graph.add_edge(parent, child, role=role, order=self.graph.out_degree(parent), **attrs)

    # -- trial and criteria ----------------------------------------------------------------------
    def trial(self, tv, only=None):
        tid = f"trial:{tv.trial.id}" + (f"@{tv.stage}" if tv.stage else "")
        deciding = {INELIGIBLE: {c.id for c in tv.failing}, ELIGIBLE: {c.id for c in tv.criteria}}.get(
            tv.verdict, {c.id for c in tv.unknown})
        self.node(tid, kind="trial", label=self.words.trial(tv, self.record.patient_id, self.record.as_of.isoformat()),
                  cite=tv.trial.file, trial=tv.trial.id, name=tv.trial.name, registry=tv.trial.registry,
                  protocol_version=tv.trial.version, stage=tv.stage, verdict=tv.verdict,
                  deciding=sorted(deciding, key=_protocol_order(tv)))
        others = [c for c in tv.criteria if c.id not in deciding and (only is None or c.id == only)]
        for outcome in tv.criteria:
            if outcome.id in deciding and (only is None or outcome.id == only):
                self.edge(tid, self.criterion(outcome), "decided_by")
        if others:
            group = self.node(f"{tid}#others", kind="group", label=self.words.other_criteria(len(others)), cite=None)
            self.edge(tid, group, "also_evaluated")
            for outcome in others:
                self.edge(group, self.criterion(outcome), "criterion")
        return tid

    def criterion(self, outcome):
        crit = outcome.criterion
        cid = f"criterion:{crit.trial}/{crit.id}"
        if cid in self.graph:
            return cid
        side = None
        if outcome.outcome != UNKNOWN:
            met = (outcome.outcome == FAIL) != (crit.kind == "inclusion")
            side = "holds" if met else "lacks"
        self.node(cid, kind="criterion", label=self.words.criterion(outcome), cite=f"{crit.file}:{crit.line}",
                  trial=crit.trial, criterion=crit.id, criterion_kind=crit.kind, outcome=outcome.outcome,
                  side=side, text=" ".join(crit.text.split()), reading=" ".join(crit.reading.split()),
                  missing=list(outcome.missing))
        if side:
            proof = self.prover.prove(HOLDS if side == "holds" else LACKS, (PATIENT, crit.trial, crit.id))
            if proof is None:
                raise AssertionError(f"{crit.trial}/{crit.id}: the engine decided {side} but no proof was rebuilt")
            self.edge(cid, self.derivation(proof), "proof")
        else:
            self.unknown(cid, crit, outcome.missing)
        return cid

    # -- proofs ------------------------------------------------------------------------------------
    def derivation(self, d):
        nid = f"rule:{_atom_id(d.pred, d.args)}"
        if nid in self.graph:
            return nid
        bindings = dict(d.bindings)
        self.node(nid, kind="rule", label=self.words.derivation(d.pred, d.args, d.clause), cite=d.clause.where,
                  pred=d.pred, args=list(d.args), where=d.clause.where, clause=d.clause.text,
                  bindings=bindings, cost=d.cost)
        summary = self.words.uln(d.pred, bindings, self._lab_unit(bindings.get("I")))
        if summary:
            self.graph.nodes[nid]["summary"] = summary
        self.steps(nid, d.clause, d.steps, bindings, 0)
        return nid

    def _lab_unit(self, lab_id):
        """The unit a lab result was recorded in (lab_uln_pair holds values in it)."""
        path = self.items.get(lab_id)
        if not path or not path.startswith("labs["):
            return None
        labs = self.record.data.get("labs") or []
        index = int(path[5:path.index("]")])
        return labs[index].get("unit") if index < len(labs) else None

    def steps(self, parent, clause, steps, bindings, depth, prefix=""):
        kinds = clause_kinds(clause, self.words.kinds)
        units = self.words.units(clause, bindings)
        for index, step in enumerate(steps):
            self.edge(parent, self.step(step, f"{parent}#{prefix}{index}", bindings, kinds, depth, units), "body")

    def step(self, step, local_id, bindings, kinds, depth, units=None):
        if isinstance(step, FactStep):
            return self.fact(step.pred, step.args)
        if isinstance(step, Derivation):
            return self.derivation(step)
        if isinstance(step, CompareStep):
            return self.node(local_id, kind="comparison", cite=None,
                             label=self.words.comparison(step.literal, step.holds, bindings, kinds),
                             shown=self.words.comparison_in_units(step.literal, step.holds, bindings, kinds, units or {}),
                             text=step.literal.text, op=step.literal.op, left=_plain(step.left),
                             right=_plain(step.right), holds=step.holds)
        if isinstance(step, FunctionStep):
            return self.aggregate(step.proof)
        if isinstance(step, NegationStep):
            return self.refutation(self.prover.refutation_of(step, depth), depth)
        raise TypeError(step)

    def fact(self, pred, args):
        nid = f"fact:{_atom_id(pred, args)}"
        if nid in self.graph:
            return nid
        sources = self.sources.get((pred, tuple(args)))
        if not sources:
            raise AssertionError(f"{pred}{args}: the engine matched a fact the record does not give")
        file, path = sources[0]
        fhir = fhir_source(self.fhir, path) if BASE[pred].patient and file == self.record.filename else None
        cite = self.words.source_cite(file, path if fhir is None else fhir)
        self.node(nid, kind="fact", label=self.words.fact(pred, args), cite=cite,
                  pred=pred, args=list(args), source_file=file, source_path=path,
                  other_sources=[p for _f, p in sources[1:]], reference=not BASE[pred].patient)
        if fhir is not None:
            resource, _, element = fhir.partition(" ")
            self.graph.nodes[nid].update(source_fhir=fhir, source_resource=resource, source_element=element)
        return nid

    def aggregate(self, proof: AggregateProof):
        nid = f"agg:{_atom_id(proof.func, proof.keys)}"
        if nid in self.graph:
            return nid
        target = proof.clause.head.target.name
        counted = []
        for bindings, _steps in proof.rows:
            value = dict(bindings).get(target)
            if value not in counted:
                counted.append(value)
        self.node(nid, kind="aggregate", label=self.words.aggregate(proof, counted), cite=proof.clause.where,
                  shown=self.words.witness(proof.func, proof.clause.head.agg, proof.value, proof.keys),
                  target=target, func=proof.func, keys=list(proof.keys), value=_plain(proof.value), agg=proof.clause.head.agg,
                  where=proof.clause.where, clause=proof.clause.text, counted=[_plain(v) for v in counted],
                  rows=[dict(bindings) for bindings, _steps in proof.rows])
        kinds = clause_kinds(proof.clause, self.words.kinds)
        rows = list(enumerate(proof.rows))
        if proof.clause.head.agg in ("max_", "min_"):
            # the row that gives the value first: it is the one a reader looks for
            rows.sort(key=lambda row: dict(row[1][0]).get(target) != proof.value)
        for r, (bindings, steps) in rows:
            for index, step in enumerate(steps):
                child = self.step(step, f"{nid}#r{r}.{index}", dict(bindings), kinds, 0)
                self.edge(nid, child, "counted", row=r)
        return nid

    # -- negation: what was looked for and not found -------------------------------------------
    def refutation(self, ref: Refutation, depth):
        nid = f"not:{_atom_id(ref.pred, ref.pattern)}" + ("" if ref.detailed else "~")
        if nid in self.graph:
            return nid
        if ref.base:
            examined = [self.words.fact(s.pred, s.args) for s in ref.examined]
            self.node(nid, kind="absent", label=self.words.absent(ref.pred, ref.pattern, examined, list(ref.gaps)),
                      cite=self._base_cite(ref.pred, ref.pattern), pred=ref.pred, pattern=list(ref.pattern), gaps=list(ref.gaps))
            for s in ref.examined:
                self.edge(nid, self.fact(s.pred, s.args), "examined")
            return nid
        if not ref.detailed:
            return self.node(nid, kind="negation", label=self.words.not_detailed(ref.pred, ref.pattern), cite=None,
                             pred=ref.pred, pattern=list(ref.pattern), detailed=False, complete=True, rules=None)
        candidates = []
        for part in ref.clauses:
            for attempt in part.attempts:
                if attempt.steps:
                    phrase = self._step_phrase(attempt.steps[0])
                    if phrase not in candidates:
                        candidates.append(phrase)
        complete = all(p.complete for p in ref.clauses)
        self.node(nid, kind="negation", cite=None, pred=ref.pred, pattern=list(ref.pattern), detailed=True,
                  complete=complete, rules=len(ref.clauses),
                  label=self.words.negation(ref.pred, ref.pattern, candidates, complete, len(ref.clauses)))
        for c, part in enumerate(ref.clauses):
            rid = self.node(f"{nid}#c{c}", kind="rule_ref", label=self.words.rule_not_applied(part.clause),
                            cite=part.clause.where, where=part.clause.where, clause=part.clause.text, applies=False)
            self.edge(nid, rid, "refuted_by")
            kinds = clause_kinds(part.clause, self.words.kinds)
            for a, attempt in enumerate(part.attempts):
                bindings = dict(attempt.bindings)
                units = self.words.units(part.clause, bindings)
                reason = self._reason(attempt.reason, f"{rid}#a{a}#fail", bindings, kinds, depth, units)
                uln = self.words.uln(part.clause.head.pred, bindings, self._lab_unit(bindings.get("I")))
                if uln and reason and self.graph.nodes[reason]["kind"] == "comparison":
                    self.graph.nodes[reason]["shown"] = f"not {uln}"
                if not attempt.steps:
                    # Nothing matched the first condition: the reason is the whole story.
                    if reason:
                        self.edge(rid, reason, "fails")
                    continue
                aid = self.node(f"{rid}#a{a}", kind="attempt", cite=None, bindings=bindings,
                                candidate=self._step_phrase(attempt.steps[0]),
                                failed_index=attempt.failed,
                                failed_literal=_literal_text(part.clause.body[attempt.failed]),
                                label=self.words.attempt(self._step_phrase(attempt.steps[0]),
                                                         self.graph.nodes[reason]["label"] if reason else None))
                self.edge(rid, aid, "attempt")
                for index, step in enumerate(attempt.steps):
                    self.edge(aid, self.step(step, f"{aid}#{index}", bindings, kinds, depth + 1), "matched")
                if reason:
                    self.edge(aid, reason, "fails")
        return nid

    # -- any goal (eligo query) ---------------------------------------------------------------------
    def goal(self, pred, args):
        """The proof node of ground pred(args): a base fact, a derived fact's minimal proof, or, for
        an aggregate function (args: its keys, then its value), what it counted. None if the rules
        do not derive it."""
        args = tuple(args)
        if pred in BASE:
            return self.fact(pred, args) if self.prover.matches(pred, args) else None
        clauses = self.prover.defs.get(pred, [])
        if clauses and isinstance(clauses[0].head, Aggregate):
            if args[-1] not in [row[-1] for row in self.prover.function_rows(pred, args[:-1])]:
                return None
            proof = self.prover.aggregate(pred, args[:-1], args[-1])
            return self.aggregate(proof) if proof else None
        proof = self.prover.prove(pred, args)
        return self.derivation(proof) if proof else None

    def why_not(self, pred, pattern):
        """The node saying why nothing matches pred(pattern) (None = any value): per clause that
        could derive it, the first condition each candidate fails, and why."""
        return self.refutation(self.prover.refute(pred, tuple(pattern)), 0)

    def other_value(self, func, keys, value, rows):
        """Why an aggregate function's goal with a value does not hold: the rules give another
        value (each with its proof)."""
        nid = f"not:{_atom_id(func, tuple(keys) + (value,))}"
        agg = self.prover.defs[func][0].head.agg
        shown = [self.words.witness(func, agg, row[-1], keys) for row in rows]
        self.node(nid, kind="negation", cite=None, pred=func, pattern=list(keys) + [value], detailed=True,
                  complete=True, rules=len(self.prover.defs[func]),
                  label=self.words.other_value(self.words.witness(func, agg, value, keys), shown))
        for row in rows:
            self.edge(nid, self.goal(func, row), "refuted_by")
        return nid

    def _reason(self, reason, local_id, bindings, kinds, depth, units=None):
        """The node saying why an attempt stopped: a false comparison, a fact or derivation that a
        negated condition forbids, or a refutation of a positive condition."""
        if reason is None:
            return None
        if isinstance(reason, Refutation):
            return self.refutation(reason, depth + 1)
        return self.step(reason, local_id, bindings, kinds, depth, units)

    def _step_phrase(self, step):
        if isinstance(step, (FactStep, Derivation)):
            return self.words.atom(step.pred, step.args)
        if isinstance(step, FunctionStep):
            return self.words.atom(step.proof.func, step.proof.keys + (step.proof.value,))
        return _literal_text(step.literal)

    def _base_cite(self, pred, pattern):
        if not BASE[pred].patient:
            return where(pred)
        consts = {i: v for i, v in enumerate(pattern) if v is not None and i > 0}
        path = where(pred, consts)
        item = self.items.get(pattern[1]) if len(pattern) > 1 and "[]" in path else None
        if item and path.startswith(item.split("[")[0] + "[]"):
            path = item + path[len(item.split("[")[0]) + 2:]
        return self.words.source_cite(self.record.filename, path)

    # -- unknown: what is missing, and which rules would read it -------------------------------
    def unknown(self, cid, crit, missing):
        chains = {}
        for index, clause in enumerate(crit.clauses):
            for (pred, pattern), chain in input_chains(self.book, clause).items():
                fed = self._fed(pred, pattern)
                for path in missing:
                    if path in fed:
                        best = chains.get((path, index))
                        if best is None or len(chain) < len(best):
                            chains[(path, index)] = chain
        absent = set(self.gaps)
        for n, need in enumerate(self.finder.needs(crit)):
            did = self.node(f"decide:{crit.trial}/{crit.id}#{n}", kind="to_decide", label=self.words.to_decide(need),
                            cite=need.rule, side=need.side, decides=need.decides, need=need.text,
                            inputs=list(need.inputs), recorded=list(need.recorded), absent=need.absent,
                            together_with=list(need.together),
                            time_bound=need.time_bound, where=need.rule)
            self.edge(cid, did, "to_decide")
            if need.reads != need.rule:
                rid = self.node(f"{did}@{need.reads}", kind="rule_ref", cite=need.reads, where=need.reads,
                                clause=need.reads_text, applies=False, label=f"read by: {need.reads_text}")
                self.edge(did, rid, "via")
        for path in missing:
            mid = self.node(f"missing:{crit.trial}/{crit.id}:{path}", kind="missing",
                            label=self.words.missing(path, path in absent),
                            cite=self.record.filename, path=path, absent=path in absent)
            self.edge(cid, mid, "needs")
            for index in range(len(crit.clauses)):
                chain = chains.get((path, index))
                if chain is None:
                    continue
                parent, role = mid, "would_use"
                for link in chain:
                    rid = self.node(f"{mid}@{link.where}", kind="rule_ref", cite=link.where, where=link.where,
                                    clause=link.text, applies=False,
                                    label=self.words.would_use(link))
                    self.edge(parent, rid, role)
                    parent, role = rid, "via"

    def _fed(self, pred, pattern):
        """The record paths a rule reading pred(pattern) would read: its own field, and the
        record's gaps of that predicate it matches (computed once per pattern)."""
        key = (pred, pattern)
        if key not in self._fed_paths:
            consts = {i: v for i, v in enumerate(pattern) if v is not None and i > 0}
            self._fed_paths[key] = {where(pred, consts)} | {
                gap.path for gap in self._gaps_of.get(pred, ())
                if all(pattern[pos] is None or pattern[pos] == value for pos, value in gap.key)}
        return self._fed_paths[key]


def fhir_source(sources, path):
    """The FHIR resource and element a record path came from ("Condition/abc code.coding[0]"):
    the path's own entry, else its nearest recorded ancestor, else its first recorded field (a fact
    about a whole item, e.g. metastatic_sites[0], cites the resource of its fields). None when the
    record was not imported from FHIR or the importer named no source for it."""
    if not sources:
        return None
    probe = path
    while probe:
        if probe in sources:
            return sources[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    below = sorted(k for k in sources if k.startswith(path + ".") or k.startswith(path + "["))
    return sources[below[0]] if below else None


_CHAINS = {}


def input_chains(book, clause):
    """{(base pred, pattern): [clause, ..., clause reading it]}: the shortest chain of rules from
    clause to each base-predicate pattern it can read (constants flow from caller to callee)."""
    key = (book.key, clause.where, clause.text)
    if key not in _CHAINS:
        _CHAINS[key] = _input_chains(book.definitions(), clause)
    return _CHAINS[key]


def _input_chains(defs, clause):
    out, seen = {}, set()
    queue = deque([(clause, {}, (clause,))])
    while queue:
        current, subst, chain = queue.popleft()
        for lit in current.body:
            if not isinstance(lit, (Atom, FunctionValue)):
                continue
            args = lit.args + ((lit.value,) if isinstance(lit, FunctionValue) else ())
            pattern = tuple(bound_value(a, subst) for a in args)
            if lit.pred in BASE:
                out.setdefault((lit.pred, pattern), list(chain))
                continue
            if (lit.pred, pattern) in seen:
                continue
            seen.add((lit.pred, pattern))
            for callee in defs.get(lit.pred, []):
                head = callee.head.args + ((callee.head.target,) if hasattr(callee.head, "agg") else ())
                inner = {}
                if match_pattern(head, pattern, inner):
                    queue.append((callee, inner, chain + (callee,)))
    return out


def _protocol_order(tv):
    order = {c.id: i for i, c in enumerate(tv.criteria)}
    return lambda cid: order.get(cid, len(order))


def _atom_id(pred, args):
    return f"{pred}({', '.join('_' if a is None else repr(a) for a in args)})"


def _literal_text(lit):
    return getattr(lit, "text", None) or str(lit)


def _plain(value):
    """JSON-able value (tuples from `in` lists become lists)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
