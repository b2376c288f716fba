"""Record fields added for COSMO and NCT04646564: per-lesion progression measures, locoregional
sites, imaging linked to regimens, months from a regimen's start to a study, Child-Pugh class,
radiotherapy lesion lists; and the references between them that validation checks."""

import copy
import datetime as dt

import pytest
import yaml

from reasoner.errors import EligoError
from reasoner.record.facts import facts_of
from reasoner.record.read import record_from_data
from tests.conftest import AS_OF, ROOT

COSMO = ROOT / "facts" / "patients" / "eligible-cosmo.yaml"


@pytest.fixture
def cosmo():
    return copy.deepcopy(yaml.safe_load(COSMO.read_text()))


def facts(data):
    return facts_of(record_from_data(data, "p.yaml", AS_OF))


def rows(pf, pred):
    return sorted((f.args, f.path) for f in pf.facts if f.pred == pred)


def gaps(pf, pred):
    return sorted((g.path, g.key) for g in pf.gaps if g.pred == pred)


def test_lesion_changes_are_scaled_integers_with_their_paths(cosmo):
    cosmo["metastases"][1].update(lytic_mm=12.5, baseline_lytic_mm=10)
    pf = facts(cosmo)
    assert rows(pf, "lesion_change") == [
        (("M1", "size", 16000, 22000), "metastases[0].size_mm"),
        (("M1", "suvmax", 4000, 7500), "metastases[0].suvmax"),
        (("M2", "lytic", 10000, 12500), "metastases[1].lytic_mm"),
        (("M2", "suvmax", 5200, 2100), "metastases[1].suvmax")]
    # M2 has no baseline size, M3 no measure at all: gaps keyed by the measure
    assert ("metastases[1].baseline_size_mm", ((2, "size"),)) in gaps(pf, "lesion_change")
    assert ("metastases[2].lytic_mm", ((2, "lytic"),)) in gaps(pf, "lesion_change")
    assert not [g for g in gaps(pf, "lesion_change") if g[0].startswith("metastases[0]")]


def test_lytic_measures_are_read_for_bone_lesions_only(cosmo):
    cosmo["metastases"][0].update(lytic_mm=12, baseline_lytic_mm=10)
    assert not [r for r in rows(facts(cosmo), "lesion_change") if r[0][1] == "lytic"]


def test_locoregional_sites_share_the_lesion_predicates(cosmo):
    cosmo["locoregional_lesions"] = [{"id": "LR1", "region": "axillary_nodes", "size_mm": 19, "baseline_size_mm": 12,
                                      "progressing": True}]
    pf = facts(cosmo)
    assert rows(pf, "locoregional_lesion") == [(("LR1", "axillary_nodes"), "locoregional_lesions[0]")]
    assert (("LR1", True), "locoregional_lesions[0].progressing") in rows(pf, "lesion_progressing")
    assert (("LR1", "size", 12000, 19000), "locoregional_lesions[0].size_mm") in rows(pf, "lesion_change")
    assert ("locoregional_lesions[0].amenable_to_local_therapy", ()) in gaps(pf, "locoregional_amenable")
    assert not [f for f in pf.facts if f.pred.startswith("lesion_") and f.path.startswith("locoregional") and
                f.pred not in ("lesion_progressing", "lesion_change")]   # other trials read lesion_* as metastases
    assert ("recorded", "locoregional_lesions") in [(f.pred, f.args[0]) for f in pf.facts if f.pred == "recorded"]


def test_months_from_each_regimen_start_to_each_later_study(cosmo):
    pf = facts(cosmo)
    months = {(args[0], args[1]): args[2] for args, _path in rows(pf, "regimen_imaging_months")}
    assert months[("L1", "IMG3")] == 6          # 2025-09-01 -> 2026-03-05
    assert months[("L1", "IMG2")] == 3
    assert months[("L1", "IMG5")] == 13
    assert ("L1", "IMG1") not in months         # the baseline precedes the start
    assert months[("ADJ1", "IMG1")] == 77       # every regimen, any setting


def test_imaging_links_and_confirmation(cosmo):
    pf = facts(cosmo)
    assert (("IMG1", "L1"), "imaging[0].regimen") in rows(pf, "imaging_regimen")
    assert rows(pf, "imaging_confirmed") == [(("IMG6", True), "imaging[5].confirmed")]
    del cosmo["imaging"][5]["confirmed"]
    assert gaps(facts(cosmo), "imaging_confirmed") == [("imaging[5].confirmed", ())]


