"""Attrition funnel per trial (and stage), like a cohort-attrition table.

Starting from every judged patient, criteria are taken in protocol order. At each step a patient
still in (no earlier criterion failed) either fails here (and leaves), is unknown here (stays in,
but can no longer be called eligible), or passes. The last step's `decided` count is the number
of eligible patients; `remaining - decided` are indeterminate; `patients - remaining` ineligible.
Only counts are kept, so the funnel's memory does not grow with the cohort.
"""

from .output import csv_text

COLUMNS = ("trial", "stage", "step", "criterion", "kind", "entering", "failed", "unknown", "remaining", "decided")


class StageFunnel:
    def __init__(self, trial, stage, steps):
        self.trial, self.stage = trial, stage
        self.steps = tuple(steps)            # ((criterion id, kind), ...) in protocol order
        n = len(self.steps)
        self.patients = 0
        self.entering, self.failed, self.unknown, self.decided = [0] * n, [0] * n, [0] * n, [0] * n

    def add(self, failing, unknown):
        """One patient's failing and unknown criterion ids."""
        failing, unknown = set(failing), set(unknown)
        self.patients += 1
        certain = True
        for i, (cid, _kind) in enumerate(self.steps):
            self.entering[i] += 1
            if cid in failing:
                self.failed[i] += 1
                return
            if cid in unknown:
                self.unknown[i] += 1
                certain = False
            if certain:
                self.decided[i] += 1

    @property
    def eligible(self):
        return self.decided[-1] if self.steps else self.patients

    @property
    def remaining(self):
        return self.entering[-1] - self.failed[-1] if self.steps else self.patients

    def rows(self):
        for i, (cid, kind) in enumerate(self.steps):
            yield {"trial": self.trial, "stage": self.stage or "", "step": i + 1, "criterion": cid, "kind": kind,
                   "entering": self.entering[i], "failed": self.failed[i], "unknown": self.unknown[i],
                   "remaining": self.entering[i] - self.failed[i], "decided": self.decided[i]}

    def state(self):
        return {"patients": self.patients, "entering": self.entering, "failed": self.failed,
                "unknown": self.unknown, "decided": self.decided}

    def restore(self, state):
        self.patients = state["patients"]
        for name in ("entering", "failed", "unknown", "decided"):
            values = list(state[name])
            if len(values) != len(self.steps):
                raise ValueError(f"funnel state for {self.trial} has {len(values)} steps, expected {len(self.steps)}")
            setattr(self, name, values)


class Funnel:
    """One StageFunnel per (trial, stage) screened, in rulebook order."""

    def __init__(self, book, trial_ids=None):
        self.names = {}
        self.stages = {}
        for tid in trial_ids or list(book.trials):
            trial = book.trial(tid)
            self.names[tid] = trial.name
            for stage in trial.stages:
                steps = [(c.id, c.kind) for c in trial.stage_criteria(stage)]
                self.stages[(tid, stage)] = StageFunnel(tid, stage, steps)

    def add(self, row):
        """Count one result row (trial, stage, failing, unknown)."""
        self.stages[(row["trial"], row["stage"])].add(row["failing"], row["unknown"])

    def state(self):
        return [{"trial": f.trial, "stage": f.stage, **f.state()} for f in self.stages.values()]

    def restore(self, state):
        for entry in state:
            self.stages[(entry["trial"], entry["stage"])].restore(entry)

    def csv_text(self):
        return csv_text([row for funnel in self.stages.values() for row in funnel.rows()], COLUMNS)

    def table(self):
        """Readable attrition tables, one per trial and stage."""
        out = []
        for (tid, stage), f in self.stages.items():
            label = f"{self.names[tid]} ({tid}{', ' + stage + ' stage' if stage else ''})"
            out.append(f"{label}: {f.patients} judged patient{'' if f.patients == 1 else 's'}")
            out.append(f"  {'step':>4}  {'criterion':<9}  {'kind':<9}  {'entering':>8}  {'failed':>7}  "
                       f"{'unknown':>7}  {'remaining':>9}  {'decided':>7}")
            for row in f.rows():
                out.append(f"  {row['step']:>4}  {row['criterion']:<9}  {row['kind']:<9}  {row['entering']:>8}  "
                           f"{row['failed']:>7}  {row['unknown']:>7}  {row['remaining']:>9}  {row['decided']:>7}")
            out.append(f"  eligible {f.eligible}, indeterminate {f.remaining - f.eligible}, "
                       f"ineligible {f.patients - f.remaining}")
            out.append("")
        return "\n".join(out)
