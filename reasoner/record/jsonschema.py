"""The record format as JSON Schema (draft 2020-12), generated from format.RECORD, the one definition
validation uses, so EHR exporters can check what they send before Eligo sees it.

The schema describes the form an exporter should send (vocabulary words in lower or upper case,
dates as YYYY-MM-DD text).
Validation stays in validator.py: it also accepts case variants, converts units and checks what a
schema cannot say (unique ids, cross-references, a period's end after its start).
"""

import json

from . import format as record_format
from .reference import reference
from .validator import BAD_ID_CHARS as ID_REFUSED
from .validator import Bool, Choice, Date, Enum, List, Map, Num, Obj, Str

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _choice_schemas():
    """A Choice spec checks with a function; each such function's values as a schema. A Choice whose
    function is missing here is an error (tests/test_jsonschema.py walks the whole format)."""
    ref = reference()
    return {
        record_format._vertebra: {"enum": list(ref.vertebrae)},
        record_format._organ: {"enum": list(ref.organs)},
        record_format._drug: {"type": "string", "minLength": 1,
                              "description": "a drug name or alias from facts/reference/drugs.yaml: "
                                             + ", ".join(sorted(ref.drugs))},
        record_format._lab_test: {"enum": list(ref.labs)},
        record_format._criterion_ref: {"type": "string", "pattern": "^[a-z0-9_]+/[A-Za-z0-9_.]+$",
                                       "description": "a criterion as TRIAL/ID, e.g. taormina/I12 (see `eligo criteria TRIAL`)"},
        record_format._list_section: {"enum": list(record_format.SECTIONS_WITH_ITEMS)},
        record_format._trial_ref: {"type": "string", "pattern": "^[a-z][a-z0-9_]*$",
                                   "description": "a trial id (see `eligo trials`), e.g. oligami"},
    }


def _schema(spec, choices):
    out = _shape(spec, choices)
    if getattr(spec, "doc", ""):
        out["description"] = spec.doc if "description" not in out else f"{spec.doc}: {out['description']}"
    return out


def _shape(spec, choices):
    if isinstance(spec, Obj):
        return {"type": "object", "additionalProperties": False,
                "properties": {k: _schema(v, choices) for k, v in spec.fields.items()},
                **({"required": list(spec.required)} if spec.required else {})}
    if isinstance(spec, Map):
        item = _schema(spec.item, choices)
        if spec.keys is None:
            return {"type": "object", "propertyNames": {"minLength": 1, "maxLength": 200}, "additionalProperties": item}
        props = {k: dict(item, description=spec.key_docs[k]) if k in spec.key_docs else item for k in spec.keys}
        return {"type": "object", "additionalProperties": False, "properties": props}
    if isinstance(spec, List):
        out = {"type": "array", "items": _schema(spec.item, choices), "maxItems": spec.max_items}
        if spec.key:
            keys = (spec.key,) if isinstance(spec.key, str) else spec.key
            out["$comment"] = f"each item's {' and '.join(keys)} unique across the list (checked by Eligo)"
        return out
    if isinstance(spec, Num):
        out = {"type": "integer" if spec.integer else "number"}
        if spec.minimum is not None:
            out["exclusiveMinimum" if spec.exclusive_min else "minimum"] = spec.minimum
        if spec.maximum is not None:
            out["maximum"] = spec.maximum
        return out
    if isinstance(spec, Str):
        out = {"type": "string", "minLength": 1, "maxLength": spec.max_len}
        if spec.ident:   # the characters validator.Str refuses in an id, as the schema's pattern
            out["pattern"] = "^[^" + "".join(c if c.isascii() and c.isprintable() else f"\\u{ord(c):04x}"
                                             for c in ID_REFUSED.pattern[1:-1]) + "]+$"
        return out
    if isinstance(spec, Enum):   # Eligo reads vocabulary words in any case; the schema takes lower and upper
        return {"enum": list(spec.values) + [v.upper() for v in spec.values if v.upper() != v]}
    if isinstance(spec, Bool):
        return {"type": "boolean"}
    if isinstance(spec, Date):
        return {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    if isinstance(spec, Choice):
        if spec.func not in choices:
            if spec is record_format.RECORD.fields["schema_version"]:
                return {"const": record_format.SCHEMA_VERSION}
            raise KeyError(f"no JSON Schema for the Choice {spec.func.__name__}: add it to jsonschema._choice_schemas")
        return dict(choices[spec.func])
    raise TypeError(f"no JSON Schema for spec {type(spec).__name__}")


def record_schema():
    """The whole record format as one JSON Schema document."""
    out = {"$schema": DIALECT, "title": "Eligo patient record, schema_version %d" % record_format.SCHEMA_VERSION}
    out.update(_schema(record_format.RECORD, _choice_schemas()))
    return out


def dumps():
    return json.dumps(record_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
