"""Rule test cases (rules/tests/*.yaml): a record, an evaluation date, expected outcomes.

Cases stay short by starting from a base record and overriding fields by path:
`set: {"metastases[2].size_mm": 51, "metastases[+]": {...}}`, `append: {metastases: [{...}, {...}]}`
and `remove: [findings.malignant_ascites]`.
docs/rule-tests.md is the format's reference.
"""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import EligoError, InputError
from ..pipeline import record_from_data
from ..record.edit import apply_overrides
from ..record.read import parse_text, read_bytes
from ..record.scalars import RecordResolver, ScalarConstructor

# libyaml's parser when PyYAML has it (test files are long); scalars are read as in records.
_PARSER = getattr(yaml, "CParser", None)

OUTCOMES = ("pass", "fail", "unknown")
VERDICTS = ("eligible", "ineligible", "indeterminate")


@dataclass
class Case:
    name: str
    file: str
    line: int
    trial: str
    ref: str
    data: dict            # the record after overrides
    record_name: str
    as_of: dt.date
    verdict: object       # None, a verdict, or {stage: verdict}
    criteria: dict        # criterion id -> expected outcome
    missing: dict         # criterion id -> record paths expected among the missing
    error: str = None     # expected validation error text (the record must be rejected)
    strata: dict = None   # expected randomisation strata {name: value, or null for unknown}

    @property
    def where(self):
        return f"{self.file}:{self.line}"


@dataclass
class Mismatch:
    what: str             # "verdict", "verdict[primary]", a criterion id, or "error"
    expected: object
    actual: object


@dataclass
class CaseResult:
    case: Case
    mismatches: list = field(default_factory=list)
    judgement: object = None      # reasoner.pipeline.Judgement, when the record was judged

    @property
    def passed(self):
        return not self.mismatches


class _Loader(*((_PARSER,) if _PARSER else (yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                                             yaml.composer.Composer)), ScalarConstructor, RecordResolver):
    """Safe YAML whose plain scalars are read as in a record file (record/scalars.py): a value in
    a case's `set:` means what it would mean in a record."""

    def __init__(self, stream):
        if _PARSER:
            _PARSER.__init__(self, stream)
        else:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
        ScalarConstructor.__init__(self)
        RecordResolver.__init__(self)


class LineLoader(_Loader):
    """The case loader, recording each mapping's line."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=True)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _date(value, where, what):
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{where}: {what}: expected a date YYYY-MM-DD, got {value!r}") from None


def _record_data(spec, folder, where):
    if isinstance(spec, dict):
        return _strip(spec), where
    path = folder / str(spec)
    return parse_text(read_bytes(path), str(path)), str(path)


def load_cases(path):
    """Every case of one rule-test file, overrides applied (records are validated when run)."""
    path = Path(path)
    name = str(path)
    try:
        doc = yaml.load(read_bytes(path).decode("utf-8"), Loader=LineLoader)  # noqa: S506 - SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"{name}: invalid YAML ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list) or not doc.get("trial"):
        raise InputError(f"{name}: expected a mapping with `trial:` and a list `cases:`")
    folder, trial = path.parent, doc["trial"]
    default_as_of = _date(doc.get("as_of", dt.date.today()), name, "as_of")
    base, base_name = ({}, name)
    if "base" in doc:
        base, base_name = _record_data(doc["base"], folder, name)
    cases, names = [], set()
    for entry in doc["cases"]:
        where = f"{name}:{entry.get('__line__', '?')}"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise InputError(f"{where}: each case needs a `name`")
        if entry["name"] in names:
            raise InputError(f"{where}: duplicate case name {entry['name']!r}")
        names.add(entry["name"])
        data, record_name = (base, base_name)
        if "record" in entry:
            data, record_name = _record_data(entry["record"], folder, where)
        data = apply_overrides(data, _strip(entry.get("set")), entry.get("remove"), where, _strip(entry.get("append")))
        expect = _strip(entry.get("expect") or {})
        if not expect:
            raise InputError(f"{where}: case {entry['name']!r} has no `expect`")
        criteria = expect.get("criteria") or {}
        for cid, outcome in criteria.items():
            if outcome not in OUTCOMES:
                raise InputError(f"{where}: expect.criteria.{cid}: expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
        verdict = expect.get("verdict")
        for value in (verdict.values() if isinstance(verdict, dict) else [verdict] if verdict else []):
            if value not in VERDICTS:
                raise InputError(f"{where}: expect.verdict: expected one of {', '.join(VERDICTS)}, got {value!r}")
        cases.append(Case(
            name=entry["name"], file=name, line=entry.get("__line__", 0), trial=entry.get("trial", trial),
            ref=str(entry.get("ref", "")), data=data, record_name=f"{record_name} [{entry['name']}]",
            as_of=_date(entry.get("as_of", default_as_of), where, "as_of"), verdict=verdict, criteria=dict(criteria),
            missing={k: list(v) for k, v in (expect.get("missing") or {}).items()}, error=expect.get("error"),
            strata=expect.get("strata")))
    return cases


def case_record(case):
    """(validated Record, None), or (None, CaseResult) when validation decides the case on its own."""
    result = CaseResult(case)
    try:
        record = record_from_data(case.data, case.record_name, case.as_of)
    except EligoError as err:
        if case.error is None or case.error not in str(err):
            result.mismatches.append(Mismatch("error", case.error or "no validation error", str(err)))
        return None, result
    if case.error is not None:
        result.mismatches.append(Mismatch("error", case.error, "the record was accepted"))
        return None, result
    return record, None


def judge_with(eng, record, trial):
    """pipeline.judge for one trial against a given engine (a rule set other than the installed one)."""
    from ..pipeline import Judgement
    from ..verdict.outcomes import trial_verdicts

    evaluation = eng.evaluate(record, [trial])
    return Judgement(record, eng.book, evaluation, trial_verdicts(eng.book, evaluation, [trial]))


def run_case(case, eng=None):
    """Judge the case's record (default: the installed rules) and compare with its expectations."""
    record, decided = case_record(case)
    return decided if record is None else check_record(case, record, eng)


