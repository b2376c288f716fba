"""The condensed proof (reasoner/explain/condense.py): fits on a screen, reads as words, shows
aggregates by their witness, recursive chains as one line, comparisons in the record's units, the
clause that fired; and every renderer shows the same condensed graph."""

import json
import re

import pytest
import yaml

from reasoner.errors import RuleError
from reasoner.explain.condense import condense
from reasoner.explain.graph import explain
from reasoner.explain.phrasebook import Phrasebook
from reasoner.logic.annotations import parse_annotations
from reasoner.logic.rulebook import rulebook
from reasoner.pipeline import load_input
from reasoner.record.predicates import BASE
from reasoner.record.read import record_from_data
from reasoner.render.graph_export import to_document, to_dot
from reasoner.render.tree import render_tree
from tests.conftest import AS_OF, ROOT

PATIENTS = sorted((ROOT / "facts" / "patients").glob("*.yaml"))
MAX_LINES = 15


def condensed(data, trial="taormina", criterion=None):
    return condense(explain(record_from_data(data, "p.yaml", AS_OF), [trial], criterion))


def criterion_lines(graph, trial, cid):
    """The tree lines of one criterion (its heading and everything below it), as `--criterion` shows them."""
    from reasoner.render.tree import _walk

    lines = []
    _walk(graph, f"criterion:{trial}/{cid}", 0, None, lines, set(), True, True)
    return lines


@pytest.fixture(scope="module")
def example_graphs():
    ids = list(rulebook().trials)
    return {path.name: condense(explain(load_input(path, AS_OF), ids)) for path in PATIENTS}


def test_every_criterion_of_every_example_fits_on_a_screen(example_graphs):
    book = rulebook()
    worst = []
    for name, graph in example_graphs.items():
        for trial in book.trials.values():
            for crit in trial.criteria:
                lines = criterion_lines(graph, trial.id, crit.id)
                assert lines, (name, trial.id, crit.id)
                worst.append((len(lines), name, trial.id, crit.id))
    assert len(worst) == len(PATIENTS) * sum(len(t.criteria) for t in book.trials.values())
    too_long = [w for w in worst if w[0] > MAX_LINES]
    assert not too_long, too_long


def test_no_predicate_name_is_ever_shown(example_graphs):
    book = rulebook()
    names = {c.head.pred for c in book.clauses} | set(BASE)
    pattern = re.compile(r"\b(" + "|".join(sorted((re.escape(n) for n in names if "_" in n), key=len, reverse=True)) + r")\b")
    for name, graph in example_graphs.items():
        for node, data in graph.nodes(data=True):
            shown = pattern.findall(data["label"])
            # record paths in "not recorded: ..." lines name record fields, not predicates
            if data["kind"] == "missing":
                continue
            assert not shown, (name, node, data["label"])


def test_every_derived_predicate_has_words():
    book = rulebook()
    words = Phrasebook(book)
    derived = {c.head.pred for c in book.clauses if not c.head.pred.startswith("crit_")}
    assert derived and not [p for p in sorted(derived) if not words.has_words(p)]


def test_an_annotation_gives_a_helper_its_words():
    (phrase,) = parse_annotations("x(P) <= y(P)\n#: taormina_known(P, R): {R} status known\n", "rules/trials/t.yaml", 10)
    assert (phrase.pred, phrase.args, phrase.line, phrase.template) == ("taormina_known", ("P", "R"), 11, "{0} status known")
    words = Phrasebook(rulebook())
    assert words.atom("taormina_known", ("patient", "er")) == "er status known"


@pytest.mark.parametrize("line,message", [
    ("#: foo(P, X): {Y} is here", "{Y} is not one of its shown arguments (X)"),
    ("#: foo(P, x): words", "arguments must be distinct variables"),
    ("#: foo words", "expected `#: pred(P, X): words with {X}`"),
])
def test_a_malformed_annotation_names_its_line(line, message):
    with pytest.raises(RuleError) as err:
        parse_annotations(f"a(P) <= b(P)\n{line}\n", "rules/lib/x.dl")
    assert str(err.value).startswith("rules/lib/x.dl:2: ") and message in str(err.value)


def test_lint_finds_a_helper_without_words_and_an_annotation_of_nothing(tmp_path):
    import shutil

    from reasoner.authoring.lint import lint

    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    trial = root / "trials" / "taormina.yaml"
    text = trial.read_text().replace("#: taormina_known(P, R): {R} status known\n", "#: taormina_nothing(P): nothing\n")
    trial.write_text(text)
    found = [str(f) for f in lint([root]) if f.check == "words"]
    assert any("taormina_known has no words" in f for f in found), found
    assert any("annotation of taormina_nothing, which no rule defines" in f for f in found), found


def test_a_vertebral_run_is_one_line_naming_its_members():
    data = yaml.safe_load((ROOT / "facts/patients/ineligible-taormina.yaml").read_text())
    graph = condensed(data, criterion="E4")
    lines = criterion_lines(graph, "taormina", "E4")
    chain = [line.strip() for line in lines if "involved, consecutive" in line]
    paths = ", ".join(f"metastases[0].site.vertebrae[{i}]" for i in range(4))
    assert chain == [f"vertebrae T9, T10, T11, T12 involved, consecutive: a run of 4  [rules/lib/lesions.dl:36; p.yaml: {paths}]"]
    text = "\n".join(lines)
    assert "run of 1" not in text and "run of 3" not in text      # only the witness of the longest run
    full = render_tree(explain(record_from_data(data, "p.yaml", AS_OF), ["taormina"], "E4"))
    assert len(full.splitlines()) > 3 * len(lines)


