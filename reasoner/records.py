"""Read a patient record file (YAML or JSON) and validate it against record_schema.

Every failure becomes an InputError naming the file, the field and what was expected.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import InputError, RecordError
from .record_schema import RECORD
from .schema import Context

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 40


@dataclass(frozen=True)
class Record:
    data: dict          # validated, normalized (dates as datetime.date)
    filename: str       # as the user named it; every fact's provenance starts here
    sha256: str         # of the file's bytes, for reports
    as_of: dt.date

    @property
    def patient_id(self):
        return self.data["patient"]["id"]


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases: no alias bombs, and no shared sub-records."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(None, None, "YAML aliases (*name) are not allowed in records", event.start_mark)
        return super().compose_node(parent, index)


def _depth(value, limit):
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def read_bytes(path):
    """The file's bytes, or an InputError saying why it cannot be read as a record."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise InputError(f"{name}: no such file")
    if p.is_dir():
        raise InputError(f"{name}: is a directory, expected a record file (YAML or JSON)")
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{name}: {size} bytes, expected a record of at most {MAX_BYTES // (1024 * 1024)} MB")
        raw = p.read_bytes()
    except OSError as err:
        raise InputError(f"{name}: cannot be read ({err.strerror})") from None
    return raw


def parse_text(raw, name):
    """Bytes -> plain data (dict), from JSON or YAML, with safe limits."""
    if not raw.strip():
        raise InputError(f"{name}: empty file, expected a record (YAML or JSON)")
    if b"\x00" in raw:
        raise InputError(f"{name}: binary file, expected a YAML or JSON text record")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not UTF-8 text (byte {err.start}), expected a UTF-8 YAML or JSON record") from None
    try:
        if name.endswith(".json") or text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except json.JSONDecodeError as err:
        raise InputError(f"{name}: line {err.lineno} column {err.colno}: invalid JSON ({err.msg})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{name}: {where}invalid YAML ({problem})") from None
    except RecursionError:
        raise InputError(f"{name}: nested too deeply, expected at most {MAX_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise InputError(f"{name}: expected a mapping of record sections at the top level, got {type(data).__name__}")
    if not _depth(data, MAX_DEPTH):
        raise InputError(f"{name}: nested too deeply, expected at most {MAX_DEPTH} levels")
    return data


def validate(data, name, as_of, sha256=""):
    ctx = Context(as_of)
    checked = RECORD.check(data, "", ctx)
    if ctx.problems:
        raise RecordError(name, ctx.problems)
    return Record(data=checked, filename=name, sha256=sha256, as_of=as_of)


def record_from_data(data, name, as_of):
    """Validate in-memory data (rule-test cases, screening lines, imported FHIR) as a record."""
    raw = json.dumps(data, sort_keys=True, default=str).encode()
    return validate(data, name, as_of, hashlib.sha256(raw).hexdigest())


def load_record(path, as_of):
    """Read, parse and validate one record file."""
    raw = read_bytes(path)
    data = parse_text(raw, str(path))
    return validate(data, str(path), as_of, hashlib.sha256(raw).hexdigest())
