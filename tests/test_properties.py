"""Property-based tests over generated records, for every trial in the rulebook.

Records come from tests/record_strategies.py (derived from the record schema, plus perturbed
copies of the example and rule-test base records). The properties:

1. no record crashes Eligo: a verdict for every trial, or a clean RecordError (and, through the
   real CLI for a sample, exit 0 or 2 without a traceback); arbitrary bytes and arbitrary nested
   data are read or refused with an InputError, nothing else;
2. no criterion is ever both passed and failed (holds and lacks never both derived);
3. the same record always gives the same JSON bytes (also after other patients, and whatever the
   key order of the record's mappings);
4. less information never flips a decision: removing any optional section or field moves a
   criterion only from pass/fail to unknown, a verdict only toward indeterminate;
5. adding a fact an exclusion criterion looks for never makes an ineligible patient eligible.

Example counts come from the hypothesis profile (ELIGO_HYPOTHESIS_PROFILE=ci|thorough).
"""

import copy
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from hypothesis import Phase, assume, given, note, settings
from hypothesis import strategies as st

from reasoner.errors import InputError, RecordError
from reasoner.logic.engine import engine
from reasoner.logic.rulebook import dependencies, rulebook
from reasoner.pipeline import judge
from reasoner.record.format import RECORD
from reasoner.record.read import parse_text, record_from_data
from reasoner.render.result import dumps, result_document
from reasoner.render.text import render_check
from reasoner.verdict.outcomes import ELIGIBLE, INDETERMINATE, INELIGIBLE, UNKNOWN
from tests.record_strategies import (
    AS_OF,
    FINDING_KEYS,
    NAME,
    ROOT,
    mutations,
    perturbed_seeds,
    raw_records,
    removable,
    repair,
    valid_records,
    validate,
    without,
)

