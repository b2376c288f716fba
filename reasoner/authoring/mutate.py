"""`eligo mutate TRIAL`: would the trial's rule tests notice a small slip in its rules?

Each mutant changes one thing in one of the trial's own clauses (criterion rules and `<trial>_`
helpers; with include_lib, also the lib clauses they use): a numeric threshold one step up or
down, `<` <-> `<=`, `>` <-> `>=`, one body literal dropped, one negation removed. The trial's
cases then run against the mutant; the first failing case kills it. A mutant that cannot be
loaded, raises, or runs past the timeout counts as killed and is reported apart.

pyDatalog holds one program per process, and a runaway mutant (e.g. unbounded recursion) loops
inside compiled code where no signal reaches: so mutants run in worker processes (spawned, each
loading its own engine per mutant), and a worker past the timeout is killed and replaced.
"""

import ast
import multiprocessing
import time
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from pathlib import Path

from ..errors import InputError
from ..logic.clauses import parse_clause
from .probe import conjuncts, reachable, trial_clauses

SURVIVED, KILLED, INVALID, ERROR, TIMEOUT = "survived", "killed", "invalid", "error", "timeout"


@dataclass(frozen=True)
class Mutant:
    index: int            # position of the clause in mutable_clauses()
    where: str            # file:line of the clause
    change: str           # what was changed, for the report
    text: str             # the mutated clause text


@dataclass
class MutantResult:
    mutant: Mutant
    status: str           # survived, killed, invalid (did not load), error (raised), timeout
    detail: str = ""      # the killing case, or the error
    seconds: float = 0.0


@dataclass
class MutationRun:
    trial: str
    results: list = field(default_factory=list)
    seconds: float = 0.0
    cases: int = 0
    timeout: float = 0.0
    cpu: float = 0.0      # worker CPU seconds spent on mutants (wall time depends on machine load)
    unsafe: list = field(default_factory=list)   # (Mutant, reason): not run, not scored

    def count(self, *statuses):
        return sum(1 for r in self.results if r.status in statuses)

    @property
    def score(self):
        total = len(self.results)
        return 100.0 * (total - self.count(SURVIVED)) / total if total else 100.0


# --- generating mutants -------------------------------------------------------------------------

def mutable_clauses(book, trial_id, include_lib=False):
    own, lib = trial_clauses(book, book.trial(trial_id))
    return own + (lib if include_lib else [])


def _number(node):
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _step(value):
    if isinstance(value, int):
        return 1
    text = repr(value)
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 1
    return 10 ** -decimals


_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}


def _replace_nth_constant(node, n, value):
    count = -1
    for sub in ast.walk(node):
        if _number(sub):
            count += 1
            if count == n:
                sub.value = value
                return node
    return node


def mutants(book, trial_id, include_lib=False):
    """Every distinct Mutant of the trial's clauses, in file:line order."""
    out, seen = [], set()
    targets = mutable_clauses(book, trial_id, include_lib)
    for index, clause in enumerate(targets):
        head, body = conjuncts(clause)
        for position, literal in enumerate(body):
            variants = _literal_variants(literal)
            if len(body) > 1:
                variants.append((None, f"literal dropped: `{ast.unparse(literal)}`"))
            for new, change in variants:
                nodes = body[:position] + ([new] if new is not None else []) + body[position + 1:]
                text = _clause_text(head, nodes)
                if (index, text) not in seen:
                    seen.add((index, text))
                    out.append(Mutant(index, clause.where, change, text))
    return sorted(out, key=lambda m: (targets[m.index].file, targets[m.index].line))


def _copy(node):
    return ast.parse(ast.unparse(node), mode="eval").body


def _literal_variants(node):
    """(new literal node, description) for each mutation of one body literal."""
    text = ast.unparse(node)
    out = []
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _SWAP:
        mutated = _copy(node)
        mutated.ops = [_SWAP[type(node.ops[0])]()]
        out.append((mutated, f"`{text}` -> `{ast.unparse(mutated)}`"))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        out.append((_copy(node.operand), f"negation removed: `{text}` -> `{ast.unparse(node.operand)}`"))
    numbers = [n.value for n in ast.walk(node) if _number(n)]
    for n, value in enumerate(numbers):
        for sign in (1, -1):
            new_value = value + sign * _step(value)
            new_value = round(new_value, 10) if isinstance(value, float) else new_value
            mutated = _replace_nth_constant(_copy(node), n, new_value)
            out.append((mutated, f"`{text}` -> `{ast.unparse(mutated)}` (threshold {value} -> {new_value})"))
    return out


