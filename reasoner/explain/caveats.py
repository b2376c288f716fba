"""Caveats: what a verdict rests on that a reader should know, without changing the verdict.

- an observation much older than the criterion's reference date that decided a criterion whose
  rules set no lower bound on its date (an ECOG from 2019 passing "ECOG 0-2" in 2026): the protocol
  states no window, so Eligo uses it, and says so. Its age is counted as every judgement is, to the
  trial's date (the one the criterion's rules count from, else the trial's `reference_date`; its
  own dates.by_trial date where given), or to --as-of while that date is not recorded (it is not
  earlier), and the caveat names that date;
- a planned date (dates.*, dates.by_trial.*) already past on the evaluation date;
- an entry set aside as dated after --as-of (Record.set_aside).
Default age limits per kind of observation are DEFAULT_MAX_AGE (days); `--max-age KIND=DAYS`
changes them (docs/output.md). Computed on demand by the renderers that show caveats.
"""

import datetime as dt
from dataclasses import dataclass

from ..errors import InputError
from ..logic.engine import PATIENT, engine
from ..logic.proofs import CompareStep, Derivation, FactStep, FunctionStep, Prover
from ..logic.rulebook import HOLDS, LACKS, rulebook
from ..record.predicates import BASE
from ..verdict.outcomes import FAIL, UNKNOWN

# days; kinds are base predicates with a date
DEFAULT_MAX_AGE = {"performance": 90, "lab": 90, "pregnancy_test": 30, "imaging": 180}
KIND_WORDS = {"performance": "performance status", "lab": "lab result", "pregnancy_test": "pregnancy test",
              "imaging": "imaging study"}
LOWER_BOUND = {">=": "left", ">": "left", "<=": "right", "<": "right"}   # side holding the bounded value


@dataclass(frozen=True)
class Caveat:
    kind: str            # old_observation | past_date | set_aside
    path: str            # record path it concerns
    text: str
    criteria: tuple = ()  # "trial/id" of the criteria it decided

    def as_json(self):
        return {"kind": self.kind, "path": self.path, "text": self.text, "criteria": list(self.criteria)}


def parse_max_age(specs):
    """['performance=60', ...] -> {pred: days}; a bad spec is a usage error naming the choices."""
    out = {}
    for spec in specs or ():
        kind, sep, days = spec.partition("=")
        if not sep or kind not in DEFAULT_MAX_AGE or not days.strip().isdigit():
            raise InputError(f"--max-age {spec!r}: expected KIND=DAYS with KIND one of "
                             f"{', '.join(DEFAULT_MAX_AGE)} and DAYS a whole number")
        out[kind] = int(days)
    return out


def needs_and_caveats(record, verdicts, max_age=None):
    """(to_decide's needs, caveats) of one record from one patient session and proof search:
    `eligo check` shows both, and the proofs they ask overlap (its facts asserted once, each
    relation asked of pyDatalog once)."""
    from .decide import to_decide

    with engine().patient(record) as session:
        prover = Prover(session, rulebook())
        return to_decide(record, verdicts, prover), caveats(record, verdicts, max_age, prover)


