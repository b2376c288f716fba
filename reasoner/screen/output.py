"""Screening output: result rows (JSONL or CSV), the errors stream, and the resume checkpoint.

Rows and errors are written batch by batch in input order, into FILE.partial (the finished FILE
appears only when the run completes, in one rename: a killed run never leaves a FILE that looks
finished, and an older FILE stays as it was). After each batch both partial files are flushed and
synced, then the checkpoint (OUT.checkpoint) is replaced atomically with the number of items done
and the byte length of each file. A run killed at any moment therefore leaves a checkpoint that
matches a prefix of the partial files; --resume truncates them to it and carries on.

CSV cells are neutralised against formula injection (OWASP "CSV Injection"): a text cell starting
with = + - @ tab CR or NUL gets a leading single quote, and so does one that already starts with a
quote, so read_csv() gives back exactly the value written.
"""

import csv
import io
import json
import os
from contextlib import contextmanager

from ..errors import InputError, OutputError, visible, visible_json
from ..render.files import PARTIAL_SUFFIX, is_special

FORMATS = ("jsonl", "csv")
ROW_COLUMNS = ("source", "patient", "trial", "stage", "verdict", "failing", "unknown", "set_aside")
ERROR_COLUMNS = ("source", "patient", "status", "reason")
CHECKPOINT_VERSION = 1


def row_format(path, fmt=None):
    """--format, else by the --out extension (.csv -> csv), else jsonl."""
    if fmt:
        return fmt
    return "csv" if path and str(path).lower().endswith(".csv") else "jsonl"


def error_format(path):
    """The errors file's format by extension: .csv, .jsonl/.json, else readable text lines."""
    lower = str(path).lower() if path else ""
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".json")):
        return "jsonl"
    return "text"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
QUOTE = "'"


def csv_cell(value):
    """A text cell a spreadsheet shows as text, never runs as a formula. Numbers (counts, never
    negative in Eligo's CSVs) are written as they are: a number is not a formula."""
    if isinstance(value, str) and value.startswith((*FORMULA_START, QUOTE)):
        return QUOTE + value
    return value


def csv_value(cell):
    """The value csv_cell was given (for text cells): the one leading quote it added removed."""
    return cell[1:] if cell.startswith(QUOTE) else cell


def read_csv(text):
    """Rows of an Eligo CSV (screen rows, errors, funnel) as dicts of the original text values."""
    return [{key: csv_value(value) for key, value in row.items()} for row in csv.DictReader(io.StringIO(text))]