def _clause_text(head, nodes):
    expr = nodes[0]
    for node in nodes[1:]:
        expr = ast.BinOp(expr, ast.BitAnd(), node)
    return ast.unparse(ast.Compare(head, [ast.LtE()], [expr]))


def unsafe_mutants(book, trial_id, include_lib, todo):
    """[(Mutant, reason)] whose change leaves a variable unbound (safety.py): broken by construction,
    so they are neither run nor scored."""
    from .lint import roots
    from .safety import unsafe

    def keys(clauses):
        return {(u.clause.where, u.var, u.literal) for u in unsafe(clauses, entry)}

    entry = roots(book)
    before = keys(_restricted(book, trial_id).clauses)
    out = []
    for mutant in todo:
        new = [u for u in keys(mutant_book(book, trial_id, include_lib, mutant).clauses) if u not in before]
        if new:
            where, var, literal = sorted(new)[0]
            out.append((mutant, f"{var} unbound in `{literal}` at {where}"))
    return out


def mutant_book(book, trial_id, include_lib, mutant):
    """A Rulebook with lib + this trial only, the mutant's clause replaced."""
    from ..logic.rulebook import Rulebook

    targets = mutable_clauses(book, trial_id, include_lib)
    old = targets[mutant.index]
    tree = ast.parse(mutant.text, mode="eval").body
    new = parse_clause(tree, mutant.text, old.file, old.line, old.criterion)

    def swap(clauses):
        return [new if c is old else c for c in clauses]

    trial = book.trial(trial_id)
    criteria = [replace(c, holds=swap(c.holds), lacks=swap(c.lacks)) for c in trial.criteria]
    trial = replace(trial, criteria=criteria, clauses=swap(trial.clauses))
    return Rulebook(trials={trial_id: trial}, lib=swap(book.lib), sha256=f"{book.sha256}:mutant:{mutant.index}:{mutant.text}")


# --- running mutants ----------------------------------------------------------------------------

def _worker(conn, root, trial_id, include_lib):
    """Worker process: load the rules and the trial's cases once, then judge each mutant sent."""
    from ..logic.engine import Engine
    from ..logic.rulebook import build
    from .cases import case_record, load_cases
    from .runner import rules_root_of

    book = build(root)
    cases = []
    for path in sorted((Path(root) / "tests").glob("*.yaml")):
        if rules_root_of(path) is not None:
            cases += [c for c in load_cases(path) if c.trial == trial_id]
    judged = []
    for case in cases:
        record, decided = case_record(case)
        if record is not None:
            judged.append((case, record))
        elif not decided.passed:
            conn.send(("baseline", f"{case.where}: case {case.name!r} fails on the unmutated rules", len(cases), 0.0, 0.0))
            return
    start = time.perf_counter()
    judge = _Judge(book, trial_id, include_lib, judged)
    failure = judge.baseline(Engine(_restricted(book, trial_id)))
    if failure:
        conn.send(("baseline", f"{failure} fails on the unmutated rules: fix the rules or the tests first", len(cases), 0.0, 0.0))
        return
    conn.send(("ready", "", len(cases), time.perf_counter() - start, 0.0))
    while True:
        mutant = conn.recv()
        if mutant is None:
            return
        start, cpu = time.perf_counter(), time.process_time()
        try:
            mbook = mutant_book(book, trial_id, include_lib, mutant)
            eng = Engine(mbook)
        except Exception as err:  # noqa: BLE001 - any load failure kills the mutant
            conn.send((INVALID, _short(err), 0, time.perf_counter() - start, time.process_time() - cpu))
            continue
        try:
            failure = judge.mutant(eng, mutant)
        except Exception as err:  # noqa: BLE001 - a mutant that makes the engine raise is killed
            conn.send((ERROR, _short(err), 0, time.perf_counter() - start, time.process_time() - cpu))
            continue
        conn.send((KILLED if failure else SURVIVED, failure or "", 0, time.perf_counter() - start, time.process_time() - cpu))


