"""`eligo diff`: what an amendment changes: a cohort judged with two rule sets, patient by patient.

OLD and NEW are rules folders or, inside a git checkout, revisions whose rules/ is extracted with
`git archive` into a temporary folder. Every record is read by the screening readers, validated
once (with NEW's rules, the ones the amendment would bring in) and judged by the screening engine
(logic/fastlog.py) with each rule set. Per trial and stage: the patients whose verdict changes,
with the criteria whose outcome changed; the others are counted. Criteria added, removed or
re-numbered (the same protocol text and rules under another id) are reported as such.
"""

import io
import shutil
import subprocess
import tarfile
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..errors import EligoError, InputError
from ..logic.fastlog import fast_engine
from ..logic.rulebook import rulebook
from ..paths import rules_folder_problem, using_rules
from ..pipeline import judge
from ..screen.backends import ordered, process_pool
from ..screen.cohort import FAILED, INVALID, batches, load_item, open_items, reason_of
from ..screen.run import stop_on_signals

ABSENT = "-"        # the outcome of a criterion the rule set does not have


@dataclass(frozen=True)
class Side:
    """One rule set: as the user named it, the folder read, and its parsed rules."""
    name: str           # OLD / NEW as given: a folder or a revision
    folder: str         # the rules folder (a temporary one for a revision)
    revision: str       # the commit a revision resolved to, else None
    book: object


@dataclass
class CriterionChange:
    trial: str
    kind: str           # added, removed, renumbered, changed (same id, other text or rules)
    old: str            # criterion id in OLD (None if added)
    new: str            # criterion id in NEW (None if removed)
    detail: str = ""    # for changed: which of kind, stage, text, rules differ


@dataclass
class PatientChange:
    source: str
    patient: str
    old: str            # verdict with OLD (ABSENT: the trial or stage is not in OLD)
    new: str
    criteria: list      # [(criterion label, old outcome, new outcome)] for those that changed


@dataclass
class Group:
    """One trial and stage: the changed patients, and counts."""
    trial: str
    stage: str
    changed: list = field(default_factory=list)
    unchanged: int = 0
    unchanged_with_criteria: int = 0      # same verdict, some criterion outcome changed
    transitions: dict = field(default_factory=dict)   # "old -> new" -> count

    @property
    def key(self):
        return f"{self.trial}@{self.stage}" if self.stage else self.trial


@dataclass
class SetAside:
    """A record some of whose entries are dated after --as-of: judged without them (both rule sets)."""
    source: str
    entries: int


@dataclass
class Rejected:
    source: str
    status: str         # invalid or failed
    reason: str


@dataclass
class Diff:
    old: Side
    new: Side
    trials: list        # trial ids compared (in NEW's order, then OLD-only ones)
    criteria: list      # CriterionChange
    groups: dict        # (trial, stage) -> Group, in trial order
    rejected: list
    set_aside: list = field(default_factory=list)   # SetAside
    read: int = 0
    seconds: float = 0.0

    @property
    def judged(self):
        return self.read - len(self.rejected)


# -- the two rule sets ----------------------------------------------------------------------------
@contextmanager
def rule_sets(old, new, cwd=None):
    """(Side, Side) for OLD and NEW; temporary folders of revisions are removed on leaving."""
    scratch = tempfile.mkdtemp(prefix="eligo-diff-")
    try:
        yield _side("OLD", old, scratch, cwd), _side("NEW", new, scratch, cwd)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _side(role, spec, scratch, cwd):
    path = Path(cwd or ".") / spec
    if path.is_dir():
        problem = rules_folder_problem(path)
        if problem:
            raise InputError(f"{role} {spec}: {problem}")
        folder, revision = str(path.resolve()), None
    else:
        revision = _revision(role, spec, cwd)
        folder = _extract(role, spec, revision, Path(scratch) / role.lower(), cwd)
    with using_rules(folder):
        book = rulebook()
    return Side(spec, folder, revision, book)


def _git(args, cwd, binary=False):
    try:
        run = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=120, check=False)
    except FileNotFoundError:
        return None
    return run if binary else (run.returncode, run.stdout.decode("utf-8", "replace").strip(),
                               run.stderr.decode("utf-8", "replace").strip())


