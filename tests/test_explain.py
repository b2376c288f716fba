"""What an explanation shows: minimal proofs, counted items, what was looked for and not found,
vertebral chains, values in comparisons, missing inputs with the rules that would read them."""

import copy

import pytest
import yaml

from reasoner.errors import InputError
from reasoner.explain.graph import explain
from reasoner.logic.engine import engine
from reasoner.logic.rulebook import rulebook
from reasoner.record.read import record_from_data
from reasoner.render.tree import render_tree
from tests.conftest import AS_OF, ROOT
from tests.test_explain_exact import check, children

PATIENTS = ROOT / "facts" / "patients"


def example(name):
    return yaml.safe_load((PATIENTS / name).read_text())


def graph_of(data, criterion=None, trial="taormina"):
    return explain(record_from_data(data, "p.yaml", AS_OF), [trial], criterion)


def node(graph, node_id):
    assert node_id in graph, f"{node_id} not in the graph"
    return graph.nodes[node_id]


def proof_of(graph, cid, trial="taormina"):
    (proof,) = children(graph, f"criterion:{trial}/{cid}", "proof")
    return proof


def labels_below(graph, start):
    import networkx as nx

    return [graph.nodes[n]["label"] for n in nx.descendants(graph, start) | {start}]


def test_aggregates_say_what_they_counted():
    graph = graph_of(example("ineligible-taormina.yaml"), "I3")
    count = node(graph, "agg:lesion_count('patient')")
    assert count["value"] == 6 and count["counted"] == ["M1", "M2", "M3", "M4", "M5", "M6"]
    assert count["label"] == "6 metastatic lesions: M1, M2, M3, M4, M5, M6"
    lesions = {graph.nodes[c]["args"][1] for c in children(graph, "agg:lesion_count('patient')", "counted")}
    assert lesions == {"M1", "M2", "M3", "M4", "M5", "M6"}
    comparison = [graph.nodes[c] for c in children(graph, proof_of(graph, "I3")) if graph.nodes[c]["kind"] == "comparison"]
    assert [c["label"] for c in comparison] == ["6 > 5  (N > 5)"]


def test_distinct_organs_are_counted_once(eligible):
    graph = graph_of(eligible, "I3")
    organs = node(graph, "agg:organ_count('patient')")
    assert organs["value"] == 2 and sorted(organs["counted"]) == ["bone", "liver"]
    assert organs["label"].startswith("2 organs: ")


def test_negation_names_what_was_looked_for_and_the_items_examined(eligible):
    graph = graph_of(eligible, "E2")
    negation = node(graph, "not:has_lesion_class('patient', 'cns')")
    assert negation["label"] == ("not found: a lesion in an organ classed cns, among: "
                                 "lesion M1 in bone; lesion M2 in bone; lesion M3 in liver")
    # each lesion fell short because its organ is not classed cns in the reference taxonomy
    by_lesion = "not:has_lesion_class('patient', 'cns')#c0"
    assert node(graph, by_lesion)["clause"].startswith("has_lesion_class(P, C) <= lesion(P, L, O)")
    reasons = [graph.nodes[r] for a in children(graph, by_lesion, "attempt") for r in children(graph, a, "fails")]
    assert [(r["kind"], r["pred"], r["pattern"]) for r in reasons] == [
        ("absent", "organ_class", ["bone", "cns"]), ("absent", "organ_class", ["bone", "cns"]),
        ("absent", "organ_class", ["liver", "cns"])]
    assert reasons[2]["cite"] == "facts/reference/organs.yaml"


def test_a_brain_lesion_is_found_with_its_record_source():
    graph = graph_of(example("ineligible-taormina.yaml"), "E2")
    below = children(graph, proof_of(graph, "E2"))
    (derived,) = below
    facts = [graph.nodes[f] for f in children(graph, derived)]
    assert [(f["label"], f["source_path"]) for f in facts] == [
        ("lesion M6 in brain", "metastases[5]"), ("brain is cns", "brain")]
    assert facts[1]["source_file"] == "facts/reference/organs.yaml"


def test_vertebral_run_is_shown_as_its_chain():
    graph = graph_of(example("ineligible-taormina.yaml"), "E4")
    run = "rule:vertebral_run('patient', 'T9', 'T12', 4)"
    chain = [run]
    while True:
        inner = [c for c in children(graph, chain[-1], "body") if graph.nodes[c]["kind"] == "rule"
                 and graph.nodes[c]["pred"] == "vertebral_run"]
        if not inner:
            break
        chain.append(inner[0])
    assert [tuple(graph.nodes[c]["args"][1:]) for c in chain] == [
        ("T9", "T12", 4), ("T9", "T11", 3), ("T9", "T10", 2), ("T9", "T9", 1)]
    assert node(graph, run)["label"] == "run of 4 consecutive vertebrae involved: T9 to T12"
    # the longest run comes first among the runs the max_ aggregate looked at
    first = children(graph, "agg:longest_run('patient')", "counted")[0]
    assert first == run


