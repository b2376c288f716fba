"""Changing a record's data before validation: what-if edits (`--set PATH=VALUE`), overlays
(`--with OVERLAY`) and rule-test overrides share one path syntax and one merge, and every changed
place remembers where its value came from (docs/patient-record.md, "Edits and overlays").

Paths: `dates.treatment_start`, `labs[0].value`, `attestations[+]` (append an item).
Overlays merge a partial record over the main one: mappings key by key; lists of items by their
key field (`id`, or the section's key: `criterion` for attestations, `test`+`date` for labs),
items with a new key appended; a field given by both is a conflict, refused naming both sources.
"""

import copy
import datetime as dt
import json
import re
from dataclasses import dataclass, field

from ..errors import InputError, RecordError
from .format import RECORD
from .read import Record
from .validator import List, Obj

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+|\+)\]")


def parse_path(path):
    """'labs[0].value' -> ['labs', 0, 'value']; ValueError if it is not a path."""
    tokens = []
    for name, index in _TOKEN.findall(path):
        tokens.append(name if name else ("+" if index == "+" else int(index)))
    if not tokens or "".join(str(t) for t in tokens) != re.sub(r"[.\[\]]", "", path):
        raise ValueError(path)
    return tokens


def walk(data, tokens, create):
    """The container holding tokens[-1] (created on the way when create is true)."""
    node = data
    for token, after in zip(tokens, tokens[1:]):
        if isinstance(token, int):
            node = node[token]
        elif token not in node:
            if not create:
                raise KeyError(token)
            node[token] = [] if not isinstance(after, str) else {}
            node = node[token]
        else:
            node = node[token]
    return node


def set_path(data, path, value):
    """Set data at path in place ('[+]' appends); returns the concrete path set. ValueError, KeyError,
    IndexError or TypeError if there is no such place."""
    tokens = parse_path(path)
    parent = walk(data, tokens, create=True)
    last = tokens[-1]
    if last == "+":
        if not isinstance(parent, list):
            raise TypeError(path)
        parent.append(copy.deepcopy(value))
        return _joined(tokens[:-1] + [len(parent) - 1])
    if isinstance(last, int) and not isinstance(parent, list) or isinstance(last, str) and not isinstance(parent, dict):
        raise TypeError(path)
    parent[last] = copy.deepcopy(value)
    return _joined(tokens)


def _joined(tokens):
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else (f".{t}" if out else t)
    return out


def apply_overrides(data, sets, removes, where, appends=None):
    """Copy of data with `set`, `append` and `remove` applied; a bad path is an error naming where."""
    data = copy.deepcopy(data)
    for path, items in (appends or {}).items():
        try:
            tokens = parse_path(path)
            parent = walk(data, tokens + ["+"], create=True)
            if not isinstance(items, list):
                raise TypeError
            parent.extend(copy.deepcopy(items))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise InputError(f"{where}: append: {path!r} must name a list in the record, and its value be a list") from None
    for path, value in (sets or {}).items():
        try:
            set_path(data, path, value)
        except (ValueError, KeyError, IndexError, TypeError):
            raise InputError(f"{where}: set: cannot set {path!r} in the record (no such place)") from None
    for path in removes or []:
        try:
            tokens = parse_path(path)
            parent = walk(data, tokens, create=False)
            del parent[tokens[-1]]
        except (ValueError, KeyError, IndexError, TypeError):
            raise InputError(f"{where}: remove: {path!r} is not in the record") from None
    return data


# -- overlays ----------------------------------------------------------------------------------------
def merge_overlay(base, overlay, base_name, overlay_name, origins):
    """A copy of base with overlay merged over it; origins {path: file} is updated for every place
    the overlay gave. Conflicts (a field in both) are refused naming both files."""
    out = copy.deepcopy(base)
    _merge_obj(out, overlay, RECORD, "", base_name, overlay_name, origins)
    return out


def _merge_obj(into, extra, spec, path, base_name, overlay_name, origins):
    fields = spec.fields if isinstance(spec, Obj) else {}
    for key, value in extra.items():
        here = f"{path}.{key}" if path else key
        sub = fields.get(key)
        if key not in into:
            into[key] = copy.deepcopy(value)
            origins[here] = overlay_name
        elif isinstance(into[key], dict) and isinstance(value, dict):
            _merge_obj(into[key], value, sub, here, base_name, overlay_name, origins)
        elif isinstance(into[key], list) and isinstance(value, list) and isinstance(sub, List) and _keys(sub):
            _merge_list(into[key], value, sub, here, base_name, overlay_name, origins)
        else:
            raise InputError(f"{overlay_name}: {here}: given both here and in {_origin(origins, here, base_name)}; "
                             f"expected each field once (an overlay adds to the record, it does not replace it)")


def _keys(spec):
    return (spec.key,) if isinstance(spec.key, str) else tuple(spec.key or ())


def _merge_list(into, extra, spec, path, base_name, overlay_name, origins):
    keys = _keys(spec)
    index = {tuple(item.get(k) for k in keys): i for i, item in enumerate(into) if isinstance(item, dict)}
    for item in extra:
        ident = tuple(item.get(k) for k in keys) if isinstance(item, dict) else None
        if ident is not None and None not in ident and ident in index:
            i = index[ident]
            rest = {k: v for k, v in item.items() if k not in keys}
            _merge_obj(into[i], rest, spec.item, f"{path}[{i}]", base_name, overlay_name, origins)
        else:
            into.append(copy.deepcopy(item))
            origins[f"{path}[{len(into) - 1}]"] = overlay_name


def _origin(origins, path, default):
    """The file that gave path: the longest recorded prefix, else default (the main record)."""
    found = [prefix for prefix in origins
             if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")]
    return origins[max(found, key=len)] if found else default


# -- the edited record --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EditedRecord(Record):
    """A record judged with overlays and/or what-if edits: both are shown in every output."""
    overlays: tuple = ()                               # overlay files, in the order given
    overrides: tuple = ()                              # (path, value) as given to --set
    origins: dict = field(default_factory=dict)        # {record path: file or '--set PATH'}


def source_file(record, path):
    """The file (or '--set PATH') a record path's value came from."""
    origins = getattr(record, "origins", None)
    if not origins:
        return record.filename
    return _origin(origins, path, record.filename)


def resource_of(record, path):
    """The FHIR resource and element a record path was imported from (the record's `sources`), or
    None: a value the coordinator added in an overlay or by --set has none."""
    if source_file(record, path) != record.filename:
        return None
    sources = record.data.get("sources") or {}
    found = [key for key in sources if path == key or path.startswith(key + ".") or path.startswith(key + "[")]
    return sources[max(found, key=len)] if found else None


def reattribute(err, main, origins):
    """A RecordError of the merged data, each problem named against the file that gave its field."""
    if not isinstance(err, RecordError) or not origins:
        return err
    lines = [p.render(_origin(origins, p.path, main)) for p in err.problems]
    return InputError("\n".join(lines))


def what_if(record):
    """The 'what-if: ...' line of every output made with --set (None without)."""
    edits = getattr(record, "overrides", ())
    return what_if_line([{"path": path, "value": plain(value)} for path, value in edits]) if edits else None


def what_if_line(overrides):
    """[{path, value}] (the JSON `overrides`) -> 'what-if: path = value; ...'."""
    return "what-if: " + "; ".join(f"{o['path']} = {json.dumps(o['value'], ensure_ascii=False)}" for o in overrides)


def plain(value):
    """JSON-able copy of a --set value (YAML dates become ISO strings)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
