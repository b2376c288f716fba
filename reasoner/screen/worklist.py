"""What to collect next: per patient, the inputs that would decide undecided trial verdicts, and which
ineligible verdicts could still change; for a cohort, the same tallied (`eligo worklist`).

An input "could decide" a trial verdict when it decides one of that verdict's unknown criteria
(explain/decide.py, the needs that a new observation or a missing field could give, taken from the
side that would let the criterion pass). A failing criterion "could change" when every base input
its deciding rules read is time-bound (verdict/inputs.py: a lab, a test, an assessment, a
judgement); otherwise it rests on history or anatomy and cannot.
"""

from dataclasses import dataclass, field

from ..errors import visible
from ..explain.decide import to_decide
from ..logic.rulebook import dependencies
from ..verdict.inputs import time_bound
from ..verdict.outcomes import FAIL, INDETERMINATE, INELIGIBLE
from .output import csv_cell


@dataclass
class Item:
    """One input to collect for one patient."""
    need: str
    inputs: tuple
    verdicts: list = field(default_factory=list)     # "TAORMINA (I3)" labels it could decide


@dataclass
class PatientWork:
    patient: str
    source: str
    items: list                  # Item, most verdicts first
    could_change: list           # (trial label, [criterion ids]) ineligible on time-bound inputs only
    fixed: list                  # (trial label, [criterion ids]) ineligible on history or anatomy
    undecided: int               # indeterminate verdicts
    set_aside: list = field(default_factory=list)   # (record path, date) dated after --as-of: not judged


def label(tv):
    stage = f" [{tv.stage}]" if tv.stage else ""
    return f"{tv.trial.name}{stage}"


def patient_work(record, verdicts, book):
    needs = to_decide(record, verdicts)
    items = {}
    for tv in verdicts:
        if tv.verdict != INDETERMINATE:
            continue
        for c in tv.unknown:
            found = needs.get((tv.trial.id, c.id), ())
            passing = "holds" if c.kind == "inclusion" else "lacks"
            chosen = [n for n in found if n.actionable and n.side in (passing, "either")] or [n for n in found if n.actionable]
            for need in chosen:
                item = items.setdefault(need.text, Item(need.text, need.inputs))
                mark = f"{label(tv)} ({c.id})"
                if not any(v.startswith(label(tv) + " (") for v in item.verdicts):
                    item.verdicts.append(mark)
    # most verdicts first; ties in trial order, then the protocol order of the criteria they decide
    ordered = sorted(items.values(), key=lambda i: -len(i.verdicts))
    could, fixed = [], []
    for tv in verdicts:
        if tv.verdict != INELIGIBLE:
            continue
        changeable = [c.id for c in tv.failing if _time_bound(book, c)]
        if len(changeable) == len(tv.failing):
            could.append((label(tv), changeable))
        else:
            fixed.append((label(tv), [c.id for c in tv.failing if c.id not in changeable]))
    return PatientWork(record.patient_id, record.filename, ordered, could, fixed,
                       sum(1 for tv in verdicts if tv.verdict == INDETERMINATE),
                       [(e.path, e.date.isoformat()) for e in record.set_aside])


_TIME_BOUND = {}


def _time_bound(book, outcome):
    """Whether a failing criterion's deciding rules read only time-bound inputs."""
    crit = outcome.criterion
    side = "lacks" if (outcome.outcome == FAIL) == (crit.kind == "inclusion") else "holds"
    key = (book.key, crit.trial, crit.id, side)
    if key not in _TIME_BOUND:
        clauses = [c for c in crit.clauses if c.criterion and c.criterion[2] == side]
        _TIME_BOUND[key] = time_bound({pred for pred, _pattern in dependencies(book, clauses)})
    return _TIME_BOUND[key]


def tally(works):
    """Cohort: [(inputs, (verdicts they could decide, patients, an example need))] most verdicts first,
    and the number of indeterminate verdicts. Keyed by record paths, so patients' own dates and
    lesion ids do not split one kind of input into many."""
    counts = {}
    for work in works:
        for item in work.items:
            key = ", ".join(item.inputs)
            decided, patients, example = counts.get(key, (0, 0, item.need))
            counts[key] = (decided + len(item.verdicts), patients + 1, example)
    total = sum(w.undecided for w in works)
    return sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0])), total


def work_json(work):
    return {"patient": work.patient, "input": work.source, "indeterminate_verdicts": work.undecided,
            "collect": [{"need": i.need, "inputs": list(i.inputs), "would_decide": i.verdicts} for i in work.items],
            "ineligible_could_change": [{"trial": t, "failing": ids} for t, ids in work.could_change],
            "ineligible_fixed": [{"trial": t, "failing": ids} for t, ids in work.fixed],
            "set_aside": [{"path": p, "date": d} for p, d in work.set_aside]}


def render_text(works, cohort):
    lines = []
    for work in works:
        lines.append(f"Patient {work.patient} ({work.source})")
        for path, day in work.set_aside:
            lines.append(f"  set aside (dated after --as-of, not judged): {path} {day}")
        if not work.items:
            lines.append("  nothing to collect: no undecided verdict")
        for item in work.items:
            lines.append(f"  collect: {item.need}  [{', '.join(item.inputs)}]")
            lines.append(f"    would decide {len(item.verdicts)}: {', '.join(item.verdicts)}")
        for trial, ids in work.could_change:
            lines.append(f"  ineligible, could change (time-bound inputs): {trial}: {', '.join(ids)}")
        for trial, ids in work.fixed:
            lines.append(f"  ineligible, cannot change (history or anatomy): {trial}: {', '.join(ids)}")
        lines.append("")
    if cohort:
        counts, total = tally(works)
        lines.append(f"Cohort: {len(works)} patients, {total:,} indeterminate verdicts")
        for inputs, (decided, patients, example) in counts:
            lines.append(f"  {inputs}: would decide {decided:,} of {total:,} indeterminate verdicts "
                         f"({patients:,} patients; e.g. {example})")
        lines.append("")
    return "\n".join(visible(line) for line in lines)


def render_csv(works):
    """One row per input to collect or ineligible verdict; cells neutralised against formula
    injection as screening's CSV is (screen/output.csv_cell)."""
    import csv
    import io

    rows = [["patient", "input", "kind", "need", "inputs", "verdicts"]]
    for work in works:
        for item in work.items:
            rows.append([work.patient, work.source, "collect", item.need, "; ".join(item.inputs), "; ".join(item.verdicts)])
        for trial, ids in work.could_change:
            rows.append([work.patient, work.source, "ineligible_could_change", "", "", f"{trial}: {' '.join(ids)}"])
        for trial, ids in work.fixed:
            rows.append([work.patient, work.source, "ineligible_fixed", "", "", f"{trial}: {' '.join(ids)}"])
        for path, day in work.set_aside:
            rows.append([work.patient, work.source, "set_aside", f"dated {day}, after --as-of: not judged", path, ""])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return out.getvalue()