def _revision(role, spec, cwd):
    """The commit a revision names, or InputError when it names none (or this is not a git checkout)."""
    if spec.startswith("-") or not spec.strip() or not spec.isprintable():
        raise InputError(f"{role} {spec!r}: expected a rules folder or a git revision (HEAD~1, a tag, a commit)")
    inside = _git(["rev-parse", "--is-inside-work-tree"], cwd)
    if inside is None or inside[0] != 0 or inside[1] != "true":
        raise InputError(f"{role} {spec}: no such folder, and not in a git checkout to read it as a revision; "
                         "expected a rules folder (lib/*.dl, trials/*.yaml) or, inside a git checkout, a revision")
    code, commit, _err = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}"], cwd)
    if code != 0 or not commit:
        raise InputError(f"{role} {spec}: no such folder, and git knows no revision {spec!r}; "
                         "expected a rules folder or a revision such as HEAD~1, a tag or a commit")
    return commit


def _extract(role, spec, commit, target, cwd):
    """rules/ of the checkout at commit -> target/rules (git archive, unpacked as plain data only)."""
    top = _git(["rev-parse", "--show-toplevel"], cwd)[1]
    run = _git(["archive", "--format=tar", commit, "--", "rules"], top, binary=True)
    if run is None or run.returncode != 0:
        raise InputError(f"{role} {spec}: revision {commit[:12]} has no rules/ folder at the top of {top}")
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(run.stdout)) as archive:
        if hasattr(tarfile, "data_filter"):   # Python >= 3.11.4
            archive.extractall(target, filter="data")
        else:   # older 3.11: our own git archive holds plain files and folders under rules/ only
            members = [m for m in archive.getmembers() if (m.isfile() or m.isdir()) and m.name.split("/")[0] == "rules"
                       and ".." not in m.name.split("/") and not m.name.startswith("/")]
            archive.extractall(target, members=members)
    folder = target / "rules"
    problem = rules_folder_problem(folder)
    if problem:
        raise InputError(f"{role} {spec}: rules/ at revision {commit[:12]}: {problem}")
    return str(folder.resolve())


# -- criteria: added, removed, renumbered ---------------------------------------------------------
def _signature(criterion):
    """What a criterion is, whatever its id: its kind, stages, protocol text and rule bodies."""
    bodies = tuple(sorted(" ".join(c.text.split("<=", 1)[1].split()) for c in criterion.clauses))
    return (criterion.kind, criterion.stages, " ".join(criterion.text.split()), bodies)


def criterion_changes(old_book, new_book, trial_ids):
    """[CriterionChange] and {(trial, old id): new id} for criteria kept (same id or re-numbered)."""
    changes, mapping = [], {}
    for tid in trial_ids:
        old = {c.id: c for c in old_book.trials[tid].criteria} if tid in old_book.trials else {}
        new = {c.id: c for c in new_book.trials[tid].criteria} if tid in new_book.trials else {}
        removed = [cid for cid in old if cid not in new or _signature(old[cid]) != _signature(new[cid])]
        added = [cid for cid in new if cid not in old or _signature(old[cid]) != _signature(new[cid])]
        for cid in [c for c in old if c in new]:
            mapping[(tid, cid)] = cid
        for cid in list(removed):
            same = [n for n in added if n != cid and _signature(new[n]) == _signature(old[cid])]
            if same:
                changes.append(CriterionChange(tid, "renumbered", cid, same[0]))
                mapping[(tid, cid)] = same[0]
                removed.remove(cid)
                added.remove(same[0])
        for cid in removed:
            if cid in new:
                parts = [name for name, a, b in zip(("kind", "stage", "text", "rules"), _signature(old[cid]),
                                                     _signature(new[cid])) if a != b]
                changes.append(CriterionChange(tid, "changed", cid, cid, ", ".join(parts)))
            else:
                changes.append(CriterionChange(tid, "removed", cid, None))
        changes += [CriterionChange(tid, "added", None, cid) for cid in added if cid not in old]
    return changes, mapping


# -- judging --------------------------------------------------------------------------------------
def _verdicts(folder, record, trial_ids):
    """{(trial, stage): (verdict, {criterion id: outcome})} with the rules of folder (its trials only)."""
    with using_rules(folder):
        book = rulebook()
        ids = [t for t in trial_ids if t in book.trials]
        if not ids:
            return {}
        judgement = judge(record, ids, fast_engine(), with_missing=False)
    return {(tv.trial.id, tv.stage): (tv.verdict, {c.id: c.outcome for c in tv.criteria}) for tv in judgement.verdicts}


