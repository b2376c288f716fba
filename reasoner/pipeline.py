"""The one path from a record file to verdicts, shared by every command (check, explain, report, screen)."""

import dataclasses
import hashlib
import sys
from dataclasses import dataclass

from .errors import InputError, RecordError, visible
from .fhir.importer import import_fhir, input_kind
from .logic.engine import engine
from .logic.rulebook import rulebook
from .record import read
from .record.edit import EditedRecord, merge_overlay, reattribute, set_path
from .verdict.outcomes import trial_verdicts


@dataclass
class Judgement:
    record: object
    book: object
    evaluation: object
    verdicts: list


def load_input(path, as_of, warn=None, strict_dates=False, overlays=(), overrides=()):
    """A record file (YAML/JSON) or a FHIR R4 Bundle/resource (told apart by fhir.importer.input_kind)
    -> validated Record.

    overlays: partial records (or FHIR) merged over it, in order (record/edit.py: merge rules);
    overrides: (PATH, VALUE text) what-if edits applied last. Either makes an EditedRecord, which
    remembers which file (or --set) gave each changed place.
    FHIR import warnings go to `warn` (default: stderr as `warning: Type/id: why`). The record's
    sha256 is that of the file as given, so reports name the bundle itself. Entries dated after
    as_of are set aside (Record.set_aside) for every input kind alike; strict_dates refuses them.
    """
    raw = read.read_bytes(path)
    data = _data(raw, str(path), as_of, warn)
    origins = {}
    for overlay in overlays:
        data = merge_overlay(data, _data(read.read_bytes(overlay), str(overlay), as_of, warn, overlay=True), str(path),
                             str(overlay), origins)
    edits = []
    for spec in overrides:
        target, value = parse_override(spec)
        try:
            placed = set_path(data, target, value)
        except (ValueError, KeyError, IndexError, TypeError):
            raise InputError(f"--set {spec}: no such place in the record {path} (paths look like "
                             f"dates.treatment_start, labs[0].value, attestations[+])") from None
        origins[placed] = f"--set {target}"
        edits.append((target, value))
    try:
        record = validate(data, str(path), as_of, hashlib.sha256(raw).hexdigest(), strict_dates)
    except RecordError as err:
        raise reattribute(err, str(path), origins) from None
    if overlays or overrides:
        fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
        record = EditedRecord(**fields, overlays=tuple(map(str, overlays)), overrides=tuple(edits), origins=origins)
    return record


def parse_override(spec):
    """'PATH=VALUE' -> (path, value parsed as YAML)."""
    target, sep, text = spec.partition("=")
    if not sep or not target.strip():
        raise InputError(f"--set {spec!r}: expected PATH=VALUE, e.g. reproductive.pregnancy_tests[+]="
                         "'{result: negative, date: 2026-12-01}'")
    return target.strip(), read.parse_value(text, f"--set {target.strip()}")


def _data(raw, name, as_of, warn, overlay=False):
    """Record data from a file's bytes, imported first if it is FHIR. An overlay is a partial record:
    it needs no schema_version (only a FHIR overlay is told apart, by its resourceType)."""
    data = read.parse_text(raw, name)
    fhir = "resourceType" in data if overlay else input_kind(data, name) == "fhir"
    if fhir:
        imported = import_fhir(data, name, as_of)
        for line in imported.warnings:
            (warn or _stderr)(line)
        data = imported.record
    return data


def validate(data, name, as_of, sha256="", strict_dates=False):
    """record.read.validate with the rules' criteria catalogue: every path that judges a record
    validates it here, so attestations (and a trial's own dates) are checked against the rules
    the judgement uses."""
    book = rulebook()
    return read.validate(data, name, as_of, sha256, strict_dates, book.criteria_catalogue(), trial_dates(book))


def record_from_data(data, name, as_of, strict_dates=False):
    """record.read.record_from_data with the rules' criteria catalogue (screening lines, rule tests)."""
    book = rulebook()
    return read.record_from_data(data, name, as_of, strict_dates, book.criteria_catalogue(), trial_dates(book))


_TRIAL_DATES = {}   # rule-set key -> {trial: kinds}


def trial_dates(book):
    """{trial id: the kinds of trial date (registration, ...) its criteria read as its own date
    (trial_planned(P, trial, kind, D))}, from the rules, once per rule set."""
    if book.key not in _TRIAL_DATES:
        found = {tid: set() for tid in book.trials}
        for trial in book.trials.values():
            for pred, pattern in {read for crit in trial.criteria for read in book.criterion_reads(crit)}:
                if pred == "trial_planned" and pattern[1] == trial.id and pattern[2] is not None:
                    found[trial.id].add(pattern[2])
        _TRIAL_DATES[book.key] = {tid: tuple(sorted(kinds)) for tid, kinds in found.items()}
    return _TRIAL_DATES[book.key]


def _stderr(line):
    print(f"warning: {visible(line)}", file=sys.stderr)


def judge(record, trial_ids=None, evaluator=None, with_missing=True):
    """evaluator: what computes the criteria (default this thread's pyDatalog engine; screening
    may pass fastlog's compiled evaluator of the same rules). with_missing=False: unknown criteria
    carry no missing inputs (screening rows do not show them)."""
    book = rulebook()
    if trial_ids:
        trial_ids = list(dict.fromkeys(trial_ids))   # a trial named twice is judged (and counted) once
        for tid in trial_ids:
            book.trial(tid)   # unknown ids are a usage error before any work
    evaluation = (evaluator or engine()).evaluate(record, trial_ids, gaps=with_missing)
    return Judgement(record, book, evaluation, trial_verdicts(book, evaluation, trial_ids, with_missing))
