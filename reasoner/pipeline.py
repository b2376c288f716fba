"""The one path from a record file to verdicts, shared by every command (check, explain, report, screen)."""

import hashlib
import sys
from dataclasses import dataclass

from .errors import visible
from .fhir.importer import import_fhir, input_kind
from .logic.engine import engine
from .logic.rulebook import rulebook
from .record import read
from .verdict.outcomes import trial_verdicts


@dataclass
class Judgement:
    record: object
    book: object
    evaluation: object
    verdicts: list


def load_input(path, as_of, warn=None, strict_dates=False):
    """A record file (YAML/JSON) or a FHIR R4 Bundle/resource (told apart by fhir.importer.input_kind)
    -> validated Record.

    FHIR import warnings go to `warn` (default: stderr as `warning: Type/id: why`). The record's
    sha256 is that of the file as given, so reports name the bundle itself. Entries dated after
    as_of are set aside (Record.set_aside) for every input kind alike; strict_dates refuses them.
    """
    raw = read.read_bytes(path)
    data = read.parse_text(raw, str(path))
    if input_kind(data, str(path)) == "fhir":
        imported = import_fhir(data, str(path), as_of)
        for line in imported.warnings:
            (warn or _stderr)(line)
        data = imported.record
    return validate(data, str(path), as_of, hashlib.sha256(raw).hexdigest(), strict_dates)


def validate(data, name, as_of, sha256="", strict_dates=False):
    """record.read.validate with the rules' criteria catalogue: every path that judges a record
    validates it here, so attestations are checked against the rules the judgement uses."""
    return read.validate(data, name, as_of, sha256, strict_dates, rulebook().criteria_catalogue())


def record_from_data(data, name, as_of, strict_dates=False):
    """record.read.record_from_data with the rules' criteria catalogue (screening lines, rule tests)."""
    return read.record_from_data(data, name, as_of, strict_dates, rulebook().criteria_catalogue())


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