def _restricted(book, trial_id):
    from ..logic.rulebook import Rulebook

    return Rulebook(trials={trial_id: book.trial(trial_id)}, lib=book.lib, sha256=book.sha256 + ":" + trial_id)


class _Judge:
    """Runs the trial's cases against a mutant, asking the engine only about the criteria whose
    rules reach the mutated clause; every other criterion keeps its unmutated answer (its
    derivations cannot use that clause). Cases naming an affected criterion run first."""

    def __init__(self, book, trial_id, include_lib, judged):
        self.book, self.tid, self.judged = book, trial_id, judged
        self.targets = mutable_clauses(book, trial_id, include_lib)
        trial = book.trial(trial_id)
        self.reach = {c.id: {x.head.pred for x in reachable(book, c.clauses)} for c in trial.criteria}
        other_roots = [c for c in trial.clauses if not c.head.pred.startswith(trial_id + "_")]   # e.g. strata
        self.other = {x.head.pred for x in reachable(book, other_roots)}
        self.base = {}

    def baseline(self, eng):
        """Evaluate every case on the unmutated rules; the first failing case, or None."""
        from .cases import check_record

        for case, record in self.judged:
            result = check_record(case, record, eng)
            if not result.passed:
                return f"{case.where} {case.name!r}"
            self.base[case.name] = result.judgement.evaluation
        return None

    def affected(self, mutant):
        """Criterion ids the mutant can change; None when it may change more (strata)."""
        clause = self.targets[mutant.index]
        if clause.criterion:
            return {clause.criterion[1]}
        pred = clause.head.pred
        if pred in self.other:
            return None
        return {cid for cid, preds in self.reach.items() if pred in preds}

    def mutant(self, eng, mutant):
        """The first case the mutant fails (`file:line 'name'`, with the rule conflict if any), or None."""
        from ..errors import RuleConflict
        from .cases import check_judgement

        affected = self.affected(mutant)
        order = sorted(self.judged, key=lambda cr: not (affected and affected & set(cr[0].criteria) | set(cr[0].missing)))
        for case, record in order:
            try:
                judgement = self._judge(eng, case, record, affected)
            except RuleConflict as err:
                return f"{case.where} {case.name!r} (rule conflict: {' '.join(str(err).split())[:160]})"
            if not check_judgement(case, judgement).passed:
                return f"{case.where} {case.name!r}"
        return None

    def _judge(self, eng, case, record, affected):
        from ..logic.engine import DECIDED, PATIENT
        from ..pipeline import Judgement
        from ..verdict.outcomes import trial_verdicts

        with eng.patient(record) as session:
            if affected is None:
                evaluation = session.evaluation([self.tid])
            else:
                base = self.base[case.name]
                holds = {k for k in base.holds if k[1] not in affected}
                lacks = {k for k in base.lacks if k[1] not in affected}
                for cid in sorted(affected):
                    for _p, _t, _c, side in session.query(DECIDED, [PATIENT, self.tid, cid, None]):
                        (holds if side == "holds" else lacks).add((self.tid, cid))
                evaluation = replace(base, facts=session.facts, holds=holds, lacks=lacks)
        return Judgement(record, eng.book, evaluation, trial_verdicts(eng.book, evaluation, [self.tid]))


def _short(err):
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}"


