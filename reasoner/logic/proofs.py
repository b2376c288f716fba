"""Minimal proofs and refutations, rebuilt by re-querying rule bodies while a patient's facts are asserted.

pyDatalog keeps no proofs. For a derived fact we try each clause defining it (reasoner/logic/clauses.py
structures), unify the head with the fact and walk the body left to right as pyDatalog does,
asking the engine for the matches of each literal under the bindings found so far. Values go to
the engine as constants (Session.query), never as program text. Of all the ways to derive a fact
we keep one with the fewest rule applications. A negated literal gets a refutation: what was
looked for, which recorded items were examined, and why each fell short.
"""

import ast
from dataclasses import dataclass

from ..record.predicates import BASE
from .clauses import COMPARE_FUNC, Aggregate, Atom, Comparison, Const, FunctionValue, Var, bound_value, evaluate
from .rulebook import HOLDS, LACKS, STRATUM

MAX_REFUTATION_DEPTH = 4     # nested "why not" levels before a refutation is only stated
MAX_ATTEMPTS = 40            # candidates explained per clause of a refutation
INFINITE = float("inf")
PATIENT_ARG = "patient"      # engine.PATIENT (not imported: proofs must not load the engine)


def sort_key(row):
    """Answers come back in varying order; sort mixed-type tuples reproducibly."""
    return tuple((0, v, "") if isinstance(v, (bool, int, float)) else (1, 0, str(v)) for v in row)


@dataclass(frozen=True)
class FactStep:
    """A base fact (patient or reference) that a body literal matched."""
    pred: str
    args: tuple
    cost: int = 0


@dataclass(frozen=True)
class CompareStep:
    literal: Comparison
    left: object
    right: object
    holds: bool
    cost: int = 0


@dataclass(frozen=True)
class Derivation:
    """pred(args) derived by clause with bindings; steps follow the clause body."""
    pred: str
    args: tuple
    clause: object
    bindings: tuple      # ((variable, value), ...) in first-binding order
    steps: tuple
    cost: int


@dataclass(frozen=True)
class AggregateProof:
    """func[keys] == value: the aggregate clause and every body solution it counted."""
    func: str
    keys: tuple
    value: object
    clause: object
    rows: tuple          # ((bindings, steps), ...)
    cost: int


@dataclass(frozen=True)
class FunctionStep:
    literal: FunctionValue
    proof: AggregateProof
    cost: int


@dataclass(frozen=True)
class NegationStep:
    """~pred(pattern) held: nothing matched (None = any value)."""
    literal: Atom
    pattern: tuple
    refutation: object
    cost: int = 0


@dataclass(frozen=True)
class Attempt:
    """A partial match of a clause body that stops at literal `failed`, for `reason`."""
    bindings: tuple
    steps: tuple         # the literals before `failed`, which held
    failed: int
    reason: object       # CompareStep (false), FactStep/Derivation (a negated literal exists),
                         # Refutation (a positive literal found nothing), or None (not evaluable)


@dataclass(frozen=True)
class ClauseRefutation:
    clause: object
    attempts: tuple
    complete: bool       # False when attempts were cut at MAX_ATTEMPTS


@dataclass(frozen=True)
class Refutation:
    """Nothing matches pred(pattern). Base predicates: the recorded facts examined and the record
    gaps that would hold such a fact; derived ones: per clause, why each candidate fell short."""
    pred: str
    pattern: tuple
    base: bool
    examined: tuple = ()     # FactStep
    gaps: tuple = ()         # record paths left out that would feed pred(pattern)
    clauses: tuple = ()      # ClauseRefutation
    detailed: bool = True    # False beyond MAX_REFUTATION_DEPTH


PER_GOAL = {HOLDS, LACKS, STRATUM}    # asked per goal, never as a whole relation (Prover._relation)


