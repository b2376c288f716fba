"""What would decide an unknown criterion, in words, derived from the rule bodies.

For each holds/lacks clause of an unknown criterion, the prover's refutation (logic/proofs.py)
says where every attempt to apply it stopped. The literal that stopped the attempts that got
furthest is what the record does not give: a positive literal that found nothing (or nothing that
passes the comparisons after it) asks for such a fact, with those comparisons as its bounds; a
negated literal that found something asks for what would undo it (the negations in its proof).
The phrasebook words each wanted fact; recorded facts that were examined and fell short are named
as "recorded, but not enough to decide". Nothing here is written per criterion, so new rules get
it for free. Computed on demand (one patient session per call), never inside judge().
"""

import ast
import dataclasses
import re
from dataclasses import dataclass

from ..logic.clauses import Atom, Comparison, FunctionValue, Var, bound_value, evaluate
from ..logic.engine import PATIENT, engine
from ..logic.proofs import CompareStep, Derivation, FactStep, FunctionStep, NegationStep, Prover, Refutation
from ..logic.rulebook import HOLDS, LACKS, dependencies, rulebook
from ..record.predicates import BASE, where
from ..verdict.inputs import time_bound
from ..verdict.outcomes import UNKNOWN
from .phrasebook import FLIP, TENTHS, bound_text, clause_kinds, decides, fell_short, has_words, no_longer, phrasebook, show, wanted

_ANY_VALUE = re.compile(r"(:| on| dated)? \(\(?any\)\)?")   # "latest platelets: (any) on (any)": any value
KEY_ARGS = {"Id", "Lesion", "Kind", "Test", "Key", "Section", "Receptor", "Trial", "Criterion", "Scale", "Measure", "Which"}
MAX_DEPTH = 5    # trial helpers followed down before a wanted fact is named as the helper itself


@dataclass(frozen=True)
class Need:
    """One way to decide an unknown criterion."""
    side: str            # holds | lacks | either (the fact decides it whatever its value)
    decides: str         # "I3 met", "exclusion E2 applies"
    text: str            # the fact that would decide it, in words
    inputs: tuple        # record paths that would hold it
    recorded: tuple      # recorded facts examined that were not enough (words)
    absent: bool         # none of its inputs is in the record
    time_bound: bool     # a new observation, assessment or judgement could give it
    rule: str            # file:line of the criterion clause
    reads: str = ""      # file:line of the clause whose literal asks for it (may be a helper's)
    reads_text: str = ""
    together: tuple = ()  # what this way needs besides it, not recorded (words)

    @property
    def actionable(self):
        return self.absent or self.time_bound

    def as_json(self):
        return {"side": self.side, "decides": self.decides, "need": self.text, "inputs": list(self.inputs),
                "recorded": list(self.recorded), "absent": self.absent, "time_bound": self.time_bound,
                "rule": self.rule, "reads": self.reads, "together_with": list(self.together)}


@dataclass(frozen=True)
class _Later:
    """A literal after a wanted one, with what was bound when its clause stopped."""
    literal: object
    bindings: dict
    linked: frozenset     # its variables the wanted fact would bind
    clause: object
    index: int
    new: list             # _new_vars of its clause


@dataclass(frozen=True)
class _Want:
    pred: str
    pattern: tuple       # full arguments, None = free
    bounds: tuple        # ((position, words), ...)
    recorded: tuple = ()
    against: bool = False   # a recorded fact the rule needs absent
    clause: object = None   # the clause whose literal asks for it
    rest: tuple = ()        # _Later literals after it on its way up to the criterion, not tried


def to_decide(record, verdicts, prover=None):
    """{(trial, criterion id): [Need, ...]} for every unknown criterion in verdicts. prover: a
    proof search on this record's open session to share (caveats.needs_and_caveats)."""
    unknown = {}
    for tv in verdicts:
        for outcome in tv.criteria:
            if outcome.outcome == UNKNOWN:
                unknown.setdefault((outcome.criterion.trial, outcome.id), outcome.criterion)
    if not unknown:
        return {}
    book = rulebook()
    if prover is not None:
        finder = Finder(book, prover.session, prover)
        return {key: finder.needs(crit) for key, crit in unknown.items()}
    with engine().patient(record) as session:
        finder = Finder(book, session)
        return {key: finder.needs(crit) for key, crit in unknown.items()}


