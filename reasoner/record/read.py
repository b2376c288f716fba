"""Read a patient record file (YAML or JSON) and validate it against record_schema.

Every failure becomes an InputError naming the file, the field and what was expected.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from ..errors import InputError, RecordError
from .format import RECORD
from .validator import Context, SourceInt

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 40
MAX_DIGITS = 100   # far beyond any real value; Python refuses ints of 4300+ digits


@dataclass(frozen=True)
class Record:
    data: dict          # validated, normalized (dates as datetime.date)
    filename: str       # as the user named it; every fact's provenance starts here
    sha256: str         # of the file's bytes, for reports
    as_of: dt.date
    set_aside: tuple = ()   # SetAside entries (.path, .date, .why): dated after as_of, absent for the rules

    @property
    def patient_id(self):
        return self.data["patient"]["id"]


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases (no alias bombs, no shared sub-records), tags or
    duplicate keys (the second value would silently replace the first)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(None, None, "YAML aliases (*name) are not allowed in records", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(None, None, "YAML merge keys (<<) are not allowed in records", key_node.start_mark)
            if isinstance(key_node, yaml.ScalarNode):
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key_node.value!r} appears twice in one mapping, expected each field once", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_undefined(self, node):
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise yaml.constructor.ConstructorError(None, None, f"tag {tag} is not allowed in records (plain YAML only)", node.start_mark)

    def construct_yaml_int(self, node):
        """Ints remember how they were written, so an id written 00123 stays "00123", not 83 (octal)."""
        text = self.construct_scalar(node)
        if sum(c.isdigit() for c in text) > MAX_DIGITS:
            raise yaml.constructor.ConstructorError(None, None, f"a number longer than {MAX_DIGITS} digits", node.start_mark)
        return SourceInt(super().construct_yaml_int(node), text)

    def construct_yaml_timestamp(self, node):
        """An impossible date (2026-02-30) stays text, so validation names the field."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_NoAliasLoader.add_constructor(None, _NoAliasLoader.construct_undefined)
_NoAliasLoader.add_constructor("tag:yaml.org,2002:int", _NoAliasLoader.construct_yaml_int)
_NoAliasLoader.add_constructor("tag:yaml.org,2002:timestamp", _NoAliasLoader.construct_yaml_timestamp)


def _json_object(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise InputError(f"key {key!r} appears twice in one mapping, expected each field once")
        out[key] = value
    return out


def _json_int(text):
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise InputError(f"a number of {len(text.lstrip('-'))} digits, expected at most {MAX_DIGITS}")
    return int(text)


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
        with open(p, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)   # bounded even where stat() cannot tell (/dev/zero, pipes)
    except OSError as err:
        raise InputError(f"{name}: cannot be read ({err.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"{name}: more than {MAX_BYTES // (1024 * 1024)} MB, expected a record of at most {MAX_BYTES // (1024 * 1024)} MB")
    return raw


def parse_text(raw, name):
    """Bytes -> plain data (dict), from JSON or YAML, with safe limits."""
    if not raw.strip():
        raise InputError(f"{name}: empty file, expected a record (YAML or JSON)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: UTF-16 text, expected a UTF-8 YAML or JSON record")
    if b"\x00" in raw:
        raise InputError(f"{name}: binary file, expected a YAML or JSON text record")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not UTF-8 text (byte {err.start}), expected a UTF-8 YAML or JSON record") from None
    try:
        data = _load(text, name)
    except json.JSONDecodeError as err:
        raise InputError(f"{name}: line {err.lineno} column {err.colno}: invalid JSON ({err.msg})") from None
    except yaml.YAMLError as err:
        raise InputError(f"{name}: {_yaml_problem(err, text)}") from None
    except RecursionError:
        raise InputError(f"{name}: nested too deeply, expected at most {MAX_DEPTH} levels") from None
    except InputError as err:
        raise InputError(f"{name}: {err}") from None
    return record_shaped(data, name, "a mapping of record sections at the top level")


def record_shaped(data, name, expected):
    """data, if it is a mapping no deeper than MAX_DEPTH (records are validated recursively)."""
    if not isinstance(data, dict):
        raise InputError(f"{name}: expected {expected}, got {type(data).__name__}")
    if not _depth(data, MAX_DEPTH):
        raise InputError(f"{name}: nested too deeply, expected at most {MAX_DEPTH} levels")
    return data


def _yaml_problem(err, text):
    """`line L column C: invalid YAML (what)` from any PyYAML error."""
    if isinstance(err, yaml.reader.ReaderError):   # a character YAML refuses: a position, no mark
        before = text[:err.position]
        code = err.character if isinstance(err.character, int) else ord(err.character)
        return (f"line {before.count(chr(10)) + 1} column {err.position - before.rfind(chr(10))}: "
                f"invalid YAML (control character #x{code:04x} is not allowed)")
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None) or ""
    if context.startswith("expected"):              # e.g. "expected a single document in the stream"
        problem = f"{context}, {problem}"
    return f"{where}invalid YAML ({problem})"


def _load(text, name):
    """JSON for .json files; otherwise YAML, read as JSON first when it looks like JSON (faster)."""
    if name.endswith(".json"):
        return json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int)
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int)
        except json.JSONDecodeError:
            pass   # YAML flow style, e.g. {schema_version: 1, patient: {id: P1}}
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def validate(data, name, as_of, sha256="", strict_dates=False):
    """A Record; entries dated after as_of are set aside (Record.set_aside), or with
    strict_dates refused like any other problem."""
    ctx = Context(as_of, strict_dates)
    checked = RECORD.check(data, "", ctx)
    if ctx.problems:
        raise RecordError(name, ctx.problems)
    aside = tuple(_with_source(e, checked.get("sources", {})) for e in ctx.set_aside)
    return Record(data=checked, filename=name, sha256=sha256, as_of=as_of, set_aside=aside)


def _with_source(entry, sources):
    """A set-aside entry of an imported record names the resource it came from (Observation/b2)."""
    found = [where for path, where in sources.items() if path == entry.path or path.startswith((entry.path + ".", entry.path + "["))]
    if not found:
        return entry
    return replace(entry, why=f"{entry.why} ({found[0].split()[0]})")


def record_from_data(data, name, as_of, strict_dates=False):
    """Validate in-memory data (rule-test cases, screening lines, imported FHIR) as a record."""
    raw = json.dumps(data, sort_keys=True, default=str).encode()
    return validate(data, name, as_of, hashlib.sha256(raw).hexdigest(), strict_dates)


def load_record(path, as_of, strict_dates=False):
    """Read, parse and validate one record file."""
    raw = read_bytes(path)
    data = parse_text(raw, str(path))
    return validate(data, str(path), as_of, hashlib.sha256(raw).hexdigest(), strict_dates)