def test_the_proof_with_fewest_rule_applications_is_chosen(eligible):
    eligible["metastases"][0]["site"]["vertebrae"] = ["T7", "T8", "T9", "T10"]
    graph = graph_of(eligible, "E4")
    long_way = node(graph, proof_of(graph, "E4"))
    assert "longest_vertebral_run" in long_way["clause"] and long_way["cost"] > 3
    eligible["findings"]["spinal_cord_compression"] = True
    graph = graph_of(eligible, "E4")
    short_way = node(graph, proof_of(graph, "E4"))
    assert short_way["clause"].endswith("finding(P, 'spinal_cord_compression', True)")
    assert short_way["cost"] == 1


@pytest.mark.parametrize("birth,outcome,label", [
    ("2009-06-01", "fail", "17 < 18  (A < 18)"),
    ("2008-11-23", "pass", "18 >= 18  (A >= 18)"),   # the 18th birthday itself counts
])
def test_comparisons_show_the_values_compared(eligible, birth, outcome, label):
    eligible["patient"]["birth_date"] = birth
    graph = graph_of(eligible, "I2")
    assert node(graph, "criterion:taormina/I2")["outcome"] == outcome
    comparisons = [graph.nodes[c]["label"] for c in children(graph, proof_of(graph, "I2"))
                   if graph.nodes[c]["kind"] == "comparison"]
    assert comparisons == [label]


def test_dates_and_lab_values_read_as_recorded(eligible):
    eligible["reproductive"].update(childbearing_potential=True, contraception=True,
                                    pregnancy_tests=[{"result": "negative", "date": "2026-11-23"}])
    graph = graph_of(eligible, "I16")
    labels = labels_below(graph, proof_of(graph, "I16"))
    assert "2026-11-23 >= 2026-12-07 - 14  (D >= S - 14)" in labels      # day -14 counts
    graph = graph_of(eligible, "I13")
    labels = labels_below(graph, proof_of(graph, "I13"))
    assert "4 > 2.5  (V > 2500)" in labels                                 # albumin 40 g/L = 4 g/dL
    assert "0.7 * 10 < 30 * 1.2  (V * 10 < K * U)" in labels               # bilirubin vs 3 x ULN
    assert "latest bilirubin below 3 x ULN" in labels


def test_unknown_criterion_names_missing_inputs_and_the_rules_that_would_read_them():
    graph = graph_of(example("indeterminate-taormina.yaml"), "I12")
    crit = rulebook().trial("taormina").criterion("I12")
    (missing,) = children(graph, "criterion:taormina/I12", "needs")
    assert node(graph, missing)["label"] == "not recorded: attestations"
    readers = [graph.nodes[r] for r in children(graph, missing, "would_use")]
    assert [r["where"] for r in readers] == [c.where for c in crit.holds + crit.lacks]
    assert all(r["kind"] == "rule_ref" and r["applies"] is False for r in readers)


def test_unknown_with_everything_recorded_says_what_would_decide_it():
    graph = graph_of(example("indeterminate-taormina.yaml"), "I16")
    # the pregnancy test is recorded, so it is not called missing ...
    paths = {graph.nodes[m]["path"] for m in children(graph, "criterion:taormina/I16", "needs")}
    assert "reproductive.pregnancy_tests" not in paths
    # ... but what would decide I16 names the test wanted, its window and the one recorded
    (need,) = [graph.nodes[d] for d in children(graph, "criterion:taormina/I16", "to_decide")
               if graph.nodes[d]["decides"] == "I16 met"]
    assert need["need"] == "a pregnancy test with result negative, dated on or after 2026-11-30 and on or before 2026-12-14"
    assert need["recorded"] == ["pregnancy test preg1: negative on 2026-11-06, not on or after 2026-11-30 (24 days before)"]
    assert "recorded, but not enough to decide" in need["label"]
    # the deeper rule that reads the pregnancy test (its 14-day window) is cited
    chains = [graph.nodes[r]["clause"] for r in graph if graph.nodes[r]["kind"] == "rule_ref"]
    assert any("pregnancy_test(P, I, 'negative', D) & (D >= S - 14)" in c for c in chains)


def test_trial_points_at_its_deciding_criteria():
    graph = graph_of(example("ineligible-taormina.yaml"))
    decided = [graph.nodes[c]["criterion"] for c in children(graph, "trial:taormina", "decided_by")]
    assert decided == ["I3", "E2", "E4"]
    (group,) = children(graph, "trial:taormina", "also_evaluated")
    assert len(children(graph, group, "criterion")) == 24
    graph = graph_of(example("indeterminate-taormina.yaml"))
    decided = [graph.nodes[c]["criterion"] for c in children(graph, "trial:taormina", "decided_by")]
    assert decided == ["I3", "I12", "I15", "I16", "E6"]


