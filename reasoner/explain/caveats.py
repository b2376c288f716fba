"""Caveats: what a verdict rests on that a reader should know, without changing the verdict.

- an observation much older than the evaluation date that decided a criterion whose rules set no
  lower bound on its date (an ECOG from 2019 passing "ECOG 0-2" in 2026): the protocol states no
  window, so Eligo uses it, and says so;
- a planned date (dates.*) already past on the evaluation date;
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


def caveats(record, verdicts, max_age=None):
    """Caveats of one record's judgement, in a stable order."""
    limits = {**DEFAULT_MAX_AGE, **(max_age or {})}
    as_of = record.as_of.toordinal()
    out = []
    book = rulebook()
    with engine().patient(record) as session:
        paths = {}
        for fact in session.facts.facts:
            paths.setdefault((fact.pred, (PATIENT,) + fact.args), fact.path)
        prover = Prover(session, book)
        old = {}
        for tv in verdicts:
            for c in tv.criteria:
                if c.outcome == UNKNOWN:
                    continue
                met = (c.outcome == FAIL) != (c.kind == "inclusion")
                proof = prover.prove(HOLDS if met else LACKS, (PATIENT, c.criterion.trial, c.id))
                facts, bounded = set(), set()
                _walk(proof, facts, bounded)
                for pred, args in facts:
                    day = _day(pred, args)
                    if pred in limits and day is not None and as_of - day > limits[pred] and day not in bounded:
                        old.setdefault((pred, args), set()).add(f"{c.criterion.trial}/{c.id}")
        for (pred, args), crits in sorted(old.items(), key=lambda item: (paths.get(item[0], ""), item[0][0])):
            day = _day(pred, args)
            age = as_of - day
            path = paths.get((pred, args), pred)
            out.append(Caveat("old_observation", path,
                              f"{path}: {KIND_WORDS[pred]} of {dt.date.fromordinal(day).isoformat()} is {age} days old on "
                              f"{record.as_of.isoformat()} (more than {limits[pred]}); the protocol states no window, "
                              f"so it was used", tuple(sorted(crits))))
        for fact in session.facts.facts:
            if fact.pred == "planned" and fact.args[1] < as_of:
                out.append(Caveat("past_date", fact.path, f"{fact.path} {dt.date.fromordinal(fact.args[1]).isoformat()} "
                                  f"is already past on {record.as_of.isoformat()}"))
    for entry in getattr(record, "set_aside", ()):
        out.append(Caveat("set_aside", entry.path, f"{entry.path} set aside: {entry.why}"))
    return out


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
