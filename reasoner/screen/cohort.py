"""Cohort screening, the parts every backend shares: reading the cohort and judging one batch.

A cohort is a folder of record files (sorted names), a JSONL file or `-` (JSONL on stdin). Items
are read lazily, one at a time, so the cohort is never held in memory. judge_batch is the worker
function: it runs in a pool process or on a Dask worker, reuses that process's (thread's) engine,
and turns every problem with one record into a result for that record instead of an exception.
"""

import gc
import hashlib
import os
import stat
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EligoError, InputError
from ..logic.engine import engine
from ..logic.rulebook import rulebook
from ..paths import using_rules
from ..pipeline import judge, load_input, validate
from ..record.read import MAX_BYTES, link_problem, parse_json_line
from ..render.result import set_aside_document
from ..verdict.outcomes import verdict_rows

JUDGED, INVALID, FAILED = "judged", "invalid", "failed"
# fast (reasoner/logic/fastlog.py: the same rule files compiled bottom-up) is the default: it meets the
# nightly-cohort target that pyDatalog misses by ~1.5x (docs/screening.md); pydatalog, the engine of
# check/explain/report, stays one flag away to cross-check a run.
DEFAULT_ENGINE = "fast"
STDIN = "-"
SINGLE_RECORD_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Item:
    """One input record before parsing: a JSONL line (bytes) or a file path."""

    index: int            # 0-based position in the input: results keep this order
    source: str           # what messages and result rows name: "cohort.jsonl:12", "records/p1.yaml"
    line: bytes = None
    path: str = None
    problem: str = None   # found while reading (e.g. a line over the size limit)

    def identity(self):
        """Bytes that identify this item, so a resumed run can check its input did not change: a
        JSONL line itself; a file's name and a hash of its content (so an edited record is noticed)."""
        if self.line is not None:
            return self.line
        content = file_digest(self.path) if self.path is not None else ""
        return (self.source + "\0" + (self.problem or "") + "\0" + content).encode()


