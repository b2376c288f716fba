"""Small readers for FHIR R4 elements (dates, references, extensions, statuses) and the state one
import collects: warnings, and each imported value with the resource element it came from.

Lenient on purpose: real bundles carry odd shapes (a list where one object belongs, several
value[x]); a reader returns None for what it cannot read, and the caller says why in a warning.
"""

import copy
import datetime as dt
import re
from dataclasses import dataclass, field

from ..record.validator import Context

DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T.*)?$")
PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2})?$")


@dataclass
class Resource:
    data: dict
    label: str           # "Observation/abc" (or "Observation/entry[3]" without an id)
    full_url: str = None  # Bundle.entry.fullUrl, which references may use

    @property
    def type(self):
        return self.data["resourceType"]

    def get(self, key, default=None):
        return self.data.get(key, default)


@dataclass
class State:
    """What one import collects: warnings, and the pieces each section is assembled from."""

    as_of: object
    warnings: list = field(default_factory=list)
    pieces: dict = field(default_factory=dict)       # section -> list of collected entries

    def warn(self, resource, why):
        label = resource.label if isinstance(resource, Resource) else str(resource)
        self.warnings.append(f"{label}: {why}")

    def collect(self, section, entry):
        self.pieces.setdefault(section, []).append(entry)


def fit(text, limit, resource, element, state):
    """text cut to the record field's limit, with a warning saying so: never silently shortened."""
    if len(text) <= limit:
        return text
    state.warn(resource, f"{element}: {len(text)} characters, cut to the record's limit of {limit}")
    return text[:limit]


def source(resource, element):
    return f"{resource.label} {element}"


def first(value):
    """A value that should be one object but is sometimes given as a list of one."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def parse_date(value):
    """A FHIR date/dateTime -> (date, None) or (None, why). Times are dropped: the date as written."""
    if not isinstance(value, str):
        return None, "no date"
    match = DATE.match(value.strip())
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3])), None
        except ValueError:
            return None, f"not a real date ({value})"
    if PARTIAL_DATE.match(value.strip()):
        return None, f"partial date {value} (day unknown)"
    return None, f"not a FHIR date ({value})"


def effective(resource, prefix="effective"):
    """The date of an observation or statement: (date, element, why)."""
    data = resource.data
    for key in (f"{prefix}DateTime", f"{prefix}Instant", f"{prefix}Date"):
        if key in data:
            date, why = parse_date(data[key])
            return date, key, why
    period = first(data.get(f"{prefix}Period"))
    if isinstance(period, dict) and "start" in period:
        date, why = parse_date(period["start"])
        return date, f"{prefix}Period.start", why
    return None, None, f"no {prefix} date"


def period_end(resource, prefix="effective"):
    period = first(resource.get(f"{prefix}Period"))
    if isinstance(period, dict) and "end" in period:
        date, _why = parse_date(period["end"])
        return date, f"{prefix}Period.end"
    return None, None


def reference(value):
    value = first(value)
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return value["reference"].strip()
    return None


def extensions(resource_or_element, suffix):
    """Extensions whose url ends with `suffix` (profiles differ in their url prefix)."""
    data = resource_or_element.data if isinstance(resource_or_element, Resource) else resource_or_element
    found = data.get("extension", []) if isinstance(data, dict) else []
    return [(i, ext) for i, ext in enumerate(found if isinstance(found, list) else [])
            if isinstance(ext, dict) and str(ext.get("url", "")).endswith(suffix)]


def profiles(resource):
    meta = resource.get("meta")
    listed = meta.get("profile", []) if isinstance(meta, dict) else []
    return [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []


def status_code(concept):
    """A status CodeableConcept's first code (clinicalStatus, verificationStatus)."""
    concept = first(concept)
    if isinstance(concept, dict):
        for coding in concept.get("coding", []) if isinstance(concept.get("coding"), list) else []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return coding["code"]
    return None


def problems(spec, item, path, as_of):
    """What the record validator would say about one item, as short texts (nothing if valid)."""
    ctx = Context(as_of)
    spec.check(copy.deepcopy(item), path, ctx)
    out = []
    for problem in ctx.problems:
        text = f"{problem.path}: expected {problem.expected}"
        out.append(text + (f", got {problem.got}" if problem.got is not None else ""))
    return out