def test_the_rule_line_shown_is_the_clause_that_fired():
    data = yaml.safe_load((ROOT / "facts/patients/ineligible-taormina.yaml").read_text())
    full = explain(record_from_data(data, "p.yaml", AS_OF), ["taormina"], "E4")
    graph = condense(full)
    (proof,) = [b for _a, b, d in graph.out_edges("criterion:taormina/E4", data=True) if d["role"] == "proof"]
    crit = rulebook().trial("taormina").criterion("E4")
    fired = [c.where for c in crit.holds if "longest_vertebral_run" in c.text]
    assert graph.nodes[proof]["cite"] == fired[0] != f"{crit.file}:{crit.line}"
    assert graph.nodes[proof]["label"] == "exclusion E4 applies"


@pytest.mark.parametrize("value,op,outcome", [("3.5", "<", "pass"), ("3.6", ">=", "fail")])
def test_a_lab_against_its_uln_reads_in_the_record_units(eligible, value, op, outcome):
    """3.0 x ULN of 1.2 mg/dL is 3.6 mg/dL: 3.5 is below it, 3.6 is not (both sides of the limit)."""
    lab = next(lab for lab in eligible["labs"] if lab["test"] == "bilirubin")
    lab["value"], lab["uln"], lab["unit"] = float(value), 1.2, "mg/dL"
    graph = condensed(eligible, criterion="I13")
    labels = [d["label"] for _n, d in graph.nodes(data=True)]
    wanted = f"total bilirubin {value} mg/dL on {lab['date']} {op} 3.0 x ULN (3.6 mg/dL)"
    assert wanted in labels, [lab for lab in labels if "bilirubin" in lab]
    assert graph.nodes["criterion:taormina/I13"]["outcome"] == outcome
    assert not any("* 10" in lab or "V " in lab for lab in labels)


def test_a_value_checked_against_a_limit_shows_its_unit(eligible):
    graph = condensed(eligible, criterion="I13")
    labels = [d["label"] for _n, d in graph.nodes(data=True)]
    assert any(lab.endswith("albumin 4 g/dL > 2.5 g/dL") for lab in labels), labels


def test_every_renderer_reads_the_same_condensed_graph():
    data = yaml.safe_load((ROOT / "facts/patients/ineligible-taormina.yaml").read_text())
    graph = condensed(data)
    doc = to_document(graph)
    tree = render_tree(graph)
    dot = to_dot(graph).replace("\\n", " ")      # DOT wraps long labels
    assert doc["condensed"] is True
    for node in doc["nodes"]:
        if node["kind"] in ("rule", "fact", "comparison"):
            assert node["label"] in dot
    reachable = {line.strip().split("  [")[0].removesuffix(" (as above)") for line in tree.splitlines() if line.strip()}
    labels = {n["label"] for n in doc["nodes"]}
    assert reachable <= labels
    assert json.loads(json.dumps(doc)) == doc


def test_unknown_criterion_lists_each_missing_field_once_with_the_rules_reading_it():
    data = yaml.safe_load((ROOT / "facts/patients/ineligible-taormina.yaml").read_text())
    graph = condensed(data, trial="cosmo", criterion="I9")
    missing = [d for _n, d in graph.nodes(data=True) if d["kind"] == "missing"]
    suvmax = [d for d in missing if d["path"] == "metastases[].suvmax"]
    assert len(suvmax) == 1 and len(suvmax[0]["paths"]) == 6
    assert suvmax[0]["label"].startswith("not recorded: metastases[].suvmax of items 0, 1, 2, 3, 4, 5 (read by rules/trials/cosmo.yaml:")


def test_fhir_facts_cite_their_resource_and_element():
    bundle = ROOT / "tests/data/fhir/mitre/ctm-app_TrialMatching_Patient01.json"
    graph = explain(load_input(bundle, AS_OF, warn=lambda _line: None), ["cosmo"], "I2")
    facts = [d for _n, d in graph.nodes(data=True) if d["kind"] == "fact" and d["pred"] == "metastatic_site"]
    assert facts
    for fact in facts:
        assert fact["source_resource"].startswith("Condition/") and fact["source_element"] == "code.coding[0]"
        assert fact["cite"] == f"{bundle}: {fact['source_resource']} {fact['source_element']}"
        assert "metastatic_sites[" not in fact["cite"]
    age = [d for _n, d in explain(load_input(bundle, AS_OF, warn=lambda _line: None), ["taormina"], "I2").nodes(data=True)
           if d["kind"] == "fact" and d["pred"] in ("age_at", "age_at_least")]
    assert age[0]["source_resource"].startswith("Patient/") and age[0]["source_element"] == "birthDate"


def test_a_yaml_record_cites_record_paths(eligible):
    graph = explain(record_from_data(eligible, "p.yaml", AS_OF), ["taormina"], "I2")
    (age,) = [d for _n, d in graph.nodes(data=True) if d["kind"] == "fact" and d["pred"] in ("age_at", "age_at_least")]
    assert age["cite"] == "p.yaml: patient.birth_date" and "source_resource" not in age