def file_digest(path):
    """sha256 of a regular file's content (at most MAX_BYTES + 1 bytes are read, as check reads it);
    for anything else (a FIFO or device, which must not be opened here; a missing file) what it is."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return f"not a regular file (mode {stat.S_IFMT(st.st_mode):o})"
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            left = MAX_BYTES + 1
            while left > 0:
                chunk = handle.read(min(left, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
        return digest.hexdigest()
    except OSError as err:
        return f"unreadable ({err.strerror})"


@dataclass
class Result:
    index: int
    source: str
    status: str                 # judged, invalid or failed
    patient: str = None
    rows: list = field(default_factory=list)
    reason: str = None          # why invalid or failed
    warnings: list = field(default_factory=list)   # e.g. FHIR import warnings, shown in input order


def open_items(spec, stdin=None):
    """INPUT -> (total number of items or None when unknown before reading, iterator of Item)."""
    if spec == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        return None, _lines(stream, "<stdin>")
    path = Path(spec)
    if not path.exists():
        if path.is_symlink():
            raise InputError(f"{spec}: {link_problem(spec)}; expected a folder of records, a JSONL file or - for stdin")
        raise InputError(f"{spec}: no such file or folder; expected a folder of records, a JSONL file or - for stdin")
    if path.is_dir():
        names = _folder(path, spec)
        return len(names), _files(path, spec, names)
    if path.suffix.lower() in SINGLE_RECORD_SUFFIXES:
        raise InputError(f"{spec}: a single record file; expected a folder of records, a JSONL file (one record "
                         f"per line, e.g. cohort.jsonl) or -; judge one record with `eligo check`")
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by the generator
    except OSError as err:
        raise InputError(f"{spec}: cannot be read ({err.strerror})") from None
    return None, _closing(stream, _lines(stream, spec))


def _folder(path, spec):
    """Sorted entry names; hidden entries (.name) are not records and are skipped."""
    try:
        return sorted(entry.name for entry in os.scandir(path) if not entry.name.startswith("."))
    except OSError as err:
        raise InputError(f"{spec}: cannot be listed ({err.strerror})") from None


def _files(path, spec, names):
    for index, name in enumerate(names):
        shown = os.path.join(spec, name)
        yield Item(index, shown, path=str(path / name))


def _closing(stream, items):
    with stream:
        yield from items


def _lines(stream, name):
    """Non-blank lines as Items; a line over MAX_BYTES is skipped in chunks and becomes a problem."""
    number, index = 0, 0
    while True:
        line = stream.readline(MAX_BYTES + 1)
        if not line:
            return
        number += 1
        source = f"{name}:{number}"
        if len(line) > MAX_BYTES and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield Item(index, source, problem=f"line longer than {MAX_BYTES // (1024 * 1024)} MB, expected one record per line")
            index += 1
            continue
        if not line.strip():
            continue
        yield Item(index, source, line=line)
        index += 1


def parse_line(raw, source):
    """One JSONL line -> record data (a dict), or an InputError naming the line (record/read.py's guards)."""
    return parse_json_line(raw, source)


def reason_of(err, source):
    """An error's message without the repeated source prefix, on one line."""
    prefix = f"{source}: "
    lines = [line[len(prefix):] if line.startswith(prefix) else line for line in str(err).splitlines()]
    return "; ".join(line for line in lines if line.strip()) or type(err).__name__


def result_rows(source, judgement, with_missing=False):
    """Rows of one judged record: one per trial and stage, in rulebook order. with_missing: each
    row also lists the inputs its unknown criteria need (for the cohort report; computing them
    costs time, so plain screening leaves the column out)."""
    rows = [{"source": source, "patient": judgement.record.patient_id, "trial": tv.trial.id, "stage": tv.stage,
             "verdict": tv.verdict, "failing": [c.id for c in tv.failing], "unknown": [c.id for c in tv.unknown],
             "set_aside": set_aside_document(judgement.record.set_aside)}
            for tv in judgement.verdicts]
    if with_missing:
        for row, tv in zip(rows, judgement.verdicts):
            row["missing"] = sorted({path for c in tv.unknown for path in c.missing})
    return rows


def screening_rows(source, record, trial_ids=None, engine_name=DEFAULT_ENGINE, evaluation=None):
    """result_rows without missing inputs, from the evaluation (made here unless given) straight
    to rows (verdict_rows: the same outcomes and conflicts as trial_verdicts, without an object
    per criterion)."""
    if evaluation is None:
        evaluation = (evaluator(engine_name) or engine()).evaluate(record, trial_ids, gaps=False)
    patient, set_aside = record.patient_id, set_aside_document(record.set_aside)
    return [{"source": source, "patient": patient, "trial": tid, "stage": stage, "verdict": verdict,
             "failing": failing, "unknown": unknown, "set_aside": set_aside}
            for tid, stage, verdict, failing, unknown in verdict_rows(rulebook(), evaluation, trial_ids)]


def evaluator(engine_name):
    """None: pipeline.judge's default (the thread's pyDatalog engine); fast: fastlog's evaluator."""
    if engine_name == "fast":
        from ..logic.fastlog import fast_engine

        return fast_engine()
    return None


def load_item(item, as_of, warn, strict_dates=False):
    """One item -> validated Record (EligoError naming the item if it is not one); warnings to warn."""
    if item.problem:
        raise InputError(f"{item.source}: {item.problem}")
    if item.path is not None:
        return load_input(item.path, as_of, warn=warn, strict_dates=strict_dates)
    # The record's SHA-256 is that of its line, as check's is that of its file (no re-encoding of the data).
    return validate(parse_line(item.line, item.source), item.source, as_of, hashlib.sha256(item.line).hexdigest(),
                    strict_dates)


def _validated(item, as_of, strict_dates, warnings):
    """(Record, None) or (None, the Result of an item that is not a valid record)."""
    try:
        return load_item(item, as_of, warnings.append, strict_dates), None
    except EligoError as err:
        return None, Result(item.index, item.source, INVALID, reason=reason_of(err, item.source), warnings=warnings)
    except Exception as err:  # noqa: BLE001 - a validator crash on odd input is reported, not fatal
        return None, Result(item.index, item.source, FAILED, reason=f"validation crashed: {type(err).__name__}: {err}",
                            warnings=warnings)


def _judged(item, record, warnings, trial_ids, engine_name, evaluation):
    """The Result of a valid record from its evaluation (or the exception evaluating it raised)."""
    try:
        if isinstance(evaluation, Exception):
            raise evaluation
        rows = screening_rows(item.source, record, trial_ids, engine_name, evaluation)
    except Exception as err:  # noqa: BLE001 - RuleConflict or any crash: reported for this record
        return Result(item.index, item.source, FAILED, record.patient_id, reason=f"{type(err).__name__}: {err}",
                      warnings=warnings)
    return Result(item.index, item.source, JUDGED, record.patient_id, rows, warnings=warnings)


def judge_together(batch, as_of, trial_ids=None, strict_dates=False):
    """judge_item of each item, with the fast engine's evaluate_many: the valid records of the
    batch are evaluated in one run (reasoner/logic/fastlog.py), each judged and reported alone."""
    from ..logic.fastlog import fast_engine

    trial_ids = trial_ids and list(dict.fromkeys(trial_ids))
    results, valid = [None] * len(batch), []
    for position, item in enumerate(batch):
        warnings = []
        record, rejected = _validated(item, as_of, strict_dates, warnings)
        if rejected is not None:
            results[position] = rejected
        else:
            valid.append((position, item, record, warnings))
    evaluations = fast_engine().evaluate_many([record for _p, _i, record, _w in valid], trial_ids)
    for (position, item, record, warnings), evaluation in zip(valid, evaluations):
        results[position] = _judged(item, record, warnings, trial_ids, "fast", evaluation)
    return results


def judge_item(item, as_of, trial_ids=None, engine_name=DEFAULT_ENGINE, strict_dates=False, with_missing=False):
    """Validate and judge one item. Never raises for the record's sake: the run goes on."""
    warnings = []
    record, rejected = _validated(item, as_of, strict_dates, warnings)
    if rejected is not None:
        return rejected
    try:
        if with_missing:
            rows = result_rows(item.source, judge(record, trial_ids, evaluator(engine_name)), with_missing)
        else:
            rows = screening_rows(item.source, record, trial_ids and list(dict.fromkeys(trial_ids)), engine_name)
    except Exception as err:  # noqa: BLE001 - RuleConflict or any crash: reported for this record
        return Result(item.index, item.source, FAILED, record.patient_id, reason=f"{type(err).__name__}: {err}",
                      warnings=warnings)
    return Result(item.index, item.source, JUDGED, record.patient_id, rows, warnings=warnings)


def judge_batch(batch, as_of, trial_ids=None, engine_name=DEFAULT_ENGINE, strict_dates=False, rules=None, with_missing=False):
    """The worker function (local pool and Dask): a list of Items -> a list of Results, same order.
    rules: a working copy of the rules (--rules DIR) to judge with, else the rules in use."""
    with using_rules(rules), _collector_paused():
        if engine_name == "fast" and not with_missing:
            return judge_together(batch, as_of, trial_ids, strict_dates)
        return [judge_item(item, as_of, trial_ids, engine_name, strict_dates, with_missing) for item in batch]


@contextmanager
def _collector_paused():
    """No cyclic garbage collection while a batch is judged (~10% of its time: a batch allocates
    millions of short-lived objects, freed by reference counting anyway); it runs again after."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def warm_up(engine_name=DEFAULT_ENGINE, rules=None, trial_ids=None):
    """Pool initializer: load the rules once per worker process, before the first batch. The fast
    engine's program for the run's trials is compiled here too: with fork this runs once in the
    main process and every worker inherits it (compiled in each worker, it cost ~0.15 s each)."""
    from ..logic.engine import engine

    with using_rules(rules):
        if engine_name == "fast":
            evaluator(engine_name).program(trial_ids and list(dict.fromkeys(trial_ids)))
        else:
            engine()
    # The rules, compiled code and reference facts live as long as the process: out of the
    # collector's way, so its full collections do not walk them again and again (~15% of the time).
    gc.collect()
    gc.freeze()


def batches(items, size):
    """Lists of at most `size` items, read lazily."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