class Finder:
    """Needs of unknown criteria for one patient session."""

    def __init__(self, book, session, prover=None):
        """prover: the explanation's own (one proof search and its memo per patient)."""
        self.book = book
        self.defs = book.definitions()
        self.prover = prover or Prover(session, book)
        self.words = phrasebook(book)
        self.gap_paths = {g.path for g in session.facts.gaps}
        self.recorded_preds = {f.pred for f in session.facts.facts}
        self.recorded_items = {(f.pred, f.args[0]) for f in session.facts.facts
                               if f.args and BASE[f.pred].args[0] in ("Id", "Lesion")}
        self.items = {}      # list item id (M1, lab3) -> its record path (metastases[0])
        for fact in session.facts.facts:
            if fact.args and fact.path.endswith("]") and "." not in fact.path:
                self.items.setdefault(fact.args[0], fact.path)

    def needs(self, crit):
        out, seen = [], {}
        for side, pred in (("holds", HOLDS), ("lacks", LACKS)):
            ref = self.prover.refute(pred, (PATIENT, crit.trial, crit.id))
            found = _shared_dates([(part.clause, want) for part in ref.clauses
                                   for want in self.clause_wants(part, ref.pattern, 0)])
            for clause, want in _alternatives(found, self.words):
                need = self.need(crit, side, clause, want)
                if need is None:
                    continue
                if (side, need.text) not in seen:
                    seen[(side, need.text)] = len(out)
                    out.append(need)
                elif len(need.together) < len(out[seen[(side, need.text)]].together):
                    out[seen[(side, need.text)]] = need    # the way that needs least besides it
        if crit.needs:
            out = self.overridden(crit, out)
        out = _either_side(out, self.words, crit)
        useful = [n for n in out if n.actionable]
        if useful:
            return useful
        if out:
            return out
        return [self._fallback(crit)]

    def overridden(self, crit, out):
        """The criterion's `needs:` (docs/rules.md) in place of what is derived for its passing side
        (inclusion: holds, exclusion: lacks): the author's words where one derived fact cannot say
        it (each of seven labs in a window; a central assay, when a local one is recorded). Its
        inputs are those the derived needs named, else every input of that side's rules."""
        side = "holds" if crit.kind == "inclusion" else "lacks"
        replaced = [n for n in out if n.side == side]
        if replaced:
            inputs = tuple(sorted({i for n in replaced for i in n.inputs}))
        else:
            preds = dependencies(self.book, crit.holds if side == "holds" else crit.lacks)
            inputs = tuple(sorted({self._path(p, pat) for p, pat in preds if BASE[p].patient and p not in ("as_of", "recorded")}))
        absent = bool(inputs) and all(i in self.gap_paths for i in inputs)
        rule = replaced[0].rule if replaced else f"{crit.file}:{crit.line}"
        need = Need(side, decides(self.words, crit.trial, crit.id, side), crit.needs, inputs, (), absent, True, rule,
                    f"{crit.file}:{crit.line}", "needs: " + crit.needs)
        return [need] + [n for n in out if n.side != side]

    # -- where each clause stopped ---------------------------------------------------------------
    def clause_wants(self, part, pattern, depth, rest=()):
        """Wanted facts of one clause refuted for pattern (its head's values; None = free); rest:
        the literals its callers still need after it."""
        if not part.attempts:
            return []
        furthest = max(a.failed for a in part.attempts)
        stuck = [a for a in part.attempts if a.failed == furthest]
        body = part.clause.body
        lit = body[furthest]
        new = _new_vars(part.clause, pattern)
        bindings = dict(stuck[0].bindings)
        rest = tuple(_Later(later, bindings, _linked(part.clause, k, bindings), part.clause, k, new)
                     for k, later in enumerate(body) if k > furthest) + rest
        if isinstance(lit, Comparison):
            binder = next((j for j in range(furthest - 1, -1, -1) if new[j] & lit.variables), None)
            if binder is None:
                return []
            recorded = tuple(dict.fromkeys(r for r in (self._fell_short(a, binder, lit, part.clause) for a in stuck) if r))
            return [self._want(part.clause, binder, new, dict(stuck[0].bindings), recorded, rest)]
        if isinstance(lit, (Atom, FunctionValue)) and not getattr(lit, "negated", False):
            reason = stuck[0].reason
            pred = lit.pred
            if isinstance(reason, Refutation) and not reason.detailed and depth < MAX_DEPTH:
                reason = self.prover.refute(reason.pred, reason.pattern)   # the prover's own depth cut: go on
            if pred not in BASE and depth < MAX_DEPTH and isinstance(reason, Refutation) and reason.clauses:
                wants = [w for sub in reason.clauses for w in self.clause_wants(sub, reason.pattern, depth + 1, rest)]
                if wants:
                    return wants
            recorded = ()
            if isinstance(reason, Refutation) and reason.base and not _keyed(reason):
                recorded = tuple(self.words.atom(s.pred, s.args) for s in reason.examined)
            return [self._want(part.clause, furthest, new, dict(stuck[0].bindings), recorded, rest)]
        if isinstance(lit, Atom):   # negated: something the rule needs absent was found
            out = []
            for attempt in stuck:
                out += [dataclasses.replace(w, rest=w.rest + rest) for w in self.undo(attempt.reason, depth)]
            return out
        return []

    def undo(self, reason, depth):
        """What would take away a fact or derivation a negated literal forbids: the negations in
        its proof, each asked for as a positive fact."""
        if isinstance(reason, FactStep):
            return [_Want(reason.pred, reason.args, (), against=True)]
        if not isinstance(reason, Derivation):
            return []
        out = []
        for step, others in _negation_steps(reason, self.defs):
            pred, pattern = step.literal.pred, step.pattern
            if others and _overlap(self._base_preds(pred, pattern), dependencies(self.book, others)):
                continue    # the fact would derive what is forbidden another way (its own date, not the shared one)
            if pred in BASE or has_words(pred) or depth >= MAX_DEPTH:
                out.append(_Want(pred, pattern, ()))
                continue
            ref = self.prover.refute(pred, pattern, depth + 1)
            wants = [w for sub in ref.clauses for w in self.clause_wants(sub, ref.pattern, depth + 1)]
            out += wants or [_Want(pred, pattern, ())]
        return out or [_Want(reason.pred, reason.args, (), against=True)]

    def _want(self, clause, j, new, bindings, recorded, rest=()):
        """The literal at j as a wanted fact: earlier variables as their values, its own free,
        bounded by the comparisons after it that read only its own and earlier variables."""
        body = clause.body
        lit = body[j]
        known = {name: value for name, value in bindings.items() if not any(name in n for n in new[j:])}
        args = lit.args + ((lit.value,) if isinstance(lit, FunctionValue) else ())
        pattern = tuple(a.value if not isinstance(a, Var) else known.get(a.name) for a in args)
        kinds = self.words.kinds.get(lit.pred, {})
        bounds = {}
        for later in body[j + 1:]:
            if not isinstance(later, Comparison) or not later.variables & new[j]:
                continue
            if not later.variables <= new[j] | set(known):
                continue
            for pos, term in enumerate(args):
                if isinstance(term, Var) and term.name in new[j]:
                    kind = "tenths" if (lit.pred, pos) in TENTHS else kinds.get(pos)
                    text = _bound(later, term.name, known, kind)
                    if text:
                        bounds[pos] = f"{bounds[pos]} and {text}" if pos in bounds else text
        return _Want(lit.pred, pattern, tuple(sorted(bounds.items())), recorded, clause=clause, rest=rest)

    def _fell_short(self, attempt, binder, lit, clause):
        step = attempt.steps[binder] if binder < len(attempt.steps) else None
        reason = attempt.reason
        if step is None or not isinstance(reason, CompareStep):
            return None
        if isinstance(step, (FactStep, Derivation)):
            candidate = self.words.atom(step.pred, step.args)
        elif isinstance(step, FunctionStep):
            candidate = self.words.atom(step.proof.func, step.proof.keys + (step.proof.value,))
        else:
            return None
        side = _var_side(lit)
        if side is None:
            return f"{candidate}, not {lit.text}"
        name, op, other = side
        bindings = dict(attempt.bindings)
        try:
            bound = evaluate(other, bindings)
        except (KeyError, TypeError, ValueError):
            return f"{candidate}, not {lit.text}"
        kind = clause_kinds(clause, self.words.kinds).get(name)
        return fell_short(candidate, bindings.get(name), op, bound, kind)

    # -- what else the way needs ---------------------------------------------------------------
    def together(self, want):
        """Words of what want's way to the criterion needs besides it: a later literal on the way
        that does not hold now and that the wanted fact cannot give. None when the wanted fact
        would defeat its own way (a registration date asked for where the rule needs none)."""
        own = self._base_preds(want.pred, want.pattern)
        out = []
        for later in want.rest:
            lit, bindings = later.literal, later.bindings
            if isinstance(lit, (FunctionValue, Comparison)) or later.linked:
                continue     # a comparison, or said of what the wanted fact binds: part of it
            pattern = tuple(bound_value(a, bindings) for a in lit.args)
            deps = self._base_preds(lit.pred, pattern, positive=True)
            if _overlap(deps, own):      # the wanted fact may give or take it: judged with it only
                if lit.negated and self._holds(lit, bindings) and self._defeats(lit.pred, pattern, want):
                    return None
                continue
            if not self._holds(lit, bindings):
                out.append(f"no longer: {self.words.atom(lit.pred, pattern)}" if lit.negated else self._also(later))
        return tuple(dict.fromkeys(out))

    def _defeats(self, pred, pattern, want):
        """Whether the wanted fact alone would make pred(pattern), which its way needs absent, hold."""
        ref = self.prover.refute(pred, pattern)
        for part in ref.clauses:
            for inner in self.clause_wants(part, ref.pattern, 0):
                if (inner.pred != want.pred or inner.against or inner.bounds
                        or not _compatible(inner.pattern, want.pattern)):
                    continue     # another fact, or only some values of it: not judged here
                rest_ids = {id(r.literal) for r in want.rest}
                if all(id(r.literal) in rest_ids or not r.linked and self._holds(r.literal, r.bindings)
                       for r in inner.rest):
                    return True
        return False

    def _also(self, later):
        """A later positive literal in words, bounded by the comparisons after it (as a wanted fact)."""
        want = self._want(later.clause, later.index, later.new, dict(later.bindings), ())
        return _ANY_VALUE.sub("", wanted(self.words, want.pred, want.pattern, dict(want.bounds)))

    def _holds(self, lit, bindings):
        """Whether lit holds now; a comparison reading a variable still unbound does not."""
        if isinstance(lit, FunctionValue):
            return True
        if isinstance(lit, Comparison) and not lit.variables <= set(bindings):
            return False
        return any(ok for ok, _e, _i in self.prover.literal(lit, bindings))

    # -- words -------------------------------------------------------------------------------------
    def need(self, crit, side, clause, want):
        if want.pred == "as_of":
            return None     # another evaluation date is not something to find out: time decides it
        together = () if want.against else self.together(want)
        if together is None:
            return None
        if want.against:
            text = no_longer(self.words, want.pred, want.pattern)
        else:
            text = wanted(self.words, want.pred, want.pattern, dict(want.bounds))
        preds = self._base_preds(want.pred, want.pattern)
        inputs = tuple(sorted({self._path(p, pat) for p, pat in preds if BASE[p].patient
                               and p not in ("as_of", "recorded")} or {self._path(p, pat) for p, pat in preds}))
        absent = bool(inputs) and all(p in self.gap_paths for p in inputs) or (
            bool(preds) and not any(p in self.recorded_preds for p, _pat in preds if p not in ("as_of", "recorded")))
        # Another value for an item already recorded (lab1's ULN, CT2's response) is a correction,
        # not something to collect: a new observation would be a new item.
        rewrites = len(want.pattern) > 1 and (
            want.pred in BASE and (want.pred, want.pattern[1]) in self.recorded_items
            or bool(want.recorded) and self._recorded_key(want))
        return Need(side, decides(self.words, crit.trial, crit.id, side), text, inputs, want.recorded,
                    bool(absent) and not want.against,
                    time_bound({p for p, _pat in preds}) and not want.against and not rewrites, clause.where,
                    (want.clause or clause).where, (want.clause or clause).text, together)

    def _recorded_key(self, want):
        """Whether want names a recorded fact by all its keys, only its value other (a planned date
        of a kind already recorded): asking for it is a correction, not something to collect."""
        keys = want.pattern[:-1]
        return all(k is not None for k in keys) and bool(self.prover.matches(want.pred, keys + (None,)))

    def _base_preds(self, pred, pattern, positive=False):
        """The base facts pred(pattern) can read, its constants followed into the helpers it calls
        (positive: only those a new fact can make it true through)."""
        if pred in BASE:
            return {(pred, pattern)}
        return self.book.reads(pred, pattern, positive) if self.defs.get(pred) else frozenset()

    def _path(self, pred, pattern):
        """The record path of pred(pattern), naming the item when the pattern does (labs[2].uln)."""
        consts = {i: v for i, v in enumerate(pattern) if v is not None and i > 0}
        path = where(pred, consts)
        item = self.items.get(pattern[1]) if len(pattern) > 1 and "[]" in path else None
        head = item.split("[")[0] if item else None
        if item and path.startswith(head + "[]"):
            path = item + path[len(head) + 2:]
        return path

    def _fallback(self, crit):
        """No clause could be followed (refutation cut short): name the inputs its rules read."""
        preds = dependencies(self.book, crit.clauses)
        inputs = tuple(sorted({self._path(p, pat) for p, pat in preds if BASE[p].patient
                               and p not in ("as_of", "recorded")}))
        return Need("holds", decides(self.words, crit.trial, crit.id, "holds"),
                    "a decision from these inputs: " + ", ".join(inputs), inputs, (), False,
                    time_bound({p for p, _pat in preds}), f"{crit.file}:{crit.line}")


