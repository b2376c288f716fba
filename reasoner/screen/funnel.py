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
    """Counts kept so that adding a patient costs its failing and unknown criteria, not every step
    (the main process adds ~6 rows per screened patient): where each patient stops entering and
    stops being decided, from which the per-step counts follow."""

    def __init__(self, trial, stage, steps):
        self.trial, self.stage = trial, stage
        self.steps = tuple(steps)            # ((criterion id, kind), ...) in protocol order
        n = len(self.steps)
        self.position = {cid: i for i, (cid, _kind) in enumerate(self.steps)}
        self.patients = 0
        self.failed, self.unknown = [0] * n, [0] * n
        # entered_up_to[e]: patients who entered steps 0..e-1 only; decided_up_to[d]: patients
        # decided at steps 0..d-1 only (a patient leaves at its first failing criterion, and can
        # no longer be called eligible from its first unknown one)
        self.entered_up_to, self.decided_up_to = [0] * (n + 1), [0] * (n + 1)

    def add(self, failing, unknown):
        """One patient's failing and unknown criterion ids."""
        n, position = len(self.steps), self.position
        self.patients += 1
        stop = min((position[c] for c in failing if c in position), default=n)   # fails here: leaves
        if stop < n:
            self.failed[stop] += 1
        first_unknown = stop
        for c in set(unknown):
            i = position.get(c)
            if i is not None and i < stop:
                self.unknown[i] += 1
                first_unknown = min(first_unknown, i)
        self.entered_up_to[stop + 1 if stop < n else n] += 1
        self.decided_up_to[first_unknown] += 1

    @staticmethod
    def _beyond(up_to, n):
        """[patients counted at step i] from how far each got: those that got beyond step i."""
        out, running = [0] * n, 0
        for i in range(n, 0, -1):
            running += up_to[i]
            out[i - 1] = running
        return out

    @property
    def entering(self):
        return self._beyond(self.entered_up_to, len(self.steps))

    @property
    def decided(self):
        return self._beyond(self.decided_up_to, len(self.steps))

    @property
    def eligible(self):
        return self.decided[-1] if self.steps else self.patients

    @property
    def remaining(self):
        return self.entering[-1] - self.failed[-1] if self.steps else self.patients

    def rows(self):
        entering, decided = self.entering, self.decided
        for i, (cid, kind) in enumerate(self.steps):
            yield {"trial": self.trial, "stage": self.stage or "", "step": i + 1, "criterion": cid, "kind": kind,
                   "entering": entering[i], "failed": self.failed[i], "unknown": self.unknown[i],
                   "remaining": entering[i] - self.failed[i], "decided": decided[i]}

    def state(self):
        return {"patients": self.patients, "entering": self.entering, "failed": list(self.failed),
                "unknown": list(self.unknown), "decided": self.decided}

    def restore(self, state):
        n = len(self.steps)
        for name in ("entering", "failed", "unknown", "decided"):
            if len(list(state[name])) != n:
                raise ValueError(f"funnel state for {self.trial} has {len(list(state[name]))} steps, expected {n}")
        self.patients = state["patients"]
        self.failed, self.unknown = list(state["failed"]), list(state["unknown"])
        self.entered_up_to = self._up_to(list(state["entering"]), self.patients)
        self.decided_up_to = self._up_to(list(state["decided"]), self.patients)

    @staticmethod
    def _up_to(counts, patients):
        """The inverse of _beyond: how many got exactly this far, from the per-step counts."""
        before = [patients] + counts
        return [before[i] - (counts[i] if i < len(counts) else 0) for i in range(len(counts) + 1)]


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
