"""Read a patient record file (YAML or JSON) and validate it against record_schema.

Every failure becomes an InputError naming the file, the field and what was expected.
"""

import datetime as dt
import errno
import hashlib
import json
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass, replace

import yaml

from ..errors import InputError, RecordError
from .format import RECORD
from .scalars import MAX_DIGITS, RecordResolver, ScalarConstructor
from .validator import Context

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 40


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


class _NoAliasLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                     ScalarConstructor, RecordResolver):
    """Safe YAML without anchors/aliases (no alias bombs, no shared sub-records), tags or
    duplicate keys (the second value would silently replace the first); plain scalars are read
    as reasoner/record/scalars.py says (never octal, base 60 or yes/no booleans)."""

    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        ScalarConstructor.__init__(self)
        RecordResolver.__init__(self)

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
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key_node.value!r} appears twice in one mapping, expected each field once", key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)

    def construct_undefined(self, node):
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise yaml.constructor.ConstructorError(None, None, f"tag {tag} is not allowed in records (plain YAML only)", node.start_mark)


_NoAliasLoader.add_constructor(None, _NoAliasLoader.construct_undefined)
for _tag in ("binary", "omap", "pairs", "set", "timestamp"):   # nothing in a record is written so
    _NoAliasLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _NoAliasLoader.construct_undefined)


def _json_object(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):   # a key given twice: name the first one repeated
        seen = set()
        for key, _value in pairs:
            if key in seen:
                raise InputError(f"key {key!r} appears twice in one mapping, expected each field once")
            seen.add(key)
    return out


def _json_int(text):
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise InputError(f"a number of {len(text.lstrip('-'))} digits, expected at most {MAX_DIGITS}")
    return int(text)


def _json_float(text):
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_DIGITS:
        raise InputError(f"a number of {digits} digits, expected at most {MAX_DIGITS}")
    return float(text)


def _depth(value, limit):
    """Whether value nests at most `limit` levels (a scalar at the top is level 1), level by level."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            return False
        inner = []
        for item in level:
            if isinstance(item, dict):
                inner.extend(item.values())
            elif isinstance(item, list):
                inner.extend(item)
        level, depth = inner, depth + 1
    return True


def _kind(mode):
    """What a file that is not a regular file is, in words."""
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return "not a regular file"


def _not_a_file(name, mode):
    if stat.S_ISDIR(mode):
        return InputError(f"{name}: is a directory, expected a record file (YAML or JSON)")
    return InputError(f"{name}: {_kind(mode)}, expected a regular record file (YAML or JSON); it is not read")


def link_problem(path):
    """What is wrong with a symbolic link that leads nowhere: a loop, or a missing target."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a loop of symbolic links"
    return f"a symbolic link to a missing file ({os.readlink(path)})"


def _stat(path, name):
    """os.stat, with ENOENT and ELOOP said in words (a link loop is not a missing file)."""
    try:
        return os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise InputError(f"{name}: a loop of symbolic links, expected a record file") from None
        if err.errno == errno.ENOENT and os.path.islink(path):
            raise InputError(f"{name}: {link_problem(path)}") from None
        if err.errno == errno.ENOENT:
            raise InputError(f"{name}: no such file") from None
        raise InputError(f"{name}: cannot be read ({err.strerror})") from None


