"""A small declarative validator: each spec checks one value and reports problems by path.

Kept in-house (rather than pydantic) so that messages read `metastases[2].size_mm: expected a
number >= 0, got "big"` and so that an absent field stays distinguishable from an empty one.
"""

import datetime as dt
import math
import re
from dataclasses import dataclass

from ..errors import FieldProblem, visible


class SourceInt(int):
    """An int read from YAML that remembers how it was written: an id written 00123 stays
    "00123" (YAML 1.1 would read it as octal 83) and a time-like 1:30 stays "1:30"."""

    def __new__(cls, value, text):
        self = super().__new__(cls, value)
        self.text = text
        return self

    def __getnewargs__(self):   # copy and pickle keep the text
        return int(self), self.text


class SourceFloat(float):
    """A float read from YAML that remembers how it was written (`1.10` stays "1.10" in a text field)."""

    def __new__(cls, value, text):
        self = super().__new__(cls, value)
        self.text = text
        return self

    def __getnewargs__(self):
        return float(self), self.text


def as_text(value):
    """A str or number field value as the user wrote it."""
    if value.__class__ is str:   # the common case, without the failed attribute lookup
        return value
    return getattr(value, "text", None) or str(value)


def _printable(text):
    """Control characters and lone surrogates shown escaped: a message stays one line and cannot drive a terminal."""
    return visible(text)   # errors.visible: checks the common printable case in C first


def describe(value):
    """How a bad value is quoted back to the user (short, never the whole input)."""
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return '"' + _printable(text).replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return as_text(value)[:40]


def join(path, key):
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = _printable(key)   # a key is shown in messages: never a raw newline or escape sequence
    return f"{path}.{key}" if path else key


@dataclass(frozen=True)
class SetAside:
    """A record entry left out because it is dated after --as-of (it was not known that day)."""

    path: str          # record path as written in the input, e.g. labs[2] or systemic_therapy[0].end
    date: dt.date      # the date that lies after --as-of
    why: str           # short text, e.g. "date after --as-of 2026-11-23"


class Context:
    """Collects problems and set-aside entries; carries the evaluation date for checks of dates
    against it. `strict_dates`: a date after it is refused instead of set aside. `criteria`: when
    the caller knows the rules, their catalogue ({trial: {criterion: takes an attestation}})."""

    def __init__(self, as_of, strict_dates=False, criteria=None):
        self.as_of = as_of
        self.strict_dates = strict_dates
        self.criteria = criteria
        self.problems = []
        self.set_aside = []
        self.pending = []   # (field path, date) whose enclosing entry is to be set aside
        self.aside_ids = set()   # (list path, id) of list entries set aside, for references to them

    def problem(self, path, expected, value=None, show=True):
        self.problems.append(FieldProblem(path, expected, describe(value) if show else None))

    def aside(self, path, date, field):
        self.set_aside.append(SetAside(path, date, f"{field} after --as-of {self.as_of.isoformat()}"))


class Spec:
    doc = ""

    def check(self, value, path, ctx):
        raise NotImplementedError