class _Slot:
    """One worker process and the mutant it is judging."""

    def __init__(self, ctx, root, trial_id, include_lib):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, str(root), trial_id, include_lib), daemon=True)
        self.proc.start()
        child.close()
        self.mutant, self.started, self.ready = None, 0.0, False

    def stop(self, kill=False):
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def run(trial_id, root=None, jobs=1, include_lib=False, timeout=None, progress=None):
    """MutationRun of every mutant of the trial. timeout (s) per mutant defaults to 10 x the
    unmutated test run (at least 10 s)."""
    from ..logic.rulebook import build
    from ..paths import rules_dir

    root = Path(root) if root is not None else rules_dir()
    book = build(root)
    book.trial(trial_id)
    todo = mutants(book, trial_id, include_lib)
    outcome = MutationRun(trial_id, unsafe=unsafe_mutants(book, trial_id, include_lib, todo))
    skipped = {m for m, _why in outcome.unsafe}
    todo = [m for m in todo if m not in skipped]
    start = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    slots = [_Slot(ctx, root, trial_id, include_lib) for _ in range(max(1, min(jobs, len(todo) or 1)))]
    queue = list(todo)
    try:
        while queue or any(s.mutant for s in slots):
            for slot in slots:
                if slot.ready and slot.mutant is None and queue:
                    slot.mutant, slot.started = queue.pop(0), time.perf_counter()
                    slot.conn.send(slot.mutant)
            busy = [s for s in slots if s.mutant is not None or not s.ready]
            deadline = min((s.started + outcome.timeout for s in busy if s.mutant and outcome.timeout), default=None)
            wait_for = None if deadline is None else max(0.0, deadline - time.perf_counter())
            for conn in wait([s.conn for s in busy], timeout=wait_for):
                slot = next(s for s in slots if s.conn is conn)
                try:
                    status, detail, cases, seconds, cpu = conn.recv()
                except EOFError:
                    status, detail, cases, seconds, cpu = ERROR, "the worker process died", 0, 0.0, 0.0
                    if not slot.ready:
                        raise InputError(f"mutate {trial_id}: a worker process died while loading the rules") from None
                if status == "baseline":
                    raise InputError(f"mutate {trial_id}: {detail}")
                if status == "ready":
                    slot.ready = True
                    outcome.cases = cases
                    outcome.timeout = outcome.timeout or timeout or max(10.0, 10 * seconds)
                    continue
                outcome.results.append(MutantResult(slot.mutant, status, detail, seconds))
                outcome.cpu += cpu
                if progress:
                    progress(outcome.results[-1], len(outcome.results), len(todo))
                slot.mutant = None
                if status == ERROR and detail == "the worker process died":
                    _replace(slots, slot, ctx, root, trial_id, include_lib)
            now = time.perf_counter()
            for slot in list(slots):
                if slot.mutant is not None and outcome.timeout and now - slot.started > outcome.timeout:
                    late = MutantResult(slot.mutant, TIMEOUT, f"no answer within {outcome.timeout:.0f} s", now - slot.started)
                    outcome.results.append(late)
                    if progress:
                        progress(outcome.results[-1], len(outcome.results), len(todo))
                    _replace(slots, slot, ctx, root, trial_id, include_lib, kill=True)
    finally:
        for slot in slots:
            slot.stop(kill=slot.mutant is not None)
    order = {m: i for i, m in enumerate(todo)}
    outcome.results.sort(key=lambda r: order[r.mutant])
    outcome.seconds = time.perf_counter() - start
    return outcome


def _replace(slots, slot, ctx, root, trial_id, include_lib, kill=False):
    slot.stop(kill=kill)
    slots[slots.index(slot)] = _Slot(ctx, root, trial_id, include_lib)


def render(outcome):
    total = len(outcome.results)
    survivors = [r for r in outcome.results if r.status == SURVIVED]
    lines = [f"Mutation testing of {outcome.trial}: {total} mutants, {outcome.cases} cases, "
             f"{outcome.seconds:.1f} s wall, {outcome.cpu:.1f} s worker CPU (timeout {outcome.timeout:.0f} s per mutant)",
             f"  score {outcome.score:.1f}%: {total - len(survivors)} killed "
             f"({outcome.count(KILLED)} by a failing case, {outcome.count(INVALID)} did not load, "
             f"{outcome.count(ERROR)} raised, {outcome.count(TIMEOUT)} timed out), {len(survivors)} survived"]
    if survivors:
        lines.append("Surviving mutants (no case noticed the change):")
        lines += [f"  {r.mutant.where}: {r.mutant.change}" for r in survivors]
    if outcome.unsafe:
        lines.append(f"Not run ({len(outcome.unsafe)} mutants unsafe by construction: a dropped literal left a variable unbound):")
        lines += [f"  {m.where}: {m.change}: {why}" for m, why in outcome.unsafe]
    odd = [r for r in outcome.results if r.status in (INVALID, ERROR, TIMEOUT)]
    if odd:
        lines.append("Killed without a case (did not load, raised, or timed out):")
        lines += [f"  {r.mutant.where}: {r.status}: {r.mutant.change}: {r.detail}" for r in odd]
    return "\n".join(lines) + "\n"