def _shared_dates(found):
    """A trial's own planned date (dates.by_trial) asked for beside the shared one of the same kind
    is the same question: asked once, as the shared date (a trial's own date, where a patient has
    different dates per trial, is an override: docs/readings.md)."""
    shared = {w.pattern[1] for _c, w in found if w.pred == "planned" and not w.against}
    return [(c, w) for c, w in found if not (w.pred == "trial_planned" and not w.against and w.pattern[2] in shared)]


def _alternatives(found, words):
    """Wants that differ only in one constant (a performance status on the ecog or the who scale)
    become one want with that position bounded by the alternatives."""
    out = []
    for clause, want in found:
        for i, (first_clause, other) in enumerate(out):
            pos = _one_difference(other, want)
            if pos is not None:
                bounds = dict(other.bounds)
                kind = words.kinds.get(want.pred, {}).get(pos)
                previous = bounds.get(pos) or show(other.pattern[pos], kind)
                bounds[pos] = f"{previous} or {show(want.pattern[pos], kind)}"
                pattern = other.pattern[:pos] + (None,) + other.pattern[pos + 1:]
                out[i] = (first_clause, dataclasses.replace(other, pattern=pattern, bounds=tuple(sorted(bounds.items())),
                                                            recorded=other.recorded + want.recorded))
                break
        else:
            out.append((clause, want))
    return out


