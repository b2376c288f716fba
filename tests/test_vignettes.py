"""Clinical vignettes, read by a trial coordinator before Eligo judged them, as a regression suite.

Each tests/data/vignettes/*.yaml starts with the vignette in prose and the expected reading, then
machine-readable lines (trial may carry a stage, e.g. oligami/secondary):
  # as-of: YYYY-MM-DD                     the day the vignette is screened
  # expect TRIAL: eligible|ineligible|indeterminate
  # fails TRIAL: ID ...                   ineligible: exactly these criteria fail
  # unknown TRIAL: ID ...                 indeterminate: exactly these criteria are unknown
  # to-decide TRIAL/ID: WORD              what would decide ID names WORD (a record place or term)
"""

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from reasoner.explain.decide import to_decide
from reasoner.pipeline import judge, load_input
from tests.conftest import ROOT

VIGNETTES = sorted((ROOT / "tests" / "data" / "vignettes").glob("*.yaml"))
LINE = re.compile(r"^# (expect|fails|unknown|to-decide) ([a-z0-9_/]+): (.+?)\s*$", re.M)
AS_OF = re.compile(r"^# as-of: (\d{4}-\d\d-\d\d)\s*$", re.M)


def header(path):
    """{'as_of': date, 'expect': {key: verdict}, 'fails': {key: set}, 'unknown': {key: set}, 'to_decide': [...]};
    key is (trial, stage or None)."""
    text = Path(path).read_text()
    day = AS_OF.search(text)
    out = {"as_of": day and dt.date.fromisoformat(day.group(1)), "expect": {}, "fails": {}, "unknown": {}, "to_decide": []}
    for kind, subject, rest in LINE.findall(text):
        if kind == "to-decide":
            trial, crit = subject.split("/")
            out["to_decide"].append((trial, crit, rest))
        else:
            trial, _, stage = subject.partition("/")
            key = (trial, stage or None)
            out[kind][key] = rest if kind == "expect" else set(rest.split())
    return out


def _key(actual, key):
    trial, stage = key
    return key if stage else next(k for k in actual if k[0] == trial)


@pytest.mark.parametrize("path", VIGNETTES, ids=[p.name for p in VIGNETTES])
def test_vignette_gives_the_coordinators_reading(path):
    head = header(path)
    assert head["as_of"] and head["expect"], f"{path.name}: needs '# as-of:' and '# expect TRIAL: VERDICT' lines"
    record = load_input(path, head["as_of"])
    judgement = judge(record, sorted({t for t, _ in head["expect"]}))
    verdicts = {(v.trial.id, v.stage): v for v in judgement.verdicts}
    for key, expected in head["expect"].items():
        v = verdicts[_key(verdicts, key)]
        by_outcome = {o: {c.id for c in v.criteria if c.outcome == o} for o in ("fail", "unknown")}
        assert v.verdict == expected, f"{path.name}: {key}: expected {expected}, got {v.verdict} {by_outcome}"
        if expected == "ineligible":
            assert key in head["fails"], f"{path.name}: an ineligible reading names its failing criteria"
            assert by_outcome["fail"] == head["fails"][key], f"{path.name}: {key}: failing criteria"
        if expected == "indeterminate":
            assert key in head["unknown"], f"{path.name}: an indeterminate reading names what is unknown"
            assert by_outcome["unknown"] == head["unknown"][key], f"{path.name}: {key}: unknown criteria"
    needs = to_decide(record, judgement.verdicts) if head["to_decide"] else {}
    for trial, crit, word in head["to_decide"]:
        said = json.dumps([n.as_json() for n in needs.get((trial, crit), ())]).lower()
        assert word.lower() in said, f"{path.name}: what would decide {trial}/{crit} does not name {word!r}: {said[:400]}"


def test_every_trial_has_the_four_kinds_of_vignette():
    """Per trial: eligible, ineligible, eligible as clinicians document it, and indeterminate."""
    kinds = {}
    for path in VIGNETTES:
        for (trial, _), verdict in header(path)["expect"].items():
            kinds.setdefault(trial, []).append((path.name, verdict))
    assert set(kinds) == {"taormina", "cosmo", "nct04646564", "nct04158843", "oligami"}
    for trial, found in kinds.items():
        verdicts = [v for _, v in found]
        assert verdicts.count("eligible") >= 2 and "ineligible" in verdicts and "indeterminate" in verdicts, (trial, found)