def judge_pairs(batch, old, new, trial_ids, as_of, strict_dates=False):
    """The worker function: each item validated once (with NEW's rules) and judged with both rule
    folders -> (source, patient, before, after) or a Rejected. Never raises for a record's sake."""
    out = []
    for item in batch:
        try:
            with using_rules(new):
                record = load_item(item, as_of, lambda _line: None, strict_dates)
        except EligoError as err:
            out.append(Rejected(item.source, INVALID, reason_of(err, item.source)))
            continue
        except Exception as err:  # noqa: BLE001 - a validator crash on odd input is reported, not fatal
            out.append(Rejected(item.source, FAILED, f"validation crashed: {type(err).__name__}: {err}"))
            continue
        try:
            if record.set_aside:
                out.append(SetAside(item.source, len(record.set_aside)))
            out.append((item.source, record.patient_id, _verdicts(old, record, trial_ids), _verdicts(new, record, trial_ids)))
        except Exception as err:  # noqa: BLE001 - a rule conflict or crash: reported for this record
            out.append(Rejected(item.source, FAILED, f"{type(err).__name__}: {err}"))
    return out


def _warm(old, new):
    """Pool initializer: both rule sets parsed and compiled once per worker process."""
    for folder in (old, new):
        with using_rules(folder):
            fast_engine()


def _pool(workers, old, new, trial_ids, as_of, strict_dates=False):
    """(submit, in_flight) as screening has them (screen/backends.process_pool)."""
    work = partial(judge_pairs, old=old, new=new, trial_ids=trial_ids, as_of=as_of, strict_dates=strict_dates)
    return process_pool(workers, work, _warm, (old, new))


def run(old, new, cohort, trial_ids=None, as_of=None, stdin=None, cwd=None, workers=1, batch_size=50, strict_dates=False):
    """Judge every record of cohort with OLD and NEW rules; returns the Diff."""
    started = time.monotonic()
    with rule_sets(old, new, cwd) as (old_side, new_side):
        known = list(new_side.book.trials) + [t for t in old_side.book.trials if t not in new_side.book.trials]
        for tid in trial_ids or []:
            if tid not in known:
                raise InputError(f"--trial {tid}: neither rule set has it; expected one of: {', '.join(known)}")
        trials = [t for t in known if not trial_ids or t in trial_ids]
        changes, mapping = criterion_changes(old_side.book, new_side.book, trials)
        result = Diff(old_side, new_side, trials, changes, {}, [])
        for trial in trials:
            for side in (new_side, old_side):
                if trial in side.book.trials:
                    for stage in side.book.trials[trial].stages:
                        result.groups.setdefault((trial, stage), Group(trial, stage))
        _total, items = open_items(cohort, stdin)
        with stop_on_signals(), _pool(workers, old_side.folder, new_side.folder, trials, as_of, strict_dates) as (submit, in_flight):
            for outcomes in ordered(submit, batches(items, batch_size), in_flight):
                for outcome in outcomes:
                    if isinstance(outcome, SetAside):
                        result.set_aside.append(outcome)
                        continue
                    result.read += 1
                    if isinstance(outcome, Rejected):
                        result.rejected.append(outcome)
                    else:
                        _compare(result, *outcome, mapping)
        result.seconds = time.monotonic() - started
    return result


def _compare(result, source, patient, before, after, mapping):
    for key, group in result.groups.items():
        old_verdict, old_outcomes = before.get(key, (ABSENT, {}))
        new_verdict, new_outcomes = after.get(key, (ABSENT, {}))
        changed = _criteria(key[0], old_outcomes, new_outcomes, mapping)
        if old_verdict == new_verdict:
            group.unchanged += 1
            group.unchanged_with_criteria += bool(changed)
            continue
        transition = f"{old_verdict} -> {new_verdict}"
        group.transitions[transition] = group.transitions.get(transition, 0) + 1
        group.changed.append(PatientChange(source, patient, old_verdict, new_verdict, changed))


def _criteria(trial, old, new, mapping):
    """[(label, old outcome, new outcome)] of criteria whose outcome differs (NEW's order)."""
    out, matched = [], set()
    renamed = {mapping[(trial, cid)]: cid for cid in old if (trial, cid) in mapping}
    for cid, outcome in new.items():
        before_id = renamed.get(cid)
        before = old.get(before_id, ABSENT) if before_id else ABSENT
        matched.add(before_id)
        if before != outcome:
            label = cid if before_id in (None, cid) else f"{before_id}->{cid}"
            out.append((label, before, outcome))
    out += [(cid, outcome, ABSENT) for cid, outcome in old.items() if cid not in matched]
    return out


