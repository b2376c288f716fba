"""Criterion outcomes (pass / fail / unknown + missing inputs) and trial verdicts.

Inclusion: holds -> pass, lacks -> fail. Exclusion: holds -> fail, lacks -> pass. Neither ->
unknown, reporting the record inputs its rules could read that the record leaves out (only those). Both -> a
RuleConflict: the rules contradict themselves, which is an error, never a verdict.
"""

from dataclasses import dataclass

from ..errors import RuleConflict
from ..record.format import SECTIONS_WITH_ITEMS
from ..record.predicates import BASE, where

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
ELIGIBLE, INELIGIBLE, INDETERMINATE = "eligible", "ineligible", "indeterminate"


@dataclass(frozen=True)
class CriterionOutcome:
    criterion: object    # rulebook.Criterion
    outcome: str
    missing: tuple       # record paths, for unknown outcomes

    @property
    def id(self):
        return self.criterion.id

    @property
    def kind(self):
        return self.criterion.kind


@dataclass(frozen=True)
class TrialVerdict:
    trial: object        # rulebook.Trial
    stage: object        # None for unstaged trials
    verdict: str
    criteria: tuple      # CriterionOutcome, protocol order
    strata: dict = None  # eligible patients of trials with strata: {name: value, or None when unknown}

    @property
    def failing(self):
        return [c for c in self.criteria if c.outcome == FAIL]

    @property
    def unknown(self):
        return [c for c in self.criteria if c.outcome == UNKNOWN]


def criterion_outcome(criterion, evaluation, book, with_missing=True):
    """with_missing=False leaves an unknown outcome's missing inputs empty: screening rows do not
    show them, and computing them was ~30% of a screened patient's time."""
    key = (criterion.trial, criterion.id)
    holds, lacks = key in evaluation.holds, key in evaluation.lacks
    if holds and lacks:
        raise _conflict(criterion, evaluation)
    if holds or lacks:
        met = holds
        passed = met if criterion.kind == "inclusion" else not met
        return CriterionOutcome(criterion, PASS if passed else FAIL, ())
    if not with_missing:
        return CriterionOutcome(criterion, UNKNOWN, ())
    return CriterionOutcome(criterion, UNKNOWN, missing_inputs(
        criterion, evaluation.facts.gaps, book, getattr(evaluation.record, "set_aside", ())))


def _conflict(criterion, evaluation):
    return RuleConflict(
        f"{criterion.file}:{criterion.line}: {criterion.trial}/{criterion.id}: the rules derive both "
        f"holds and lacks for patient {evaluation.record.patient_id}; fix the criterion's rules")


_PATTERNS = {}   # (rule-set key, trial, criterion, view) -> views of what its rules read (Rulebook.criterion_reads)


def _patterns(book, criterion):
    return book.criterion_reads(criterion)


def _patterns_by_pred(book, criterion):
    """The patterns grouped by predicate: a gap is only compared with its own predicate's patterns
    (comparing every gap with every pattern cost ~5 ms per patient over five trials)."""
    key = (book.key, criterion.trial, criterion.id, "by_pred")
    if key not in _PATTERNS:
        by_pred = {}
        for pred, pat in _patterns(book, criterion):
            by_pred.setdefault(pred, []).append(pat)
        _PATTERNS[key] = by_pred
    return _PATTERNS[key]


_GAPS = (None, None)   # (the last patient's gap list, its gaps grouped by predicate)


def _gaps_by_pred(gaps):
    """Grouped once per patient: every unknown criterion of that patient reads the same gaps."""
    global _GAPS
    cached = _GAPS
    if cached[0] is not gaps:
        grouped = {}
        for gap in gaps:
            grouped.setdefault(gap.pred, []).append(gap)
        cached = _GAPS = (gaps, grouped)
    return cached[1]


def missing_inputs(criterion, gaps, book, set_aside=()):
    """Record paths the criterion's rules could read that the record leaves out, and entries set
    aside as dated after --as-of that such a rule could read. Nothing recorded is called missing:
    what a recorded input lacks is said by to_decide (reasoner/explain/decide.py)."""
    grouped = _gaps_by_pred(gaps)
    found = {gap.path for pred, pats in _patterns_by_pred(book, criterion).items() for gap in grouped.get(pred, ())
             if any(_matches(gap, pred, pat) for pat in pats)}
    sections = _sections_read(book, criterion)
    # A list section left out (no `recorded` fact), or declared incomplete (the record says part of
    # it is not there), is missing for every rule reading its items.
    found |= {gap.path for gap in grouped.get("recorded", ()) if gap.path in sections}
    if set_aside:
        tops = {_section(path) for path in _paths_read(book, criterion)}
        found |= {entry.path for entry in set_aside if _section(entry.path) in tops}
    return tuple(sorted(found))


