"""One screening run: read -> judge (on a backend) -> write rows, errors, checkpoint -> funnel.

Every input record is accounted for: read = judged + invalid + failed. Results are written in
input order whatever the number of workers, so the output is identical for any --workers. A
checkpoint after every batch makes a killed run resumable (--resume) without duplicates or losses.
"""

import datetime as dt
import hashlib
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from .. import __version__
from ..errors import EligoError, InputError, visible
from ..logic.rulebook import rulebook
from ..paths import using_rules
from ..render.files import check_outputs, is_special, output_locks, publish, write_atomic
from .backends import backend, ordered
from .cohort import DEFAULT_ENGINE, FAILED, INVALID, JUDGED, STDIN, batches, open_items
from .funnel import Funnel
from .output import ERROR_COLUMNS, ROW_COLUMNS, Checkpoint, Stream, encode_errors, encode_rows, error_format, header, partial_path


class WorkerLost(EligoError):
    """A worker process died (killed, out of memory): what was written so far is kept for --resume."""

    exit_code = 1


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run; signum sets the exit code (128 + signum)."""

    def __init__(self, message="interrupted", signum=signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)


@contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM raise Interrupted in the main thread, once: a second Ctrl-C (or a TERM
    after an INT) is ignored while the run shuts its workers down and leaves its checkpoint."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def stop(signum, _frame):
        for other in signals:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}", signum)

    for signum in signals:
        signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _lost_worker_errors():
    from concurrent.futures.process import BrokenProcessPool

    errors = [BrokenProcessPool]
    distributed = sys.modules.get("distributed")   # only when the Dask backend loaded it (importing it takes ~2 s)
    if distributed is not None:
        errors.append(distributed.KilledWorker)
    return tuple(errors)


@dataclass
class Settings:
    input: str
    as_of: dt.date
    trial_ids: list = None
    out: str = None            # None: rows to stdout
    fmt: str = "jsonl"
    errors: str = None         # None: errors to stderr as text
    workers: int = 1
    batch_size: int = 50
    backend: str = "local"
    scheduler: str = None
    resume: bool = False
    engine: str = DEFAULT_ENGINE
    funnel: str = None         # None: no funnel CSV file
    strict_dates: bool = False
    rules: str = None          # a working copy of the rules (--rules DIR); None: the rules in use
    missing: bool = False      # rows also list the inputs their unknown criteria need (--report)

    def params(self, book):
        """What must not change between an interrupted run and its --resume."""
        return {"input": self.input, "as_of": self.as_of.isoformat(), "trials": self.trial_ids, "format": self.fmt,
                "errors": self.errors, "ruleset_sha256": book.sha256, "tool_version": __version__,
                "engine": self.engine, "strict_dates": self.strict_dates, **({"missing": True} if self.missing else {})}


@dataclass
class Counts:
    read: int = 0
    judged: int = 0
    invalid: int = 0
    failed: int = 0

    @property
    def rejected(self):
        return self.invalid + self.failed

    def add(self, result):
        self.read += 1
        if result.status == JUDGED:
            self.judged += 1
        elif result.status == INVALID:
            self.invalid += 1
        else:
            self.failed += 1


@dataclass
class Summary:
    counts: Counts
    funnel: Funnel
    seconds: float = 0.0
    resumed: int = 0               # records done by the interrupted run(s) before this one


class Progress:
    """'1234 patients, 85/s' on a terminal; silent when stderr is piped (CI, logs)."""

    def __init__(self, stream, total=None, enabled=None):
        self.stream, self.total = stream, total
        self.enabled = stream.isatty() if enabled is None else enabled
        self.start, self.count, self.shown = time.monotonic(), 0, 0.0

    def update(self, n):
        self.count += n
        now = time.monotonic()
        if self.enabled and now - self.shown >= 0.2:
            self.shown = now
            rate = self.count / max(now - self.start, 1e-9)
            of = f"/{self.total}" if self.total else ""
            self.stream.write(f"\r\033[K{self.count}{of} patients, {rate:.1f} patients/s")
            self.stream.flush()

    def clear(self):
        if self.enabled and self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _chain(digest, item):
    return hashlib.sha256(digest + item.identity()).digest()


def _with_digests(items, digest):
    """Pairs (digest after the item, item): the input fingerprint a resumed run checks."""
    for item in items:
        digest = _chain(digest, item)
        yield digest, item


def _keyed_batches(items, size, digest):
    for batch in batches(_with_digests(items, digest), size):
        yield batch[-1][0], [item for _d, item in batch]


def _skip(items, done, expected, source):
    """Consume the first `done` items of a resumed input, checking they are the ones already screened."""
    digest = b""
    for n in range(done):
        item = next(items, None)
        if item is None:
            raise InputError(f"{source}: has {n} records, but the interrupted run had screened {done}: "
                             f"the input changed; rerun without --resume")
        digest = _chain(digest, item)
    if digest.hex() != expected:
        raise InputError(f"{source}: its first {done} records differ from those the interrupted run screened: "
                         f"the input changed; rerun without --resume")
    return digest


def _outputs(settings):
    """Every file this run writes, with the option that names it (the guard and the locks cover all)."""
    out = []
    if settings.out:
        out += [("--out", settings.out)]
        if not is_special(settings.out):      # a device is written directly: no partial file, no checkpoint
            out += [("--out (while running)", partial_path(settings.out)),
                    ("--out's checkpoint", Checkpoint(settings.out).path)]
    if settings.errors:
        out += [("--errors", settings.errors)]
        if not is_special(settings.errors):
            out += [("--errors (while running)", partial_path(settings.errors))]
    if settings.funnel:
        out += [("--funnel", settings.funnel)]
    return out


def _check_paths(settings):
    """Refuse an output that is the input, inside the input folder, or another output of this run."""
    if settings.resume and not settings.out:
        raise InputError("--resume needs --out FILE: the output file and its checkpoint are what is resumed")
    if settings.resume and is_special(settings.out):
        raise InputError(f"--resume: --out {visible(settings.out)} is not a regular file, so there is nothing to resume")
    if settings.input == STDIN:
        inputs, folders = [], []
    else:
        inputs = [("the input", settings.input)]
        folders = [("the input", settings.input)] if os.path.isdir(settings.input) else []
    check_outputs(_outputs(settings), inputs, folders)


def _locked(settings):
    """The outputs a lock protects (the partial files and checkpoint are covered by their FILE's lock)."""
    return [(flag, path) for flag, path in _outputs(settings) if flag in ("--out", "--errors", "--funnel")]


def _resume_state(settings, book, checkpoint):
    """The checkpoint of an interrupted run (checked against this run's options), or None to start afresh."""
    if not settings.resume:
        return None
    if not checkpoint.exists():
        if os.path.exists(settings.out) and os.path.getsize(settings.out) > 0:
            raise InputError(f"{visible(settings.out)}: no checkpoint {visible(checkpoint.path)}, so there is nothing to resume "
                             f"(the run that wrote it finished); rerun without --resume to screen again")
        return None
    state = checkpoint.load()
    wanted = settings.params(book)
    for key, value in wanted.items():
        if state.get("params", {}).get(key) != value:
            raise InputError(f"--resume: the interrupted run used {key} = {state.get('params', {}).get(key)!r}, "
                             f"this run {value!r}; resume with the same input and options, or rerun without --resume")
    return state


def run(settings, stdin=None, stdout=None, stderr=None, progress=None):
    """Screen the cohort; returns the Summary. Raises InputError for bad options or input, OutputError
    for an output that would overwrite an input or that another run is writing, Interrupted on
    SIGINT/SIGTERM (the checkpoint is kept: --resume finishes the run)."""
    with using_rules(settings.rules):
        book = rulebook()
    for tid in settings.trial_ids or []:
        book.trial(tid)
    _check_paths(settings)
    with output_locks(_locked(settings)), stop_on_signals():
        return _run(settings, book, stdin, stdout, stderr, progress)


def _run(settings, book, stdin, stdout, stderr, progress):
    stdout = stdout if stdout is not None else sys.stdout.buffer
    stderr_text = stderr if stderr is not None else sys.stderr
    total, items = open_items(settings.input, stdin)
    items = iter(items)
    checkpoint = Checkpoint(settings.out) if settings.out and not is_special(settings.out) else None
    state = _resume_state(settings, book, checkpoint) if checkpoint else None
    counts, funnel = Counts(), Funnel(book, settings.trial_ids)
    digest, done = b"", 0
    if state:
        done = state["done"]
        counts = Counts(**state["counts"])
        funnel.restore(state["funnel"])
        digest = _skip(items, done, state["digest"], settings.input)
    efmt = error_format(settings.errors) if settings.errors else "text"
    out = Stream.open(settings.out, state["out_bytes"] if state else 0) if settings.out else Stream(stdout, owned=False)
    errors = (Stream.open(settings.errors, state["errors_bytes"] if state else 0, "errors file") if settings.errors
              else Stream(stderr_text, owned=False, text=True))
    progress = progress or Progress(stderr_text, total)
    progress.total = total - done if total is not None else None
    started = time.monotonic()
    try:
        if not state:
            out.write(header(settings.fmt, ROW_COLUMNS))
            if settings.errors:
                errors.write(header(efmt, ERROR_COLUMNS))
            _commit(settings, checkpoint, out, errors, book, done, digest, counts, funnel)
        with backend(settings.backend, settings.workers, settings.as_of, settings.trial_ids, settings.scheduler,
                     settings.engine, settings.strict_dates, settings.rules, settings.missing) as (submit, in_flight):
            pairs = _keyed_batches(items, settings.batch_size, digest)
            for (batch_digest, results) in ordered(lambda pair: _Keyed(pair[0], submit(pair[1])), pairs, in_flight):
                rows = [row for result in results for row in result.rows]
                bad = [result for result in results if result.status in (INVALID, FAILED)]
                out.write(encode_rows(rows, settings.fmt))
                if bad:
                    progress.clear()
                    errors.write(encode_errors(bad, efmt))
                _warn(stderr_text, results, progress)
                for result in results:
                    counts.add(result)
                for row in rows:
                    funnel.add(row)
                done += len(results)
                _commit(settings, checkpoint, out, errors, book, done, batch_digest, counts, funnel)
                progress.update(len(results))
    except _lost_worker_errors() as err:
        resume = " rerun the same command with --resume to finish" if checkpoint else ""
        raise WorkerLost(f"a worker process died ({type(err).__name__}: {err}) after {done} records were "
                         f"written;{resume}") from None
    except Interrupted as err:
        resume = "; rerun the same command with --resume to finish" if checkpoint else ""
        raise Interrupted(f"{err} after {done} records were written{resume}", err.signum) from None
    finally:
        progress.clear()
        out.close()
        errors.close()
    _finish(settings, checkpoint, out, errors, funnel)
    return Summary(counts, funnel, time.monotonic() - started, state["done"] if state else 0)


def _finish(settings, checkpoint, out, errors, funnel):
    """The run is complete: write the funnel, publish the partial files under their names, and only
    then drop the checkpoint (a kill in between leaves a checkpoint that --resume reports)."""
    if settings.funnel:
        write_atomic(settings.funnel, funnel.csv_text(), "funnel", label="--funnel")
    if errors.owned and errors.path != settings.errors:
        publish(errors.path, settings.errors, "errors file")
    if out.owned and out.path != settings.out:
        publish(out.path, settings.out, "output")
    if checkpoint:
        checkpoint.remove()


def _warn(stream, results, progress):
    """Warnings (e.g. FHIR import) on stderr, in input order, each naming its source."""
    lines = [f"warning {visible(result.source)}: {visible(line)}\n" for result in results for line in result.warnings]
    if lines:
        progress.clear()
        stream.write("".join(lines))
        stream.flush()


class _Keyed:
    """A future that returns (key, its result): ordered() hands back the batch digest with the results."""

    def __init__(self, key, future):
        self.key, self.future = key, future

    def result(self):
        return self.key, self.future.result()


def _commit(settings, checkpoint, out, errors, book, done, digest, counts, funnel):
    """Flush (and, for files, sync) both streams, then record how far the run got."""
    out.sync()
    errors.sync()
    if checkpoint is None:
        return
    checkpoint.save({
        "params": settings.params(book), "done": done, "digest": digest.hex(),
        "out_bytes": out.tell(), "errors_bytes": errors.tell() if errors.owned else 0,
        "counts": {"read": counts.read, "judged": counts.judged, "invalid": counts.invalid, "failed": counts.failed},
        "funnel": funnel.state(),
    })