def test_one_criterion_only(eligible):
    graph = graph_of(eligible, "I8")
    crits = [d["criterion"] for _n, d in graph.nodes(data=True) if d["kind"] == "criterion"]
    assert crits == ["I8"]
    with pytest.raises(InputError, match="has no criterion 'I99'"):
        graph_of(eligible, "I99")


def test_record_strings_are_data_not_datalog(eligible):
    """Ids and names full of quotes and Datalog syntax are explained like any other value."""
    nasty = "M1') & ~lesion(P, X, Y) <= (\"x"
    eligible["metastases"][0]["id"] = nasty
    eligible["systemic_therapy"][0]["id"] = "x'); pyDatalog.clear(); ('"
    eligible["imaging"][0]["id"] = "I\\'mg"
    eligible["imaging"][0]["findings"] = "two\nlines"    # free text keeps its line break (an id may not have one)
    record = record_from_data(eligible, "nasty.yaml", AS_OF)
    graph = check(record, ["taormina"])
    assert node(graph, "trial:taormina")["verdict"] == "eligible"
    labels = [d["label"] for _n, d in graph.nodes(data=True)]
    assert f"lesion {nasty} in bone" in labels
    assert any(label.startswith("imaging I\\'mg: fdg-pet-ct") for label in labels)
    tree = render_tree(graph)
    assert "imaging I\\'mg: fdg-pet-ct on 2026-10-12" in tree


def test_session_retracts_the_patients_facts_whatever_happens(eligible):
    record = record_from_data(eligible, "p.yaml", AS_OF)
    with engine().patient(record) as session:
        assert session.query("lesion", ["patient", None, None])
        with pytest.raises(RuntimeError, match="already open"), engine().patient(record):
            pass
    with pytest.raises(ZeroDivisionError), engine().patient(record):
        raise ZeroDivisionError("inside the session")
    with engine().patient(record_from_data({**copy.deepcopy(eligible), "metastases": []}, "q.yaml", AS_OF)) as s:
        assert s.query("lesion", ["patient", None, None]) == []


def test_long_refutations_are_cut_and_say_so(eligible):
    """More candidates than MAX_ATTEMPTS: the first ones are shown and the label says so."""
    from reasoner.logic.proofs import MAX_ATTEMPTS

    eligible["toxicities"] = [{"name": f"toxicity {i}", "grade": 1, "stable": True} for i in range(MAX_ATTEMPTS + 5)]
    graph = graph_of(eligible, "I15")
    negation = node(graph, "not:taormina_toxicity_open('patient')")
    assert negation["complete"] is False
    assert negation["label"].endswith(f"(only the first {MAX_ATTEMPTS} candidates per rule are shown)")
    assert len(children(graph, "not:taormina_toxicity_open('patient')#c0", "attempt")) == MAX_ATTEMPTS


def test_refutations_beyond_the_depth_limit_and_without_rules_are_stated(eligible):
    from reasoner.explain.graph import Builder
    from reasoner.logic.proofs import MAX_REFUTATION_DEPTH, Refutation

    record = record_from_data(eligible, "p.yaml", AS_OF)
    with engine().patient(record) as session:
        builder = Builder(rulebook(), record, session)
        deep = builder.prover.refute("has_lesion_class", ("patient", "cns"), MAX_REFUTATION_DEPTH)
        assert deep.detailed is False and deep.clauses == ()
        shallow = builder.prover.refute("has_lesion_class", ("patient", "cns"), MAX_REFUTATION_DEPTH - 1)
        assert shallow.detailed is True and shallow.clauses
        label = builder.graph.nodes[builder.refutation(deep, MAX_REFUTATION_DEPTH)]["label"]
        assert label == "not found: a lesion in an organ classed cns (checked; deeper reasons not shown)"
        nothing = builder.refutation(Refutation("taormina_small", ("patient", "M9"), False, clauses=()), 0)
        assert builder.graph.nodes[nothing]["label"] == "not found: lesion M9 at most 50 mm (no rule can derive it)"


def test_every_base_predicate_reads_as_words_with_its_values_in_place():
    """A base fact shown as pred(args) would make a clinician decode Datalog; each needs a phrase
    whose placeholders fit its arguments."""
    import re

    from reasoner.explain.phrasebook import BASE_PHRASES
    from reasoner.record.predicates import BASE

    for name, pred in BASE.items():
        assert name in BASE_PHRASES, f"no phrase for {name}"
        used = {int(i) for i in re.findall(r"\{(\d+)\}", BASE_PHRASES[name])}
        assert used and max(used) < len(pred.args), f"{name}{pred.args}: {BASE_PHRASES[name]}"


def test_a_lesion_change_reads_in_the_record_units():
    from reasoner.explain.phrasebook import Phrasebook

    book = Phrasebook(rulebook())
    shown = book.atom("lesion_change", ("patient", "L1", "size", 12500, 16000))
    assert shown == "lesion L1 size: 12.5 at the start of the current therapy, 16 now"