def _one_difference(a, b):
    """The one position where two wants' constants differ (None if they differ otherwise)."""
    if a.pred != b.pred or a.against or b.against or a.bounds != b.bounds or len(a.pattern) != len(b.pattern):
        return None
    diff = [i for i, (x, y) in enumerate(zip(a.pattern, b.pattern)) if x != y]
    if len(diff) != 1 or b.pattern[diff[0]] is None or (a.pattern[diff[0]] is None and diff[0] not in dict(a.bounds)):
        return None
    return diff[0]


def _linked(clause, k, bindings):
    """Variables of body literal k that an earlier literal (or the head) binds but that are unbound
    in bindings: what a wanted fact for an earlier literal would bind."""
    lit = clause.body[k]
    names = {a.name for a in getattr(lit, "args", ()) + ((lit.value,) if isinstance(lit, FunctionValue) else ())
             if isinstance(a, Var)}
    earlier = {a.name for a in clause.head.args if isinstance(a, Var)}
    for before in clause.body[:k]:
        earlier |= {a.name for a in getattr(before, "args", ()) if isinstance(a, Var)}
        if isinstance(before, FunctionValue) and isinstance(before.value, Var):
            earlier.add(before.value.name)
        if isinstance(before, Comparison):
            earlier |= before.variables
    return frozenset(n for n in names & earlier if n not in bindings)


