"""The one path from a record file to verdicts, shared by every command (check, explain, report, screen)."""

from dataclasses import dataclass

from .engine import engine
from .records import load_record
from .rulebook import rulebook
from .verdict import trial_verdicts


@dataclass
class Judgement:
    record: object
    book: object
    evaluation: object
    verdicts: list


def load_input(path, as_of):
    """A record file (YAML/JSON) -> validated Record."""
    return load_record(path, as_of)


def judge(record, trial_ids=None):
    book = rulebook()
    if trial_ids:
        for tid in trial_ids:
            book.trial(tid)   # unknown ids are a usage error before any work
    evaluation = engine().evaluate(record, trial_ids)
    return Judgement(record, book, evaluation, trial_verdicts(book, evaluation, trial_ids))