def caveats(record, verdicts, max_age=None, prover=None):
    """Caveats of one record's judgement, in a stable order. prover: a proof search on this
    record's open session to share (needs_and_caveats), else one of its own."""
    if prover is None:
        with engine().patient(record) as session:
            return caveats(record, verdicts, max_age, Prover(session, rulebook()))
    limits = {**DEFAULT_MAX_AGE, **(max_age or {})}
    as_of = record.as_of.toordinal()
    out = []
    book = rulebook()
    session = prover.session
    paths = {}
    for fact in session.facts.facts:
        paths.setdefault((fact.pred, (PATIENT,) + fact.args), fact.path)
    old = {}
    for tv in verdicts:
        for c in tv.criteria:
            if c.outcome == UNKNOWN:
                continue
            met = (c.outcome == FAIL) != (c.kind == "inclusion")
            proof = prover.prove(HOLDS if met else LACKS, (PATIENT, c.criterion.trial, c.id))
            facts, bounded = set(), set()
            _walk(proof, facts, bounded)
            on, words = reference_day(record, tv.trial, reference_kind(book, tv.trial, c.criterion))
            for pred, args in facts:
                day = _day(pred, args)
                if pred in limits and day is not None and on - day > limits[pred] and day not in bounded:
                    old.setdefault((pred, args, on, words), set()).add(f"{c.criterion.trial}/{c.id}")
    for (pred, args, on, words), crits in sorted(old.items(), key=lambda item: (paths.get(item[0][:2], ""), item[0])):
        day = _day(pred, args)
        path = paths.get((pred, args), pred)
        out.append(Caveat("old_observation", path,
                          f"{path}: {KIND_WORDS[pred]} of {dt.date.fromordinal(day).isoformat()} is {on - day} days old on "
                          f"{words} (more than {limits[pred]}); the protocol states no window, so it was used",
                          tuple(sorted(crits))))
    for fact in session.facts.facts:
        if fact.pred in ("planned", "trial_planned") and fact.args[-1] < as_of:
            out.append(Caveat("past_date", fact.path, f"{fact.path} {dt.date.fromordinal(fact.args[-1]).isoformat()} "
                              f"is already past on {record.as_of.isoformat()}"))
    for entry in getattr(record, "set_aside", ()):
        out.append(Caveat("set_aside", entry.path, f"{entry.path} set aside: {entry.why}"))
    return out


_KINDS = {}   # (rule-set key, trial, criterion) -> the kind of trial date it is judged on


def reference_kind(book, trial, crit):
    """The kind of trial date (registration, ...) crit is judged on: the one its rules count from
    when they name exactly one, else the trial's `reference_date` (per stage for a staged trial)."""
    key = (book.key, trial.id, crit.id)
    if key not in _KINDS:
        read = {pattern[2] for pred, pattern in book.criterion_reads(crit)
                if pred == "trial_planned" and pattern[1] == trial.id and pattern[2] is not None}
        declared = trial.extra.get("reference_date")
        if isinstance(declared, dict):
            declared = declared.get(crit.stages[0])
        _KINDS[key] = read.pop() if len(read) == 1 else declared
    return _KINDS[key]


def reference_day(record, trial, kind):
    """(day number, words) of the trial's date of that kind: its own (dates.by_trial), the shared
    one, or --as-of while neither is recorded (the earliest the date can be)."""
    dates = record.data.get("dates", {})
    when = dates.get("by_trial", {}).get(trial.id, {}).get(kind) or dates.get(kind)
    label = f"the {trial.name} {(kind or 'reference').replace('_', ' ')} date"
    if when is None:
        return record.as_of.toordinal(), f"--as-of {record.as_of.isoformat()} ({label} is not recorded; it is not earlier)"
    return when.toordinal(), f"{label} {when.isoformat()}"


def _day(pred, args):
    names = BASE[pred].args if pred in BASE else ()
    if "Day" not in names:
        return None
    value = args[names.index("Day") + 1]
    return value if isinstance(value, int) else None


def _walk(step, facts, bounded):
    """Base facts of a proof, and the values a comparison bounds from below (a window's start)."""
    if isinstance(step, FactStep):
        facts.add((step.pred, tuple(step.args)))
    elif isinstance(step, Derivation):
        for sub in step.steps:
            _walk(sub, facts, bounded)
    elif isinstance(step, FunctionStep):
        head = step.proof.clause.head
        for bindings, steps in step.proof.rows:
            if head.agg in ("max_", "min_") and dict(bindings).get(head.target.name) != step.proof.value:
                continue   # only the row that gives the value was used
            for sub in steps:
                _walk(sub, facts, bounded)
    elif isinstance(step, CompareStep):
        side = LOWER_BOUND.get(step.literal.op)
        if side:
            bounded.add(step.left if side == "left" else step.right)