CLI_EXAMPLES = max(4, settings().max_examples // 6)


def outcomes(record):
    """{(trial, stage): (verdict, {criterion: outcome})} for every trial."""
    return {(v.trial.id, v.stage): (v.verdict, {c.id: c.outcome for c in v.criteria}) for v in judge(record).verdicts}


def json_of(data):
    record = record_from(data)
    judgement = judge(record)
    return dumps(result_document(record, judgement.book, judgement.verdicts))


def record_from(data):
    record = validate(data)
    assert record is not None, "the strategy promised a valid record"
    return record


def reordered(value):
    """The same record with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


# --- 1. no crash -------------------------------------------------------------------------------

@given(st.one_of(valid_records(), mutations()))
def test_no_record_crashes_eligo(data):
    try:
        record = record_from_data(data, NAME, AS_OF)    # anything but a RecordError fails the test
    except RecordError as err:
        lines = str(err).splitlines()
        assert lines and all(line.startswith(f"{NAME}: ") and ": expected " in line for line in lines), lines
        return
    judgement = judge(record)
    assert sorted({v.trial.id for v in judgement.verdicts}) == sorted(rulebook().trials)
    document = result_document(record, judgement.book, judgement.verdicts)
    assert json.loads(dumps(document))["patient"] == record.patient_id
    assert render_check(document, judgement.book)


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.dates(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30)
RECORDISH = st.fixed_dictionaries({"schema_version": st.just(1), "patient": st.fixed_dictionaries({"id": st.just("P1")})},
                                  optional={k: JSON_LIKE for k in RECORD.fields if k not in ("schema_version", "patient")})


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                 JSON_LIKE.map(lambda v: yaml.safe_dump(v).encode()), JSON_LIKE.map(lambda v: json.dumps(v, default=str).encode())),
       st.sampled_from(["r.yaml", "r.json"]))
def test_any_bytes_are_read_or_refused_cleanly(raw, name):
    try:
        data = parse_text(raw, name)
    except InputError as err:
        assert str(err).startswith(f"{name}: ") and "\n" not in str(err)
        return
    assert isinstance(data, dict)


@given(RECORDISH)
def test_any_nested_data_validates_or_is_refused_cleanly(data):
    try:
        record_from_data(data, NAME, AS_OF)
    except RecordError as err:
        assert all(line.startswith(f"{NAME}: ") for line in str(err).splitlines())


# A number as YAML lets one write it: decimal forms a person reads as the number, and YAML 1.1's
# others (octal, hexadecimal, binary, base 60, digit groups), which a person does not read as it.
NUMBER_FORMS = {
    "plain": str, "signed": lambda n: f"+{n}", "zero-padded": lambda n: f"0{n}", "zeros": lambda n: f"000{n}",
    "point": lambda n: f"{n}.0", "exponent": lambda n: f"{n}e0", "scaled": lambda n: f"{n}0E-1",
    "leading point": lambda n: f".{n}e{len(str(n))}",
    "hexadecimal": hex, "octal": lambda n: f"0{n:o}", "octal 0o": lambda n: f"0o{n:o}", "binary": bin,
    "base 60": lambda n: f"{n // 60}:{n % 60:02d}", "grouped": lambda n: f"{n // 10}_{n % 10}" if n >= 10 else f"_{n}",
    "infinity": lambda n: ".inf", "not a number": lambda n: ".nan",
}
DECIMAL = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _size_of(written):
    text = f"schema_version: 1\npatient: {{id: P1}}\nmetastases: [{{id: M1, organ: liver, size_mm: {written}}}]\n"
    data = parse_text(text.encode(), NAME)
    return record_from_data(data, NAME, AS_OF).data["metastases"][0]["size_mm"]


@given(st.integers(0, 1000), st.sampled_from(sorted(NUMBER_FORMS)))
def test_a_number_in_any_yaml_form_is_read_as_its_decimal_or_refused(number, form):
    written = NUMBER_FORMS[form](number)
    note(f"size_mm: {written}")
    try:
        size = _size_of(written)
    except InputError:
        return                                      # refused (RecordError is an InputError)
    assert DECIMAL.fullmatch(written), f"{written!r} was read as {size}"
    assert size == float(Decimal(written))          # the decimal a person reads, leading zeros and all


@given(st.from_regex(r"[-+]?[0-9._:eExob]{1,8}", fullmatch=True))
def test_any_number_like_text_is_read_as_its_decimal_or_refused(written):
    note(f"size_mm: {written}")
    try:
        size = _size_of(written)
    except InputError:
        return
    assert DECIMAL.fullmatch(written), f"{written!r} was read as {size}"
    assert size == float(Decimal(written))


def _write(data, directory, fmt):
    path = Path(directory) / f"record.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(data, default=str, ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# No shrinking: each example starts a process, and shrinking a failure ran past the 5-minute test
# timeout (which stops the whole run); the unshrunk example is reported instead.
@settings(max_examples=CLI_EXAMPLES, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(st.one_of(valid_records(), mutations()), st.sampled_from(["yaml", "json"]))
def test_the_cli_answers_or_exits_2_without_a_traceback(data, fmt):
    with tempfile.TemporaryDirectory() as directory:
        path = _write(data, directory, fmt)
        run = subprocess.run([sys.executable, "-m", "reasoner", "check", str(path), "--as-of", AS_OF.isoformat(),
                              "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    note(run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    record = validate(data)
    if record is None:
        assert run.returncode == 2
        assert run.stderr.startswith(f"eligo: {path}: ")
    else:
        assert run.returncode == 0, run.stderr
        cli = {(t["trial"], t["stage"]): (t["verdict"], {c["id"]: c["outcome"] for c in t["criteria"]})
               for t in json.loads(run.stdout)["trials"]}
        assert cli == outcomes(record)


# --- 2. no conflict ----------------------------------------------------------------------------

@given(valid_records())
def test_no_criterion_is_both_passed_and_failed(data):
    evaluation = engine().evaluate(record_from(data))
    assert not evaluation.holds & evaluation.lacks, sorted(evaluation.holds & evaluation.lacks)


# --- 3. determinism ----------------------------------------------------------------------------

@given(valid_records(), valid_records())
def test_the_same_record_gives_the_same_json(first, other):
    before = json_of(first)
    json_of(other)                      # another patient in between: nothing may stay behind
    assert json_of(first) == before
    assert json_of(reordered(first)) == before


# --- 4. less information -----------------------------------------------------------------------

VERDICT_MOVES = {ELIGIBLE: {ELIGIBLE, INDETERMINATE}, INELIGIBLE: {INELIGIBLE, INDETERMINATE},
                 INDETERMINATE: {INDETERMINATE}}


@given(st.data())
def test_less_information_never_flips_a_decision(data):
    full = data.draw(st.one_of(perturbed_seeds(), perturbed_seeds(), raw_records().map(repair))
                     .filter(lambda d: validate(d) is not None), label="record")
    spots = removable(full)
    assume(spots)
    # One field, or several at once (as many single steps: each may only move toward unknown).
    paths = data.draw(st.lists(st.sampled_from(spots), min_size=1, max_size=data.draw(st.sampled_from([1, 1, 2, 4]))),
                      label="removed")
    smaller = full
    for path in sorted(set(paths), key=len, reverse=True):   # deepest first: a parent may go too
        smaller = without(smaller, path)
    smaller = validate(smaller)
    assume(smaller is not None)         # e.g. a vertebral lesion's levels: the site must name them
    before, after = outcomes(record_from(full)), outcomes(smaller)
    for key, (verdict, criteria) in before.items():
        new_verdict, new_criteria = after[key]
        for cid, outcome in criteria.items():
            assert new_criteria[cid] in (outcome, UNKNOWN), f"{key} {cid}: {outcome} -> {new_criteria[cid]}"
        assert new_verdict in VERDICT_MOVES[verdict], f"{key}: {verdict} -> {new_verdict}"


# --- 5. exclusion facts --------------------------------------------------------------------------

@lru_cache(maxsize=None)
def exclusion_patterns(trial_id):
    """Base patterns the trial's exclusion criteria read when their condition holds."""
    book = rulebook()
    trial = book.trial(trial_id)
    return frozenset(dependencies(book, [cl for c in trial.criteria if c.kind == "exclusion" for cl in c.holds]))


def _reads(patterns, pred, **at):
    """Some pattern reads pred with each given position bound to that value or unbound."""
    return any(p == pred and all(int(pos) < len(pat) and pat[int(pos)] in (value, None) for pos, value in at.items())
               for p, pat in patterns)


def _lesion(organ):
    def add(data):
        if "metastases" not in data:
            return None                 # a new list would also claim "no other lesions"
        data["metastases"].append({"id": "ADDED-1", "organ": organ})
        return data

    def relevant(patterns):
        return any(value in (organ, "cns") for _p, pat in patterns for value in pat)
    return f"a {organ} lesion", add, relevant


def _finding(key):
    def add(data):
        if key in data.get("findings", {}):
            return None                 # false -> true would change a fact, not add one
        data.setdefault("findings", {})[key] = True
        return data
    return f"finding {key}", add, lambda patterns: _reads(patterns, "finding", **{"1": key, "2": True})


def _reproductive(key):
    def add(data):
        if key in data.get("reproductive", {}):
            return None
        data.setdefault("reproductive", {})[key] = True
        return data
    return f"{key}: true", add, lambda patterns: _reads(patterns, key)


def _item(section, item, pred):
    def add(data):
        if section not in data:
            return None
        data[section].append(item)
        return data
    return f"a new {section} entry", add, lambda patterns: _reads(patterns, pred)


def _attestations():
    """'yes' judgments for every exclusion criterion that reads one."""
    out = []
    for trial in rulebook().trials.values():
        for crit in trial.criteria:
            if crit.kind == "exclusion" and _reads(dependencies(rulebook(), crit.holds), "attested",
                                                    **{"1": trial.id, "2": crit.id}):
                ref = f"{trial.id}/{crit.id}"

                def add(data, ref=ref):
                    if any(a["criterion"] == ref for a in data.get("attestations", [])):
                        return None
                    data.setdefault("attestations", []).append(
                        {"criterion": ref, "answer": "yes", "by": "Dr Added", "date": AS_OF})
                    return data
                out.append((f"attestation {ref}: yes", add, lambda patterns, t=trial.id, c=crit.id:
                            _reads(patterns, "attested", **{"1": t, "2": c})))
    return out


def additions():
    return ([_lesion("brain"), _lesion("leptomeninges"), _lesion("spinal_cord")]
            + [_finding(key) for key in FINDING_KEYS]
            + [_reproductive("pregnant"), _reproductive("breastfeeding")]
            + [_item("other_malignancies", {"id": "ADDED-OM", "category": "invasive", "status": "active",
                                            "requires_therapy": True, "diagnosis_date": AS_OF - dt.timedelta(days=90)},
                     "other_malignancy"),
               _item("comorbidities", {"condition": "heart_failure", "status": "uncontrolled"}, "comorbidity")]
            + _attestations())


ADDITIONS = additions()


@given(st.data())
def test_an_exclusion_fact_never_makes_an_ineligible_patient_eligible(data):
    base = data.draw(valid_records(), label="record")
    name, add, relevant = data.draw(st.sampled_from(ADDITIONS), label="addition")
    note(name)
    bigger = add(copy.deepcopy(base))
    assume(bigger is not None)
    record = validate(bigger)
    assume(record is not None)          # e.g. a lesion id already in use
    before, after = outcomes(record_from(base)), outcomes(record)
    for (trial_id, stage), (verdict, _criteria) in before.items():
        if not relevant(exclusion_patterns(trial_id)):
            continue
        if verdict == INELIGIBLE:
            assert after[(trial_id, stage)][0] != ELIGIBLE, f"{trial_id} {stage}: ineligible -> eligible after {name}"


def test_every_addition_is_one_some_exclusion_looks_for():
    """Guards the property above against checking nothing: each addition concerns some trial."""
    trials = list(rulebook().trials)
    looked_for = [name for name, _add, relevant in ADDITIONS if any(relevant(exclusion_patterns(t)) for t in trials)]
    assert "a brain lesion" in looked_for
    assert any(name.startswith("finding ") for name in looked_for)
    assert len(looked_for) >= len(ADDITIONS) // 2, sorted(set(n for n, _a, _r in ADDITIONS) - set(looked_for))