_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# In an id also no line or tab breaks, bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E/F,
# U+061C) or zero-width characters (U+200B-U+200D, U+2060, U+FEFF): an id is printed in verdict
# lines and file names, where such characters could make one patient look like another.
BAD_ID_CHARS = re.compile("[\t\n\r\u0085\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


class Str(Spec):
    """Text. `ident`: an id (refers to or is referred to by name), held to visible characters."""

    def __init__(self, max_len=500, doc="", ident=False):
        self.max_len, self.doc, self.ident = max_len, doc, ident

    def check(self, value, path, ctx):
        if value.__class__ is not str:   # plain text skips these tests (the common case)
            if isinstance(value, bool) or not isinstance(value, (str, int, SourceFloat)):
                return ctx.problem(path, "text", value)
            value = as_text(value)
        if not value.strip():
            return ctx.problem(path, "non-empty text", value)
        if _BAD_CHARS.search(value):
            return ctx.problem(path, "printable text (newlines and tabs are fine)", value)
        if self.ident and BAD_ID_CHARS.search(value):
            return ctx.problem(path, "an id of visible characters (no line breaks, tabs, bidi or zero-width characters)", value)
        if len(value) > self.max_len:
            return ctx.problem(path, f"text of at most {self.max_len} characters", f"{len(value)} characters", show=False)
        return value


class Enum(Spec):
    def __init__(self, *values, doc=""):
        self.values, self.doc = values, doc

    def check(self, value, path, ctx):
        if value.__class__ is str:   # the common case first
            known = value.strip().lower()
            if known in self.values:
                return known
        if isinstance(value, (int, SourceFloat)) and not isinstance(value, bool):
            value = as_text(value)             # e.g. bilsky_grade: 2
        if isinstance(value, str) and value.strip().lower() in self.values:
            return value.strip().lower()
        return ctx.problem(path, "one of " + ", ".join(self.values), value)


class Bool(Spec):
    def __init__(self, doc=""):
        self.doc = doc

    def check(self, value, path, ctx):
        if isinstance(value, bool):
            return value
        return ctx.problem(path, "true or false", value)


class Num(Spec):
    def __init__(self, minimum=None, maximum=None, integer=False, doc="", exclusive_min=False):
        self.minimum, self.maximum, self.integer, self.doc = minimum, maximum, integer, doc
        self.exclusive_min = exclusive_min

    def expected(self):
        what = "a whole number" if self.integer else "a number"
        if self.minimum is not None:
            what += f" {'>' if self.exclusive_min else '>='} {self.minimum}"
        if self.maximum is not None:
            what += f" {'and ' if self.minimum is not None else ''}<= {self.maximum}"
        return what

    def check(self, value, path, ctx):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if ok and self.integer and isinstance(value, float) and not value.is_integer():
            ok = False
        if ok and self.minimum is not None:
            ok = value > self.minimum if self.exclusive_min else value >= self.minimum
        if ok and self.maximum is not None:
            ok = value <= self.maximum
        if not ok:
            return ctx.problem(path, self.expected(), value)
        return int(value) if self.integer else value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_iso_date(text):
    """YYYY-MM-DD only (date.fromisoformat would also take 20261123 and week dates like 2026-W47-1)."""
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(text)
    return dt.date.fromisoformat(text)


ENTRY, FIELD = "entry", "field"


class Date(Spec):
    """ISO date. `past=True`: an observation, known only once it happened. One dated after the
    evaluation date was not known that day: `aside` says what is set aside then — ENTRY (the
    mapping the date belongs to, e.g. a whole lab result), FIELD (this date alone, e.g. a regimen's
    end) or None (refused: a birth date cannot lie after any evaluation). With strict dates every
    such date is refused."""

    def __init__(self, past=True, aside=ENTRY, doc=""):
        self.past, self.aside, self.doc = past, aside, doc

    def check(self, value, path, ctx):
        if isinstance(value, dt.datetime):   # only from an explicit !!timestamp tag or FHIR import
            value = value.date()
        if isinstance(value, str):
            try:
                value = parse_iso_date(value.strip())
            except ValueError:
                return ctx.problem(path, "a real date as YYYY-MM-DD", value)
        if not isinstance(value, dt.date):
            return ctx.problem(path, "a date as YYYY-MM-DD", value)
        if value.year < 1900:
            return ctx.problem(path, "a date after 1900", value.isoformat())
        if self.past and ctx.as_of is not None and value > ctx.as_of:
            if ctx.strict_dates or self.aside is None:
                return ctx.problem(path, f"a date on or before the evaluation date {ctx.as_of.isoformat()}", value.isoformat())
            if self.aside == FIELD:
                return ctx.aside(path, value, path.rpartition(".")[2])
            ctx.pending.append((path, value))
            return None
        return value


class Choice(Spec):
    """A value checked by a function returning (normalized, None) or (None, expected)."""

    def __init__(self, func, doc=""):
        self.func, self.doc = func, doc

    def check(self, value, path, ctx):
        normalized, expected = self.func(value)
        if expected is not None:
            return ctx.problem(path, expected, value)
        return normalized


class Obj(Spec):
    """A mapping with known fields. Unknown fields are errors: nothing a user gave is dropped."""

    def __init__(self, fields, required=(), doc="", post=None):
        self.fields, self.required, self.doc, self.post = fields, tuple(required), doc, post

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            return ctx.problem(path, "a mapping of fields", value)
        out, pending, prefix = {}, len(ctx.pending), path + "." if path else ""
        for key, item in value.items():
            spec = self.fields.get(key) if isinstance(key, str) else None
            if spec is None:
                known = ", ".join(self.fields)
                ctx.problem(join(path, str(key)), f"a known field ({known})", None, show=False)
                continue
            if item is None:
                ctx.problem(join(path, key), "a value (leave the field out when it is not recorded)", item)
                continue
            # a known field's name is printable: join(path, key) without the check, for speed
            checked = spec.check(item, prefix + key, ctx)
            if checked is not None:
                out[key] = checked
        for key in self.required:
            if key not in value:
                ctx.problem(join(path, key), "this required field", None, show=False)
        if len(ctx.pending) > pending:   # one of its own dates lies after --as-of: the entry goes
            (field, date), *_ = ctx.pending[pending:]
            del ctx.pending[pending:]
            if isinstance(value.get("id"), (str, int)) and not isinstance(value["id"], bool):
                ctx.aside_ids.add((path.rpartition("[")[0], as_text(value["id"]).strip()))
            return ctx.aside(path, date, field.rpartition(".")[2])
        if self.post is not None:
            out = self.post(out, path, ctx)
        return out


class Map(Spec):
    """A mapping from keys of a fixed vocabulary (or, with keys=None, any text key) to values of one spec."""

    def __init__(self, keys, item, doc=""):
        self.keys, self.item, self.doc = (tuple(keys) if keys is not None else None), item, doc
        self.key_docs = dict(keys) if isinstance(keys, dict) else {}

    def check(self, value, path, ctx):
        if not isinstance(value, dict):
            return ctx.problem(path, "a mapping", value)
        out = {}
        for key, item in value.items():
            if self.keys is None and not (isinstance(key, str) and key.strip() and len(key) <= 200):
                ctx.problem(join(path, str(key)), "a non-empty text key of at most 200 characters", None, show=False)
                continue
            if self.keys is not None and key not in self.keys:
                ctx.problem(join(path, str(key)), "a known key (" + ", ".join(self.keys) + ")", None, show=False)
                continue
            checked = self.item.check(item, join(path, key), ctx)
            if checked is not None:
                out[key] = checked
        return out


class List(Spec):
    """A list; `key` names the field (or tuple of fields) that must be unique across items
    (lesion ids; a lab's test and date, since two "latest" results would be ambiguous)."""

    def __init__(self, item, key=None, max_items=1000, doc=""):
        self.item, self.key, self.max_items, self.doc = item, key, max_items, doc

    def check(self, value, path, ctx):
        if not isinstance(value, list):
            return ctx.problem(path, "a list (use [] for 'known none')", value)
        if len(value) > self.max_items:
            return ctx.problem(path, f"at most {self.max_items} entries", f"{len(value)}", show=False)
        out, seen = Items(), {}
        keys = (self.key,) if isinstance(self.key, str) else self.key or ()
        for index, item in enumerate(value):
            checked = self.item.check(item, f"{path}[{index}]", ctx)   # join(path, index)
            if checked is None:
                continue
            if keys and all(k in checked for k in keys):
                ident = tuple(checked[k] for k in keys)
                if ident in seen:
                    shown = describe(ident[0]) if len(keys) == 1 else " ".join(str(v) for v in ident)
                    ctx.problems.append(FieldProblem(join(join(path, index), keys[-1]),
                                                     f"a unique {' and '.join(keys)} (also used by {path}[{seen[ident]}])", shown))
                    continue
                seen[ident] = index
            out.append(checked)
            out.positions.append(index)
        return out


class Items(list):
    """A validated list that remembers each item's position in the input: with an entry set
    aside, the items after it keep the record paths the user wrote (labs[2] stays labs[2])."""

    def __init__(self, *args):
        super().__init__(*args)
        self.positions = list(range(len(self)))


def entries(items):
    """(position in the input, item) for a validated list (plain lists: their own positions)."""
    return zip(getattr(items, "positions", range(len(items))), items)