def _overlap(reads, others):
    """Whether two sets of base-fact patterns can name a common fact."""
    return any(p == q and _compatible(a, b) for p, a in reads for q, b in others)


def _compatible(a, b):
    """Whether two patterns (None = free) can name the same fact."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _keyed(ref):
    """Whether the refutation's examined facts differ in a key (another test, another date kind):
    those are other things, not the wanted one recorded short of a bound."""
    names = BASE[ref.pred].args
    offset = 1 if BASE[ref.pred].patient else 0
    consts = [i for i, v in enumerate(ref.pattern) if v is not None and i >= offset]
    return bool(consts) and names[consts[-1] - offset] in KEY_ARGS


def _either_side(needs, words, crit):
    """A fact asked for by both sides decides the criterion whichever its value: one need."""
    sides = {}
    for need in needs:
        sides.setdefault(need.text, set()).add(need.side)
    out, done = [], set()
    for need in needs:
        if len(sides[need.text]) == 2:
            if need.text in done:
                continue
            done.add(need.text)
            need = dataclasses.replace(need, side="either", decides=f"decides {crit.id}")
        out.append(need)
    return out


def _new_vars(clause, pattern):
    """Per body literal, the variables it binds first (head variables given a value count as bound)."""
    head = clause.head.args + ((clause.head.target,) if hasattr(clause.head, "agg") else ())
    seen = {a.name for a, v in zip(head, pattern) if isinstance(a, Var) and v is not None}
    out = []
    for lit in clause.body:
        if isinstance(lit, Atom) and not lit.negated:
            names = {a.name for a in lit.args if isinstance(a, Var)}
        elif isinstance(lit, FunctionValue):
            names = {a.name for a in lit.args + (lit.value,) if isinstance(a, Var)}
        elif isinstance(lit, Comparison) and lit.op == "==" and isinstance(lit.left, ast.Name):
            names = {lit.left.id}
        else:
            names = set()
        out.append(names - seen)
        seen |= names
    return out


def _var_side(lit):
    """(variable, op, other side) when one side of the comparison is a lone variable."""
    if isinstance(lit.left, ast.Name) and lit.op in FLIP or lit.op in ("in", "not in") and isinstance(lit.left, ast.Name):
        return lit.left.id, lit.op, lit.right
    if isinstance(lit.right, ast.Name) and lit.op in FLIP:
        return lit.right.id, FLIP[lit.op], lit.left
    return None


def _bound(lit, name, known, kind):
    """The comparison said of variable `name`, when its other side is known."""
    side = _var_side(lit)
    if side is None or side[0] != name:
        return None
    _name, op, other = side
    try:
        value = evaluate(other, known)
    except (KeyError, TypeError, ValueError):
        return None
    return bound_text(op, value, kind)


def _negation_steps(derivation, defs, others=()):
    """The negations in a proof, each with the other clauses that could derive a fact on its way
    up (what would still derive the forbidden fact once that negation no longer holds)."""
    others = others + tuple(c for c in defs.get(derivation.pred, ()) if c is not derivation.clause)
    out = []
    for step in derivation.steps:
        if isinstance(step, NegationStep):
            out.append((step, others))
        elif isinstance(step, Derivation):
            out += _negation_steps(step, defs, others)
    return out