def test_a_study_serving_two_regimens_has_one_use_fact_per_regimen(cosmo):
    cosmo["systemic_therapy"].append({"id": "F1", "drugs": ["fulvestrant"], "setting": "metastatic",
                                      "start": "2024-10-01", "end": "2025-08-25", "stop_reason": "progression"})
    study = cosmo["imaging"][0]
    del study["purpose"], study["regimen"]
    study["uses"] = [{"purpose": "progression", "regimen": "F1"}, {"purpose": "baseline", "regimen": "L1"}]
    pf = facts(cosmo)
    assert [r for r in rows(pf, "imaging_use") if r[0][0] == "IMG1"] == [(("IMG1", "baseline", "L1"), "imaging[0].uses[1]"),
                                       (("IMG1", "progression", "F1"), "imaging[0].uses[0]")]
    assert [r for r in rows(pf, "imaging_purpose") if r[0][0] == "IMG1"] == [
        (("IMG1", "baseline"), "imaging[0].uses[1].purpose"), (("IMG1", "progression"), "imaging[0].uses[0].purpose")]
    assert [r for r in rows(pf, "imaging_regimen") if r[0][0] == "IMG1"] == [
        (("IMG1", "F1"), "imaging[0].uses[0].regimen"), (("IMG1", "L1"), "imaging[0].uses[1].regimen")]
    assert not [g for g in gaps(pf, "imaging_purpose") if g[0].startswith("imaging[0]")]


def test_the_one_use_form_keeps_its_paths_and_gaps(cosmo):
    pf = facts(cosmo)
    assert (("IMG1", "baseline", "L1"), "imaging[0].purpose") in rows(pf, "imaging_use")
    assert (("IMG1", "baseline"), "imaging[0].purpose") in rows(pf, "imaging_purpose")
    # IMG6 has a purpose and no regimen: no use fact, a gap for its regimen
    assert ("imaging[5].regimen", ()) in gaps(pf, "imaging_use")
    assert not [r for r in rows(pf, "imaging_use") if r[0][0] == "IMG6"]
    del cosmo["imaging"][0]["purpose"]
    pf = facts(cosmo)
    assert ("imaging[0].purpose", ()) in gaps(pf, "imaging_purpose")
    assert (("IMG1", "L1"), "imaging[0].regimen") in rows(pf, "imaging_regimen")
    assert not [r for r in rows(pf, "imaging_use") if r[0][0] == "IMG1"]


def test_a_confirmation_among_several_uses_reads_confirmed(cosmo):
    study = cosmo["imaging"][5]
    del study["purpose"]
    study["uses"] = [{"purpose": "response", "regimen": "L1"}, {"purpose": "confirmation", "regimen": "L1"}]
    assert rows(facts(cosmo), "imaging_confirmed") == [(("IMG6", True), "imaging[5].confirmed")]
    study["uses"] = [{"purpose": "response", "regimen": "L1"}]
    assert rows(facts(cosmo), "imaging_confirmed") == []


def test_child_pugh_and_radiotherapy_lesion_lists(cosmo):
    cosmo["assessment"] = {"child_pugh_class": "B"}
    cosmo["radiotherapy"].append({"id": "RT2", "date": "2025-01-01"})
    pf = facts(cosmo)
    assert rows(pf, "child_pugh") == [(("b",), "assessment.child_pugh_class")]
    assert rows(pf, "radiotherapy_lesions_recorded") == [(("RT1",), "radiotherapy[0].lesions")]
    assert gaps(pf, "radiotherapy_lesions_recorded") == [("radiotherapy[1].lesions", ())]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(locoregional_lesions=[{"id": "M1", "region": "breast"}]),
     'locoregional_lesions[0].id: expected an id not used by a metastasis, got "M1"'),
    (lambda d: d["imaging"][0].update(regimen="L9"),
     'imaging[0].regimen: expected the id of a regimen in systemic_therapy ("ADJ1", "ADJ2", "L1", "BMA"; ids are case-sensitive), '
     'got "L9"'),
    (lambda d: d["imaging"][0].update(uses=[{"purpose": "baseline", "regimen": "L1"}, {"purpose": "progression", "regimen": "l1"}]),
     'imaging[0].uses[1].regimen: expected the id of a regimen in systemic_therapy ("ADJ1", "ADJ2", "L1", "BMA"; '
     'ids are case-sensitive), got "l1"'),
    (lambda d: d["imaging"][1].update(uses=[{"purpose": "response", "regimen": "L1"}]),
     'imaging[1].purpose: expected no purpose or regimen beside uses (put every use in uses), got "response"'),
    (lambda d: d["imaging"][1].pop("purpose") and d["imaging"][1].update(uses=[]),
     "imaging[1].uses: expected at least one use (leave uses out when the purpose is not recorded)"),
    (lambda d: d["imaging"][1].pop("purpose") and d["imaging"][1].update(uses=[{"purpose": "response"}]),
     "imaging[1].uses[0].regimen: expected this required field"),
    (lambda d: d["imaging"][1].pop("purpose") and d["imaging"][1].update(
        uses=[{"purpose": "response", "regimen": "L1"}, {"purpose": "response", "regimen": "L1"}]),
     "imaging[1].uses[1].regimen: expected a unique purpose and regimen (also used by imaging[1].uses[0])"),
    (lambda d: d["metastases"][0].update(suvmax=-1), "metastases[0].suvmax: expected a number >= 0 and <= 200"),
    (lambda d: d.update(assessment={"child_pugh_class": "D"}), "assessment.child_pugh_class: expected one of a, b, c"),
])
def test_bad_references_and_values_are_named(cosmo, change, message):
    change(cosmo)
    with pytest.raises(EligoError) as err:
        record_from_data(cosmo, "p.yaml", dt.date(2026, 11, 23))
    assert message in str(err.value)