def csv_text(rows, columns, header=True):
    """CSV with neutralised cells. A row holding a carriage return is written fully quoted: the csv
    module quotes only what is in its line terminator (here \\n), and a bare CR would split the row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    quoted = csv.DictWriter(buffer, columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
    if header:
        writer.writeheader()
    for row in rows:
        cells = {key: csv_cell(value) for key, value in row.items()}
        (quoted if any(isinstance(v, str) and "\r" in v for v in cells.values()) else writer).writerow(cells)
    return buffer.getvalue()


def _csv_bytes(rows, columns, header=False):
    return csv_text(rows, columns, header).encode("utf-8")


# json.dumps(row, ensure_ascii=False) builds a new encoder per call: one, reused (same text).
_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _jsonl_bytes(rows):
    return "".join(visible_json(_JSON(row)) + "\n" for row in rows).encode("utf-8")


def encode_rows(rows, fmt):
    if fmt == "csv":
        flat = [{**row, "stage": row["stage"] or "", "failing": ";".join(row["failing"]),
                 "unknown": ";".join(row["unknown"]),
                 "set_aside": ";".join(f"{e['path']} {e['date']}" for e in row["set_aside"])} for row in rows]
        flat = [{k: v for k, v in row.items() if k != "missing"} for row in flat]   # JSONL only (eligo screen --report)
        return _csv_bytes(flat, ROW_COLUMNS)
    return _jsonl_bytes(rows)


def error_entries(results):
    return [{"source": r.source, "patient": r.patient, "status": r.status, "reason": r.reason} for r in results]


def encode_errors(results, fmt):
    entries = error_entries(results)
    if fmt == "csv":
        return _csv_bytes([{**e, "patient": e["patient"] or ""} for e in entries], ERROR_COLUMNS)
    if fmt == "jsonl":
        return _jsonl_bytes(entries)
    return "".join(f"{e['status']} {visible(e['source'])}: {visible(e['reason'])}\n" for e in entries).encode("utf-8")


def header(fmt, columns):
    return _csv_bytes([], columns, header=True) if fmt == "csv" else b""


class Checkpoint:
    """OUT.checkpoint: where an interrupted run stopped (JSON, replaced atomically)."""

    def __init__(self, out_path):
        self.path = str(out_path) + ".checkpoint"

    def exists(self):
        return os.path.exists(self.path)

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                state = json.load(handle)
        except (OSError, ValueError) as err:
            raise InputError(f"{self.path}: unreadable checkpoint ({err}); rerun without --resume to start over") from None
        if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
            raise InputError(f"{self.path}: not an eligo screen checkpoint (version {CHECKPOINT_VERSION}); "
                             f"rerun without --resume to start over")
        return state

    def save(self, state):
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                # dumps, not dump: json.dump encodes in pure Python (~1 ms a batch), dumps in C
                handle.write(json.dumps({"version": CHECKPOINT_VERSION, **state}))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as err:   # the previous checkpoint stays whole: --resume starts from it
            raise OutputError(f"{visible(self.path)}: cannot write the checkpoint ({err.strerror or err}); "
                              f"free space and rerun the same command with --resume") from None

    def remove(self):
        for path in (self.path, self.path + ".tmp"):
            if os.path.exists(path):
                os.remove(path)


def partial_path(path):
    return str(path) + PARTIAL_SUFFIX


class Stream:
    """A binary output: a file we own (truncatable, syncable) or a borrowed stream (stdout/stderr).
    A file is written as PATH.partial (self.path) and published as PATH at the end of the run."""

    def __init__(self, handle, owned, text=False, path=None, what="output"):
        self.handle, self.owned, self.text, self.path, self.what = handle, owned, text, path, what

    @contextmanager
    def _writing(self):
        """A full disk (or any OSError) while writing: exit 2 naming the file, never 'internal error'.
        A closed pipe stays a BrokenPipeError (the CLI ends quietly, as `| head` expects)."""
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as err:
            name = visible(self.path) if self.path else "<stdout>"
            raise OutputError(f"{name}: cannot write the {self.what} ({err.strerror or err})") from None

    @classmethod
    def open(cls, final, keep_bytes=0, what="output"):
        """Open FINAL.partial for writing, keeping its first keep_bytes (resume) or truncating it.
        A device or FIFO (/dev/null, /dev/stdout) is written directly: it cannot be renamed onto."""
        if is_special(final):
            try:
                return cls(open(final, "wb"), owned=True, path=str(final), what=what)  # noqa: SIM115 - closed by close()
            except OSError as err:
                raise InputError(f"{visible(final)}: cannot write the {what} ({err.strerror})") from None
        path = partial_path(final)
        if keep_bytes and not os.path.exists(path):
            raise InputError(f"{visible(path)}: missing, but the checkpoint says the interrupted run wrote "
                             f"{keep_bytes} bytes of the {what} there; rerun without --resume")
        try:
            handle = open(path, "r+b" if keep_bytes else "wb")  # noqa: SIM115 - closed by close()
            if keep_bytes:
                size = os.fstat(handle.fileno()).st_size
                if size < keep_bytes:
                    handle.close()
                    raise InputError(f"{visible(path)}: {size} bytes, shorter than the {keep_bytes} the checkpoint recorded; "
                                     f"the {what} was changed since the interrupted run: rerun without --resume")
                handle.truncate(keep_bytes)
                handle.seek(keep_bytes)
        except OSError as err:
            raise InputError(f"{visible(path)}: cannot write the {what} ({err.strerror})") from None
        return cls(handle, owned=True, path=path, what=what)

    def write(self, data):
        if data:
            with self._writing():
                self.handle.write(data.decode("utf-8") if self.text else data)

    def sync(self):
        with self._writing():
            self.handle.flush()
            if self.owned and not is_special(self.path):
                os.fsync(self.handle.fileno())

    def tell(self):
        return self.handle.tell() if self.owned else None

    def close(self):
        with self._writing():
            if self.owned:
                self.handle.close()
            else:
                self.handle.flush()
