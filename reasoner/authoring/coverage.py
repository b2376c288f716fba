"""`eligo test --coverage`: what a trial's rule tests prove, and what they never reach.

Per trial: each criterion's outcomes (pass / fail / unknown) that passing cases assert (see
cases.asserted_outcomes), and each rule (the trial's criterion rules and helpers, then the lib
rules they use) with the cases it fired for: its body matched while the case's facts were asserted.
Rules never fired and criteria missing an outcome come first.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from .cases import OUTCOMES, asserted_outcomes, case_files, case_record, check_record, load_cases
from .probe import Prober, trial_clauses
from .runner import engine_for, is_rules_root, rules_root_of


@dataclass
class RuleHits:
    clause: object
    own: bool                  # the trial's own clause (not lib)
    cases: list = field(default_factory=list)
    unknowable: bool = False   # no probe could be asked (reported, never counted as fired)


@dataclass
class TrialCoverage:
    trial: object
    cases: int
    asserted: dict             # criterion id -> outcome -> [case names]
    seen: dict                 # criterion id -> outcome -> [case names] (produced, asserted or not)
    rules: list                # RuleHits, trial clauses first
    failed: list               # names of failing cases (their assertions are not counted)

    @property
    def outcome_total(self):
        return len(self.trial.criteria) * len(OUTCOMES)

    @property
    def outcome_covered(self):
        return sum(1 for c in self.trial.criteria for o in OUTCOMES if self.asserted[c.id][o])

    @property
    def rules_fired(self):
        return sum(1 for r in self.rules if r.cases)

    @property
    def outcome_pct(self):
        return 100.0 * self.outcome_covered / self.outcome_total if self.outcome_total else 100.0

    @property
    def rule_pct(self):
        return 100.0 * self.rules_fired / len(self.rules) if self.rules else 100.0

    def gaps(self):
        """[(criterion id, [missing outcomes])] in protocol order."""
        return [(c.id, [o for o in OUTCOMES if not self.asserted[c.id][o]]) for c in self.trial.criteria
                if not all(self.asserted[c.id][o] for o in OUTCOMES)]


def measure(paths=None, rules=None):
    """[TrialCoverage] for the trials of the given test files (default: every trial of the rules)."""
    from ..paths import rules_dir

    if not paths:
        paths = [Path(rules) / "tests" if rules is not None else rules_dir() / "tests"]
    by_root = {}
    for path in case_files(paths):
        root = rules if rules is not None else rules_root_of(path)
        by_root.setdefault(None if root is None else str(root), []).extend(load_cases(path))
    whole = all(Path(p).is_dir() for p in paths)
    out = []
    for root, cases in by_root.items():
        out += engine_for(root).call(lambda eng, cases=cases: _measure(eng, cases, whole))
    if not by_root and rules is not None and is_rules_root(rules):
        out += engine_for(rules).call(lambda eng: _measure(eng, [], True))
    return out


def _measure(eng, cases, every_trial):
    book = eng.book
    prober = Prober(book)
    tids = [t for t in book.trials if every_trial or any(c.trial == t for c in cases)]
    tids += sorted({c.trial for c in cases} - set(book.trials))
    out = []
    for tid in tids:
        trial = book.trial(tid)
        own, lib = trial_clauses(book, trial)
        hits = [RuleHits(c, True) for c in own] + [RuleHits(c, False) for c in lib]
        asserted = {c.id: {o: [] for o in OUTCOMES} for c in trial.criteria}
        seen = {c.id: {o: [] for o in OUTCOMES} for c in trial.criteria}
        failed, count = [], 0
        for case in (c for c in cases if c.trial == tid):
            count += 1
            record, decided = case_record(case)
            result = decided if record is None else check_record(case, record, eng)
            if not result.passed:
                failed.append(case.name)
            else:
                for cid, outcome in asserted_outcomes(case, trial):
                    if cid in asserted:
                        asserted[cid][outcome].append(case.name)
            if result.judgement is None:
                continue
            for tv in result.judgement.verdicts:
                for co in tv.criteria:
                    if case.name not in seen[co.id][co.outcome]:
                        seen[co.id][co.outcome].append(case.name)
            with eng.patient(record):
                for hit in hits:
                    fired = prober.fired(eng, hit.clause)
                    if fired:
                        hit.cases.append(case.name)
                    elif fired is None:
                        hit.unknowable = True
        out.append(TrialCoverage(trial, count, asserted, seen, hits, failed))
    return out


def _text(clause):
    return " ".join(clause.text.split())


def _names(names, limit=3):
    more = f", +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def render(coverages):
    lines = []
    for cov in coverages:
        t = cov.trial
        lines.append(f"Coverage of {t.id} ({t.file}), {cov.cases} cases")
        lines.append(f"  criterion outcomes asserted: {cov.outcome_covered}/{cov.outcome_total} ({cov.outcome_pct:.1f}%)"
                     f"   rules fired: {cov.rules_fired}/{len(cov.rules)} ({cov.rule_pct:.1f}%)")
        if cov.failed:
            lines.append(f"  {len(cov.failed)} failing cases not counted: {_names(cov.failed)}")
        never = [h for h in cov.rules if not h.cases]
        if never:
            lines.append("  Rules never fired:")
            for h in never:
                note = " (cannot be probed: no caller binds its inputs)" if h.unknowable else ""
                lines.append(f"    {h.clause.where}  {_text(h.clause)}{note}")
        gaps = cov.gaps()
        if gaps:
            lines.append("  Criteria missing an outcome:")
            for cid, missing in gaps:
                notes = [f"{o} (seen, not asserted, in {_names(cov.seen[cid][o], 2)})" if cov.seen[cid][o] else o for o in missing]
                lines.append(f"    {cid:<5} {'; '.join(notes)}")
        lines.append("  Criteria (cases asserting each outcome):")
        for c in t.criteria:
            counts = "  ".join(f"{o} {len(cov.asserted[c.id][o]):>3}" for o in OUTCOMES)
            lines.append(f"    {c.id:<5} {counts}")
        lines.append("  Rules (cases each fired for):")
        for h in cov.rules:
            label = h.clause.criterion and f"{h.clause.criterion[1]} {h.clause.criterion[2]}" or h.clause.head.pred
            lines.append(f"    {h.clause.where:<34} {label:<32} {len(h.cases):>3}  {_names(h.cases, 2)}")
        lines.append("")
    return "\n".join(lines)


def to_json(coverages):
    return json.dumps([{
        "trial": cov.trial.id, "cases": cov.cases, "failing_cases": cov.failed,
        "criterion_outcomes": {"covered": cov.outcome_covered, "total": cov.outcome_total, "percent": round(cov.outcome_pct, 1)},
        "rules_fired": {"fired": cov.rules_fired, "total": len(cov.rules), "percent": round(cov.rule_pct, 1)},
        "criteria": {c.id: {"asserted": cov.asserted[c.id], "seen": cov.seen[c.id]} for c in cov.trial.criteria},
        "rules": [{"where": h.clause.where, "clause": _text(h.clause), "own": h.own, "cases": h.cases} for h in cov.rules],
    } for cov in coverages], indent=2, sort_keys=True) + "\n"


def below(coverages, percent):
    """Trials whose criterion-outcome or rule coverage is under percent."""
    return [c for c in coverages if c.outcome_pct < percent or c.rule_pct < percent]