class Prover:
    """Proof search for one patient session (facts asserted), memoised per goal."""

    def __init__(self, session, book, rows=None):
        """rows: (relations, complete) from the fast engine (FastEngine.relations) when its
        answers for this patient agree with the session's: the whole relations proofs scan."""
        self.session = session
        self._rows, self._complete = rows if rows is not None else ({}, frozenset())
        self.defs = book.definitions()
        self._answers = {}
        self._relations = {}
        self._functions = {}
        self._best = {}
        self._refuted = {}
        self._stack = set()
        self._cuts = 0

    # -- the engine, cached -------------------------------------------------------------------
    def matches(self, pred, pattern):
        key = (pred, pattern)
        if key not in self._answers:
            rows = self._relation(pred, len(pattern))
            if rows is None:
                found = self.session.query(pred, list(pattern))
            else:
                found = [row for row in rows if _fits(pattern, row)]
            self._answers[key] = sorted(found, key=sort_key)
        return self._answers[key]

    def _relation(self, pred, arity):
        """All of pred's rows for this patient, asked once: a proof asks the same predicate with
        many patterns (one engine query costs ~0.2 ms, a scan of a patient's rows microseconds).
        None when the rules cannot answer it with every argument free (a comparison would read an
        unbound variable), or for the criteria's sides (all of them would judge every trial): then
        each pattern is asked as given."""
        from pyDatalog.util import DatalogError

        key = (pred, arity)
        if pred in self._complete:
            return self._rows.get(pred, ())
        if pred in PER_GOAL:
            return None
        if key not in self._relations:
            try:
                self._relations[key] = self.session.query(pred, [None] * arity)
            except DatalogError:
                self._relations[key] = None
        return self._relations[key]

    def function_rows(self, func, keys):
        key = (func, keys)
        if key not in self._functions:
            if func in self._complete:
                found = [row for row in self._rows.get(func, ()) if _fits(keys, row)]
            else:
                found = self.session.function(func, list(keys))
            self._functions[key] = sorted(found, key=sort_key)
        return self._functions[key]

    # -- proofs --------------------------------------------------------------------------------
    def prove(self, pred, args):
        """The derivation of ground pred(args) with the fewest rule applications (None if none)."""
        goal = (pred, tuple(args))
        if goal in self._best:
            return self._best[goal]
        if goal in self._stack:
            self._cuts += 1
            return None
        self._stack.add(goal)
        cuts = self._cuts
        best = None
        try:
            for clause in self.candidates(pred, goal[1]):
                if isinstance(clause.head, Aggregate):
                    continue
                start = unify(clause.head.args, goal[1], {})
                if start is None:
                    continue
                for bindings, instances in self.solutions(clause.body, start):
                    derivation = self._derivation(pred, goal[1], clause, bindings, instances,
                                                  best.cost if best else INFINITE)
                    if derivation and (best is None or derivation.cost < best.cost):
                        best = derivation
        finally:
            self._stack.discard(goal)
        if self._cuts == cuts or not self._stack:
            self._best[goal] = best
        return best

    def candidates(self, pred, args):
        """Clauses of pred whose head constants agree with args (criterion clauses are many)."""
        positions, index = _heads(self.defs, pred)
        group = index.get(tuple(args[i] for i in positions), ())
        return [clause for consts, clause in group if all(args[i] == v for i, v in consts)]

    def step(self, instance):
        """A literal instance of a complete body solution -> its proof step (None if unprovable)."""
        kind = instance[0]
        if kind == "atom":
            _, pred, args = instance
            return FactStep(pred, args) if pred in BASE else self.prove(pred, args)
        if kind == "fn":
            _, lit, keys, value = instance
            proof = self.aggregate(lit.func, keys, value)
            return FunctionStep(lit, proof, proof.cost) if proof else None
        if kind == "neg":
            _, lit, pattern = instance
            return NegationStep(lit, pattern, None)
        _, lit, left, right = instance
        return CompareStep(lit, left, right, True)

    def _derivation(self, pred, args, clause, bindings, instances, bound):
        steps, cost = [], 1
        for instance in instances:
            step = self.step(instance)
            if step is None:
                return None
            steps.append(step)
            cost += step.cost
            if cost >= bound:
                return None
        return Derivation(pred, args, clause, tuple(bindings.items()), tuple(steps), cost)

    def refutation_of(self, step, depth=0):
        """The refutation behind a NegationStep (computed on demand: only chosen proofs need it)."""
        return self.refute(step.literal.pred, step.pattern, depth)

    def aggregate(self, func, keys, value):
        """The aggregate clause's rows for func[keys] (value as pyDatalog computed it)."""
        for clause in self.defs.get(func, []):
            if not isinstance(clause.head, Aggregate):
                continue
            start = unify(clause.head.args, keys, {})
            if start is None:
                continue
            rows, cost = [], 1
            for bindings, instances in self.solutions(clause.body, start):
                steps = [self.step(i) for i in instances]
                if any(s is None for s in steps):
                    continue
                rows.append((tuple(bindings.items()), tuple(steps)))
                cost += sum(s.cost for s in steps)
            return AggregateProof(func, tuple(keys), value, clause, tuple(rows), cost)
        return None

    # -- body evaluation -----------------------------------------------------------------------
    def solutions(self, body, bindings, index=0, instances=()):
        """Every complete match of body[index:] under bindings: (bindings, literal instances)."""
        if index == len(body):
            yield dict(bindings), instances
            return
        for outcome, extended, instance in self.literal(body[index], bindings):
            if outcome:
                yield from self.solutions(body, extended, index + 1, instances + (instance,))

    def literal(self, lit, bindings):
        """Outcomes of one literal under bindings: [(held, extended bindings, instance-or-reason)]."""
        if isinstance(lit, Comparison):
            return [self._compare(lit, bindings)]
        if isinstance(lit, FunctionValue):
            keys = tuple(bound_value(t, bindings) for t in lit.args)
            wanted = bound_value(lit.value, bindings)
            out = []
            for row in self.function_rows(lit.func, keys):
                extended = unify(lit.args + (lit.value,), row, dict(bindings))
                if extended is not None:
                    out.append((True, extended, ("fn", lit, row[:-1], row[-1])))
            if not out:
                out.append((False, bindings, ("nofn", lit, keys, wanted)))
            return out
        pattern = tuple(bound_value(t, bindings) for t in lit.args)
        rows = self.matches(lit.pred, pattern)
        if lit.negated:
            if rows:
                return [(False, bindings, ("exists", lit.pred, rows))]
            return [(True, bindings, ("neg", lit, pattern))]
        out = []
        for row in rows:
            extended = unify(lit.args, row, dict(bindings))
            if extended is not None:
                out.append((True, extended, ("atom", lit.pred, tuple(row))))
        if not out:
            out.append((False, bindings, ("none", lit.pred, pattern)))
        return out

    def _compare(self, lit, bindings):
        try:
            if lit.op == "==" and _unbound_name(lit.left, bindings):
                value = evaluate(lit.right, bindings)
                extended = dict(bindings)
                extended[lit.left.id] = value
                return True, extended, ("cmp", lit, value, value)
            left, right = evaluate(lit.left, bindings), evaluate(lit.right, bindings)
            held = bool(COMPARE_FUNC[lit.op](left, right))
        except (KeyError, TypeError, ValueError):
            return False, bindings, ("cmp?", lit, None, None)
        return held, bindings, ("cmp", lit, left, right)

    # -- refutations ---------------------------------------------------------------------------
    def refute(self, pred, pattern, depth=0):
        """Why nothing matches pred(pattern) (None = any)."""
        key = (pred, tuple(pattern), depth >= MAX_REFUTATION_DEPTH)
        if key in self._refuted:
            return self._refuted[key]
        if pred in BASE:
            result = self._refute_base(pred, tuple(pattern))
        elif depth >= MAX_REFUTATION_DEPTH:
            result = Refutation(pred, tuple(pattern), False, detailed=False)
        else:
            parts = []
            for clause in self._refutable(pred, pattern):
                # an aggregate's value is not its target variable (len_(L) counts L): only its keys
                # constrain the clause; a value that differs is the caller's to say (query.py)
                head = clause.head.args
                start = unify(head, pattern[:len(head)], {}, partial=True)
                if start is not None:
                    parts.append(self._refute_clause(clause, start, depth))
            result = Refutation(pred, tuple(pattern), False, clauses=tuple(parts))
        self._refuted[key] = result
        return result

    def _refutable(self, pred, pattern):
        """Clauses of pred whose head constants can match pattern (None = any), in their order: the
        head index's group when the pattern fixes every indexed position, else all (a superset of
        those that unify: one cold check unified ~14,000 criterion heads with its patterns)."""
        positions, index = _heads(self.defs, pred)
        if positions and all(i < len(pattern) and pattern[i] is not None for i in positions):
            return [clause for _consts, clause in index.get(tuple(pattern[i] for i in positions), ())]
        return self.defs.get(pred, [])

    def _refute_base(self, pred, pattern):
        first = 1 if BASE[pred].patient else 0
        positions = [i for i, v in enumerate(pattern) if v is not None and i >= first]
        examined = ()
        if len(pattern) - first > 1 and positions:
            # What the record does hold for the same item: drop the last constraint.
            wider = list(pattern)
            wider[positions[-1]] = None
            examined = tuple(FactStep(pred, tuple(row)) for row in self.matches(pred, tuple(wider)))
        gaps = sorted({g.path for g in self.session.facts.gaps
                       if g.pred == pred and self._same_item(g.path, pattern)
                       and all(pos >= len(pattern) or pattern[pos] is None or pattern[pos] == v for pos, v in g.key)})
        return Refutation(pred, pattern, True, examined=examined, gaps=tuple(gaps))

    def _same_item(self, gap_path, pattern):
        """A gap inside a list item (metastases[2].size_mm) concerns the item the pattern names, if any."""
        item = pattern[1] if len(pattern) > 1 and pattern[0] == PATIENT_ARG else None
        if item is None or "[" not in gap_path:
            return True
        prefix = gap_path[:gap_path.index("]") + 1]
        owners = {f.args[0] for f in self.session.facts.facts if f.path == prefix and f.args}
        return not owners or item in owners

    def _refute_clause(self, clause, start, depth):
        attempts = []
        complete = self._attempts(clause.body, start, 0, (), attempts, depth)
        return ClauseRefutation(clause, tuple(attempts), complete)

    def _attempts(self, body, bindings, index, steps, out, depth):
        """Depth-first over partial matches; each dead end becomes an Attempt. False if cut short."""
        if len(out) >= MAX_ATTEMPTS:
            return False
        if index == len(body):
            raise AssertionError(f"refutation found a match of {body!r}: the engine and the explainer disagree")
        complete = True
        for held, extended, instance in self.literal(body[index], bindings):
            if held:
                step = self.step(instance)
                if step is None:
                    continue
                complete &= self._attempts(body, extended, index + 1, steps + (step,), out, depth)
            else:
                out.append(Attempt(tuple(bindings.items()), steps, index, self._reason(instance, depth)))
            if len(out) >= MAX_ATTEMPTS:
                return False
        return complete

    def _reason(self, instance, depth):
        kind = instance[0]
        if kind == "cmp":
            _, lit, left, right = instance
            return CompareStep(lit, left, right, False)
        if kind == "exists":
            _, pred, rows = instance
            if pred in BASE:
                return FactStep(pred, tuple(rows[0]))
            proofs = [p for p in (self.prove(pred, tuple(r)) for r in rows) if p]
            return min(proofs, key=lambda p: p.cost) if proofs else None
        if kind == "none":
            _, pred, pattern = instance
            return self.refute(pred, pattern, depth + 1)
        if kind == "nofn":
            _, lit, keys, _wanted = instance
            if self.function_rows(lit.func, keys):   # it has a value, only not the one wanted
                return None
            return self.refute(lit.func, keys, depth + 1)
        return None