def check_record(case, record, eng=None):
    """Judge an already validated record of the case; a rule conflict is a mismatch, not a crash."""
    from ..logic.engine import engine

    eng = eng or engine()
    result = CaseResult(case)
    try:
        eng.book.trial(case.trial)
        judgement = judge_with(eng, record, case.trial)
    except EligoError as err:
        result.mismatches.append(Mismatch("rules", "an answer", str(err)))
        return result
    return check_judgement(case, judgement)


def check_judgement(case, judgement):
    """Compare a judgement of the case's record with the case's expectations."""
    result = CaseResult(case, judgement=judgement)
    outcomes = {c.id: c for tv in judgement.verdicts for c in tv.criteria}
    verdicts = {tv.stage: tv.verdict for tv in judgement.verdicts}
    if isinstance(case.verdict, dict):
        for stage, expected in case.verdict.items():
            actual = verdicts.get(stage, f"no stage {stage!r}")
            if actual != expected:
                result.mismatches.append(Mismatch(f"verdict[{stage}]", expected, actual))
    elif case.verdict:
        actual = verdicts.get(None, next(iter(verdicts.values())))
        if actual != case.verdict:
            result.mismatches.append(Mismatch("verdict", case.verdict, actual))
    for cid, expected in case.criteria.items():
        actual = outcomes[cid].outcome if cid in outcomes else f"no criterion {cid}"
        if actual != expected:
            result.mismatches.append(Mismatch(cid, expected, actual))
    for cid, paths in case.missing.items():
        actual = list(outcomes[cid].missing) if cid in outcomes else []
        lacking = [p for p in paths if p not in actual]
        if lacking:
            result.mismatches.append(Mismatch(f"{cid} missing", paths, actual))
    if case.strata is not None:
        actual = next((tv.strata for tv in judgement.verdicts if tv.strata is not None), None)
        if actual != case.strata:
            result.mismatches.append(Mismatch("strata", case.strata, actual))
    return result


def named_criteria(case):
    """Criterion ids whose outcome the case states explicitly (`criteria:` or `missing:`)."""
    return set(case.criteria) | set(case.missing)


def asserted_outcomes(case, trial):
    """{(criterion id, outcome)} a passing case proves: its `criteria:`, `missing:` (unknown), and
    every criterion of a stage whose expected verdict is eligible (pass)."""
    out = {(cid, outcome) for cid, outcome in case.criteria.items()}
    out |= {(cid, "unknown") for cid, paths in case.missing.items() if paths}
    verdicts = case.verdict if isinstance(case.verdict, dict) else {None: case.verdict}
    for stage, verdict in verdicts.items():
        if verdict == "eligible":
            stage = stage if stage in trial.stages else trial.stages[0]
            out |= {(c.id, "pass") for c in trial.stage_criteria(stage)}
    return out


def case_files(paths=None):
    """Rule-test files under the given paths (default: the installed rules/tests/)."""
    from ..paths import rules_dir

    roots = [Path(p) for p in paths] if paths else [rules_dir() / "tests"]
    files = []
    for root in roots:
        if root.is_dir():
            files += sorted(root.glob("*.yaml"))
        elif root.exists():
            files.append(root)
        else:
            raise InputError(f"{root}: no such file or directory")
    return files


__all__ = ["Case", "CaseResult", "Mismatch", "apply_overrides", "asserted_outcomes", "case_files", "case_record",
           "check_judgement", "check_record", "judge_with", "load_cases", "named_criteria", "run_case"]
