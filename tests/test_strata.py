"""Randomisation strata (`strata:` in a trial file): parsed with file:line, derived for eligible
patients only, shown in `eligo check` output; contradictory strata are rule conflicts."""

import json

import pytest

from reasoner.errors import RuleConflict, RuleError
from reasoner.logic.engine import Evaluation
from reasoner.logic.rulebook import STRATUM, load_trial, rulebook
from reasoner.pipeline import judge, load_input
from reasoner.render.result import dumps, result_document
from reasoner.render.text import render_check
from reasoner.verdict.outcomes import strata_of
from tests.conftest import AS_OF, ROOT

PATIENTS = ROOT / "facts" / "patients"


def test_strata_become_clauses_with_file_and_line():
    trial = rulebook().trial("nct04646564")
    assert [(s.name, s.values) for s in trial.strata] == [
        ("visceral_metastasis", ("yes", "no")), ("metastases", ("<=2", ">2")), ("hormone_receptor", ("positive", "negative"))]
    heads = [c for c in trial.clauses if c.head.pred == STRATUM]
    assert len(heads) == 6
    first = heads[0]
    assert first.text.startswith("crit_stratum(P, 'nct04646564', 'visceral_metastasis', 'yes') <= ")
    line = (ROOT / first.file).read_text().splitlines()[first.line - 1]
    assert "has_lesion_class(P, 'visceral')" in line


def test_strata_for_the_eligible_example_and_none_for_the_others():
    verdicts = {}
    for name in ("eligible", "ineligible", "indeterminate"):
        (tv,) = judge(load_input(PATIENTS / f"{name}-nct04646564.yaml", AS_OF), ["nct04646564"]).verdicts
        verdicts[name] = (tv.verdict, tv.strata)
    assert verdicts["eligible"] == ("eligible", {"visceral_metastasis": "yes", "metastases": ">2", "hormone_receptor": "positive"})
    assert verdicts["ineligible"] == ("ineligible", None)
    assert verdicts["indeterminate"] == ("indeterminate", None)


def test_trials_without_strata_carry_none():
    (tv,) = judge(load_input(PATIENTS / "eligible-cosmo.yaml", AS_OF), ["cosmo"]).verdicts
    assert tv.verdict == "eligible" and tv.strata is None


def _document(name):
    judgement = judge(load_input(PATIENTS / name, AS_OF), ["nct04646564"])
    return result_document(judgement.record, judgement.book, judgement.verdicts), judgement.book


def test_check_output_shows_strata_only_for_eligible_patients():
    eligible, book = _document("eligible-nct04646564.yaml")
    assert eligible["trials"][0]["strata"] == {"visceral_metastasis": "yes", "metastases": ">2", "hormone_receptor": "positive"}
    assert "strata" not in json.loads(dumps(_document("ineligible-nct04646564.yaml")[0]))["trials"][0]
    assert "randomisation strata: visceral_metastasis: yes, metastases: >2, hormone_receptor: positive" in render_check(eligible, book)


def test_an_unknown_stratum_is_null(tmp_path):
    text = (PATIENTS / "eligible-nct04646564.yaml").read_text().replace(
        "  pgr: {status: positive, source: primary, percent: 20}\n", "").replace(
        "er: {status: positive, source: primary, percent: 80}", "er: {status: negative, source: primary, percent: 0}")
    record = tmp_path / "p.yaml"
    record.write_text(text)
    (tv,) = judge(load_input(record, AS_OF), ["nct04646564"]).verdicts
    assert tv.verdict == "eligible" and tv.strata["hormone_receptor"] is None


def test_two_values_of_one_stratum_are_a_rule_conflict():
    trial = rulebook().trial("nct04646564")
    record = load_input(PATIENTS / "eligible-nct04646564.yaml", AS_OF)
    evaluation = Evaluation(record, None, set(), set(), {("nct04646564", "metastases"): {"<=2", ">2"}})
    with pytest.raises(RuleConflict, match=r"rules/trials/nct04646564.yaml:\d+: nct04646564 stratum metastases"):
        strata_of(trial, evaluation)


TRIAL = """trial: {id: t1, name: T1}
criteria:
  - {id: I1, kind: inclusion, text: t, reading: r, holds: ["sex(P, 'female')"], lacks: ["sex(P, 'male')"]}
strata:
"""


@pytest.mark.parametrize("strata, message", [
    ("  - name: s\n    values:\n      yes: [\"sex(P, 'female')\"]\n", "value True must be text"),
    ("  - name: s\n    values: {a: [\"sex(P, 'female')\"]}\n"
     "  - name: s\n    values: {b: [\"sex(P, 'male')\"]}\n", "unique lower-case `name`"),
    ("  - name: s\n", "strata.s.values: expected a mapping"),
    ("  name: s\n", "strata: expected a list"),
    ("  - name: s\n    values: {\"it's\": [\"sex(P, 'female')\"]}\n", "must be text of letters"),
    ("  - name: s\n    values: {a: [\"sex(P, 'female'\"]}\n", "syntax error"),
])
def test_bad_strata_are_rule_errors_naming_the_file(tmp_path, strata, message):
    path = tmp_path / "t1.yaml"
    path.write_text(TRIAL + strata)
    with pytest.raises(RuleError, match=message) as err:
        load_trial(path)
    assert "t1.yaml" in str(err.value)