def _paths_read(book, criterion):
    """Record paths (BASE `where`) of the patient predicates the criterion's rules read, cached."""
    key = (book.key, criterion.trial, criterion.id, "paths")
    if key not in _PATTERNS:
        _PATTERNS[key] = frozenset(where(pred) for pred in _patterns_by_pred(book, criterion) if BASE[pred].patient)
    return _PATTERNS[key]


def _sections_read(book, criterion):
    """List sections whose items the criterion's rules read, cached."""
    key = (book.key, criterion.trial, criterion.id, "sections")
    if key not in _PATTERNS:
        paths = _paths_read(book, criterion)
        _PATTERNS[key] = frozenset(s for s in SECTIONS_WITH_ITEMS if any(p.startswith(s) for p in paths))
    return _PATTERNS[key]


def _section(path):
    """The top-level record section of a path: 'labs[2].value' -> 'labs'."""
    return path.replace("[", ".").split(".")[0]


def _matches(gap, pred, pattern):
    if gap.pred != pred:
        return False
    return all(pattern[pos] is None or pattern[pos] == value for pos, value in gap.key)


def trial_verdicts(book, evaluation, trial_ids=None, with_missing=True):
    """One TrialVerdict per (trial, stage), trials in rulebook order (with_missing: see criterion_outcome)."""
    out = []
    for tid in trial_ids or list(book.trials):
        trial = book.trial(tid)
        outcomes = {c.id: criterion_outcome(c, evaluation, book, with_missing) for c in trial.criteria}
        for stage in trial.stages:
            crits = tuple(outcomes[c.id] for c in trial.stage_criteria(stage))
            verdict = overall(crits)
            strata = strata_of(trial, evaluation) if verdict == ELIGIBLE and trial.strata else None
            out.append(TrialVerdict(trial, stage, verdict, crits, strata))
    return out


_PLANS = {}   # (rule-set key, trial id) -> (trial, [(criterion, (trial, id), inclusion?)], [(stage, positions)])


def _plan(book, tid):
    plan = _PLANS.get((book.key, tid))
    if plan is None:
        trial = book.trial(tid)
        crits = [(c, (tid, c.id), c.kind == "inclusion") for c in trial.criteria]
        stages = [(stage, [i for i, c in enumerate(trial.criteria) if stage in c.stages]) for stage in trial.stages]
        plan = _PLANS[(book.key, tid)] = (trial, crits, stages)
    return plan


def verdict_rows(book, evaluation, trial_ids=None):
    """[(trial id, stage, verdict, failing criterion ids, unknown criterion ids)], in trial_verdicts'
    order and with its outcomes, conflicts included (a test holds the two equal): what a screening
    row shows, without an outcome object per criterion (~0.5 ms of a screened patient's time)."""
    holds, lacks, out = evaluation.holds, evaluation.lacks, []
    for tid in trial_ids or book.trials:
        trial, crits, stages = _plan(book, tid)
        outcomes = []
        for crit, key, inclusion in crits:
            met, refuted = key in holds, key in lacks
            if met and refuted:
                raise _conflict(crit, evaluation)
            outcomes.append(UNKNOWN if not (met or refuted) else PASS if met == inclusion else FAIL)
        for stage, positions in stages:
            failing = [crits[i][0].id for i in positions if outcomes[i] == FAIL]
            unknown = [crits[i][0].id for i in positions if outcomes[i] == UNKNOWN]
            verdict = INELIGIBLE if failing else INDETERMINATE if unknown else ELIGIBLE
            if verdict == ELIGIBLE and trial.strata:
                strata_of(trial, evaluation)   # two values of a stratum are a conflict here too
            out.append((tid, stage, verdict, failing, unknown))
    return out


def strata_of(trial, evaluation):
    """{stratum name: its value, or None when no value is derivable}; two values are a rule conflict."""
    out = {}
    for stratum in trial.strata:
        values = sorted(evaluation.strata.get((trial.id, stratum.name), ()))
        if len(values) > 1:
            raise RuleConflict(f"{stratum.file}:{stratum.line}: {trial.id} stratum {stratum.name}: the rules derive "
                               f"{' and '.join(values)} for patient {evaluation.record.patient_id}; fix the stratum's rules")
        out[stratum.name] = values[0] if values else None
    return out


def overall(outcomes):
    kinds = {o.outcome for o in outcomes}
    if FAIL in kinds:
        return INELIGIBLE
    if UNKNOWN in kinds:
        return INDETERMINATE
    return ELIGIBLE