# -- output ---------------------------------------------------------------------------------------
def side_document(side):
    return {"given": side.name, "rules": side.book.folder if side.revision is None else f"{side.name} ({side.revision[:12]})",
            "revision": side.revision, "ruleset_sha256": side.book.sha256}


def document(diff, as_of):
    from .. import __version__

    return {
        "schema_version": 1,
        "document": "eligo-diff",
        "tool_version": __version__,
        "as_of": as_of.isoformat(),
        "old": side_document(diff.old),
        "new": side_document(diff.new),
        "trials": diff.trials,
        "criteria": [{"trial": c.trial, "change": c.kind, "old": c.old, "new": c.new, "detail": c.detail}
                     for c in diff.criteria],
        "groups": [{
            "trial": g.trial, "stage": g.stage, "changed": len(g.changed), "unchanged": g.unchanged,
            "unchanged_with_criterion_changes": g.unchanged_with_criteria, "transitions": g.transitions,
            "patients": [{"source": p.source, "patient": p.patient, "old": p.old, "new": p.new,
                          "criteria": [{"criterion": c, "old": o, "new": n} for c, o, n in p.criteria]}
                         for p in g.changed],
        } for g in diff.groups.values()],
        "counts": {"read": diff.read, "judged": diff.judged,
                   "invalid": sum(r.status == INVALID for r in diff.rejected),
                   "failed": sum(r.status == FAILED for r in diff.rejected)},
        "rejected": [{"source": r.source, "status": r.status, "reason": r.reason} for r in diff.rejected],
        "set_aside": [{"source": s.source, "entries": s.entries} for s in diff.set_aside],
    }


def render_text(diff, as_of):
    doc = document(diff, as_of)
    lines = [f"eligo diff, as of {doc['as_of']}",
             f"  old: {doc['old']['rules']}  sha256 {doc['old']['ruleset_sha256'][:16]}",
             f"  new: {doc['new']['rules']}  sha256 {doc['new']['ruleset_sha256'][:16]}", ""]
    if diff.criteria:
        lines.append("Criteria:")
        for c in diff.criteria:
            text = {"added": f"{c.new} added", "removed": f"{c.old} removed", "renumbered": f"{c.old} renumbered as {c.new}",
                    "changed": f"{c.old} changed ({c.detail})"}[c.kind]
            lines.append(f"  {c.trial} {text}")
        lines.append("")
    else:
        lines += ["Criteria: none added, removed, re-numbered or changed", ""]
    for group in diff.groups.values():
        head = group.trial + (f" [{group.stage}]" if group.stage else "")
        lines.append(f"{head}: {len(group.changed)} verdict{'s' if len(group.changed) != 1 else ''} changed, "
                     f"{group.unchanged} unchanged" + (f" ({group.unchanged_with_criteria} with a criterion outcome changed)"
                                                        if group.unchanged_with_criteria else ""))
        for patient in group.changed:
            crits = ", ".join(f"{c} {o} -> {n}" for c, o, n in patient.criteria) or "no criterion outcome changed"
            lines.append(f"  {patient.patient} ({patient.source}): {patient.old} -> {patient.new}; {crits}")
        for transition, count in sorted(group.transitions.items()):
            lines.append(f"  {transition}: {count}")
    lines.append("")
    counts = doc["counts"]
    lines.append(f"{counts['read']} read = {counts['judged']} judged + {counts['invalid']} invalid + "
                 f"{counts['failed']} failed in evaluation; {diff.seconds:.1f} s")
    for r in diff.rejected:
        lines.append(f"  {r.status} {r.source}: {r.reason}")
    if diff.set_aside:
        lines.append(f"{len(diff.set_aside)} record{'s' if len(diff.set_aside) != 1 else ''} judged without entries "
                     f"dated after --as-of (set aside; --strict-dates refuses them): "
                     + ", ".join(s.source for s in diff.set_aside))
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ("trial", "stage", "source", "patient", "old_verdict", "new_verdict", "criteria")


def render_csv(diff):
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in diff.groups.values():
        for p in group.changed:
            writer.writerow([group.trial, group.stage or "", p.source, p.patient, p.old, p.new,
                             "; ".join(f"{c} {o} -> {n}" for c, o, n in p.criteria)])
    return out.getvalue()


def summary_line(diff):
    changed = sum(len(g.changed) for g in diff.groups.values())
    invalid = sum(r.status == INVALID for r in diff.rejected)
    return (f"eligo diff: {diff.read} read, {diff.judged} judged, {invalid} invalid, "
            f"{len(diff.rejected) - invalid} failed; {changed} verdict changes; {diff.seconds:.1f} s")

