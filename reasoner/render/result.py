"""The JSON result of `eligo check` (docs/output.md); text and reports start from the same dict."""

import json

from .. import __version__
from ..errors import visible_json
from ..record.edit import plain

RESULT_SCHEMA_VERSION = 2   # 2: truthful `missing`, `to_decide`, `caveats`, `set_aside`, `overrides`, `overlays`


def trial_entry(tv, needs=None):
    """needs: {(trial, criterion id): [Need]} from explain.decide.to_decide, or None to leave
    `to_decide` out (screening rows do not show it)."""
    trial = tv.trial
    entry = {
        "trial": trial.id,
        "name": trial.name,
        "registry": trial.registry,
        "protocol_version": trial.version,
        "stage": tv.stage,
        "verdict": tv.verdict,
        "failing": [c.id for c in tv.failing],
        "unknown": [c.id for c in tv.unknown],
        "criteria": [_criterion(c, trial, needs) for c in tv.criteria],
    }
    if getattr(tv, "strata", None) is not None:
        entry["strata"] = tv.strata
    return entry


def _criterion(c, trial, needs):
    entry = {"id": c.id, "kind": c.kind, "outcome": c.outcome, "missing": list(c.missing)}
    if needs is not None:
        entry["to_decide"] = [n.as_json() for n in needs.get((trial.id, c.id), ())]
    return entry


def set_aside_document(entries):
    """A record's set_aside entries (dated after --as-of) as [{path, date, why}], in record order."""
    return [{"path": e.path, "date": e.date.isoformat(), "why": e.why} for e in entries]


def result_document(record, book, verdicts, needs=None, caveats=()):
    """The result of one record. needs: as trial_entry; caveats: explain.caveats.Caveat list."""
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "patient": record.patient_id,
        "as_of": record.as_of.isoformat(),
        "tool_version": __version__,
        "ruleset_sha256": book.sha256,
        "rules": book.folder,
        "input": record.filename,
        "input_sha256": record.sha256,
        "overlays": list(getattr(record, "overlays", ())),
        "overrides": overrides_of(record),
        "set_aside": set_aside_document(record.set_aside),
        "caveats": [c.as_json() for c in caveats],
        "trials": [trial_entry(tv, needs) for tv in verdicts],
    }


def overrides_of(record):
    return [{"path": path, "value": plain(value)} for path, value in getattr(record, "overrides", ())]


def dumps(document):
    """Stable JSON: the same inputs give the same bytes."""
    return visible_json(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)) + "\n"
