"""Records become base facts with their record path; absent inputs become gaps."""

import datetime as dt

from reasoner.record.facts import age_in_years, facts_of
from reasoner.record.predicates import BASE
from reasoner.record.read import record_from_data
from tests.conftest import AS_OF


def facts(data, as_of=AS_OF):
    return facts_of(record_from_data(data, "p.yaml", as_of))


def find(pf, pred):
    return [f for f in pf.facts if f.pred == pred]


def test_every_fact_is_a_declared_base_predicate_with_a_source(eligible):
    pf = facts(eligible)
    for fact in pf.facts:
        assert fact.pred in BASE and BASE[fact.pred].arity == len(fact.args) + 1
        assert fact.path


def test_lab_values_are_integers_in_the_canonical_unit(eligible):
    eligible["labs"][0] = {"test": "bilirubin", "value": 34.2, "unit": "umol/L", "uln": 20.5, "date": "2026-11-16"}
    pf = facts(eligible)
    lab = [f for f in find(pf, "lab") if f.args[1] == "bilirubin"][0]
    assert lab.path == "labs[0]"
    assert lab.args[2] == 2000          # 34.2 umol/L = 2.000 mg/dL, x 1000
    assert lab.args[3] == dt.date(2026, 11, 16).toordinal()
    assert [f.args[1] for f in find(pf, "lab_uln") if f.args[0] == lab.args[0]] == [1199]


def test_age_in_whole_years_turns_on_the_birthday():
    assert age_in_years(dt.date(2008, 11, 23), dt.date(2026, 11, 23)) == 18
    assert age_in_years(dt.date(2008, 11, 24), dt.date(2026, 11, 23)) == 17
    assert age_in_years(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 17
    assert age_in_years(dt.date(2008, 2, 29), dt.date(2026, 3, 1)) == 18


def test_absent_sections_become_gaps_and_empty_ones_recorded(eligible):
    del eligible["metastases"]
    eligible["other_malignancies"] = []
    pf = facts(eligible)
    recorded = {f.args[0] for f in find(pf, "recorded")}
    assert "other_malignancies" in recorded and "metastases" not in recorded
    assert any(g.pred == "recorded" and g.path == "metastases" for g in pf.gaps)


def test_missing_item_fields_are_gaps_at_their_path(eligible):
    del eligible["metastases"][2]["size_mm"]
    pf = facts(eligible)
    assert any(g.pred == "lesion_size_mm" and g.path == "metastases[2].size_mm" for g in pf.gaps)
    assert not [f for f in find(pf, "lesion_size_mm") if f.args[0] == "M3"]


def test_toxicity_names_and_drug_aliases_are_normalized(eligible):
    eligible["systemic_therapy"][0]["drugs"] = ["Ellence", "cytoxan"]
    pf = facts(eligible)
    assert {f.args[1] for f in find(pf, "regimen_drug") if f.args[0] == "ADJ1"} == {"epirubicin", "cyclophosphamide"}
    assert ("t2", "peripheral_neuropathy", 1) in {f.args for f in find(pf, "toxicity")}


def test_record_strings_are_fact_arguments_verbatim(eligible):
    eligible["metastases"][0]["id"] = "x') & ~eligible(P"
    pf = facts(eligible)
    assert ("x') & ~eligible(P", "bone") in {f.args for f in find(pf, "lesion")}