_HEADS = {}


def _heads(defs, pred):
    """(positions where every clause of pred has a head constant, {their values: [(constants, clause)]})."""
    key = (id(defs), pred)
    if key not in _HEADS:
        entries = [(tuple((i, t.value) for i, t in enumerate(c.head.args) if isinstance(t, Const)), c)
                   for c in defs.get(pred, [])]
        positions = set.intersection(*(set(i for i, _v in consts) for consts, _c in entries)) if entries else set()
        positions = tuple(sorted(positions))
        index = {}
        for consts, clause in entries:
            values = dict(consts)
            index.setdefault(tuple(values[i] for i in positions), []).append((consts, clause))
        _HEADS[key] = (positions, index)
    return _HEADS[key]


def _fits(pattern, row):
    """Whether row matches pattern (None = any), as the engine matches constants: 1 is not '1'."""
    return all(want is None or (want == have and type(want) is type(have)) for want, have in zip(pattern, row))


def unify(terms, values, bindings, partial=False):
    """Extend bindings so that terms match values (None in values = unconstrained if partial)."""
    out = dict(bindings)
    for term, value in zip(terms, values):
        if value is None and partial:
            continue
        if isinstance(term, Const):
            if not _same(term.value, value):
                return None
        elif isinstance(term, Var):
            if term.name in out:
                if not _same(out[term.name], value):
                    return None
            else:
                out[term.name] = value
    return out


def _same(a, b):
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                                and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _unbound_name(node, bindings):
    return isinstance(node, ast.Name) and node.id not in bindings