def read_bytes(path):
    """The file's bytes, or an InputError saying why it cannot be read as a record.

    Only a regular file is opened: a FIFO, socket or device is refused from its stat (reading one
    could block forever), and the opened file is checked again (it may have been swapped since);
    the open itself is non-blocking so that even then nothing waits for a writer.
    """
    name = str(path)
    mode = _stat(path, name).st_mode
    if not stat.S_ISREG(mode):
        raise _not_a_file(name, mode)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise InputError(f"{name}: a loop of symbolic links, expected a record file") from None
        raise InputError(f"{name}: cannot be read ({err.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_a_file(name, mode)
        try:
            raw = handle.read(MAX_BYTES + 1)   # bounded even if the file grows while it is read
        except OSError as err:
            raise InputError(f"{name}: cannot be read ({err.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"{name}: more than {MAX_BYTES // (1024 * 1024)} MB, expected a record of at most {MAX_BYTES // (1024 * 1024)} MB")
    return raw


def decode_text(raw, name, expected="a UTF-8 YAML or JSON record"):
    """UTF-8 text of a record's bytes (a BOM is dropped), or an InputError: binary, UTF-16, not UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: UTF-16 text, expected {expected}")
    if b"\x00" in raw:
        raise InputError(f"{name}: binary data, expected {expected}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not UTF-8 text (byte {err.start}), expected {expected}") from None


def parse_text(raw, name):
    """Bytes -> plain data (dict), from JSON or YAML, with safe limits."""
    if not raw.strip():
        raise InputError(f"{name}: empty file, expected a record (YAML or JSON)")
    if b"\x00" in raw and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: binary file, expected a YAML or JSON text record")
    text = decode_text(raw, name)
    with _parse_errors(name, text):
        data = _load(text, name)
    return record_shaped(data, name, "a mapping of record sections at the top level")


@contextmanager
def _parse_errors(name, text, one_line=False):
    """The one translation of parser failures into messages naming the file (and line), shared by
    record files and JSONL lines so both refuse the same things the same way."""
    try:
        yield
    except json.JSONDecodeError as err:
        where = f"column {err.colno}" if one_line else f"line {err.lineno} column {err.colno}"
        raise InputError(f"{name}: {where}: invalid JSON ({err.msg})") from None
    except yaml.YAMLError as err:
        raise InputError(f"{name}: {_yaml_problem(err, text)}") from None
    except RecursionError:
        raise InputError(f"{name}: nested too deeply, expected at most {MAX_DEPTH} levels") from None
    except InputError as err:
        raise InputError(f"{name}: {err}") from None


def parse_json_line(raw, name):
    """One JSONL line -> record data, through the same guards as a record file (duplicate keys,
    number length, nesting, encoding): a cohort line is read exactly as a .json record would be."""
    text = decode_text(raw, name, "a JSON object").strip()
    if not text.startswith("{"):
        raise InputError(f"{name}: expected a JSON object (one record per line), got {text[:20]!r}")
    with _parse_errors(name, text, one_line=True):
        data = load_json(text)
    return record_shaped(data, name, "a JSON object")


def load_json(text):
    """JSON with the record guards: each key once, numbers of at most MAX_DIGITS digits."""
    return json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int, parse_float=_json_float)


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
        return load_json(text)
    if text.lstrip().startswith("{"):
        try:
            return load_json(text)
        except json.JSONDecodeError:
            pass   # YAML flow style, e.g. {schema_version: 1, patient: {id: P1}}
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def validate(data, name, as_of, sha256="", strict_dates=False, criteria=None, trial_dates=None):
    """data -> Record, or a RecordError with every problem. Entries dated after as_of are set aside
    (Record.set_aside), or with strict_dates refused like any other problem. criteria: the rules'
    catalogue (logic Rulebook.criteria_catalogue); the pipeline passes it, so attestations are
    checked against the rules. Without it (record-level tests) an attestation's criterion is
    checked for shape only. trial_dates: {trial: kinds of date its criteria count from}, for a
    trial's own dates (dates.by_trial), passed with the catalogue."""
    ctx = Context(as_of, strict_dates, criteria)
    ctx.trial_dates = trial_dates
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


def record_from_data(data, name, as_of, strict_dates=False, criteria=None, trial_dates=None):
    """Validate in-memory data (rule-test cases, screening lines, imported FHIR) as a record."""
    raw = json.dumps(data, sort_keys=True, default=str).encode()
    return validate(data, name, as_of, hashlib.sha256(raw).hexdigest(), strict_dates, criteria, trial_dates)


def load_record(path, as_of, strict_dates=False, criteria=None, trial_dates=None):
    """Read, parse and validate one record file."""
    raw = read_bytes(path)
    data = parse_text(raw, str(path))
    return validate(data, str(path), as_of, hashlib.sha256(raw).hexdigest(), strict_dates, criteria, trial_dates)


def parse_value(text, name):
    """One value written as YAML (a --set value), with the record's own safe loader and limits."""
    try:
        value = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise InputError(f"{name}: {_yaml_problem(err, text)}") from None
    if not _depth(value, MAX_DEPTH):
        raise InputError(f"{name}: nested too deeply, expected at most {MAX_DEPTH} levels")
    return value
