"""`eligo query`: answers with proofs, no answer with the reason, --why-not, bad goals, injection."""

import json

import pytest
import yaml
from click.testing import CliRunner
from pyDatalog import pyDatalog

from reasoner.authoring.query import MAX_GOAL_CHARS, query
from reasoner.cli.main import main
from reasoner.errors import InputError
from reasoner.logic.engine import engine
from reasoner.pipeline import load_input
from tests.conftest import AS_OF, ROOT

PATIENTS = sorted((ROOT / "facts" / "patients").glob("*.yaml"))
EX001 = "facts/patients/eligible-taormina.yaml"


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*args):
    result = CliRunner().invoke(main, ["query", *args, "--as-of", AS_OF.isoformat()])
    return result.exit_code, result.output


def record(path):
    return load_input(str(path), AS_OF)


def engine_answers(rec, text):
    """The same question asked as pyDatalog query text (an independent path: no goal parser)."""
    with engine().patient(rec):
        answer = pyDatalog.ask(text)
    return sorted(tuple(row) for row in answer.answers) if answer else []


@pytest.mark.parametrize("path", PATIENTS, ids=lambda p: p.stem)
@pytest.mark.parametrize("goal, text", [
    ("metastatic_lines(P, N)", "metastatic_lines(P, N)"),
    ("line_number(P, R, N)", "line_number(P, R, N)"),
    ("longest_vertebral_run(_, N)", "longest_vertebral_run(P, N)"),
    ("lesion(P, L, O)", "lesion(P, L, O)"),
])
def test_answers_are_the_engines_each_with_a_proof_down_to_record_fields(path, goal, text):
    rec = record(path)
    result = query(rec, goal)
    expected = engine_answers(rec, text)
    assert sorted(a.args for a in result.answers) == sorted(expected)
    graph = result.graph
    for answer in result.answers:
        assert graph.has_edge(f"answer:{result.answers.index(answer) + 1}", answer.node)
        below = {answer.node} | set(__import__("networkx").descendants(graph, answer.node))
        facts = [graph.nodes[n] for n in below if graph.nodes[n]["kind"] == "fact"]
        assert facts, f"{goal}: an answer without any fact under its proof"
        for fact in facts:
            assert fact["source_path"] == "--as-of" or fact["reference"] or fact["source_file"] == str(path)
        rules = [graph.nodes[n] for n in below if graph.nodes[n]["kind"] in ("rule", "aggregate")]
        for rule in rules:
            file, line = rule["cite"].rsplit(":", 1)
            assert (ROOT / file).is_file() and int(line) > 0


@pytest.mark.parametrize("path", PATIENTS, ids=lambda p: p.stem)
def test_an_aggregate_function_counts_the_lesions_the_record_lists(path):
    data = yaml.safe_load(path.read_text())
    result = query(record(path), "lesion_count(P, N)")
    lesions = data.get("metastases") or []
    if not lesions:
        assert result.answers == [] and result.why_not is not None
        return
    assert [a.bindings for a in result.answers] == [{"N": len({m["id"] for m in lesions})}]
    counted = result.graph.nodes[result.answers[0].node]["counted"]
    assert sorted(counted) == sorted(m["id"] for m in lesions)


def test_tree_shows_each_answer_with_bindings_and_citations():
    code, out = run(EX001, "lesion(P, L, 'liver')")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "lesion(P, L, 'liver') for patient EX-001 as of 2026-11-23: 1 answer"
    assert lines[1] == "  L = 'M3'   lesion(P, 'M3', 'liver')"
    assert lines[2] == f"    lesion M3 in liver  [{EX001}: metastases[2]]"


def test_the_patient_may_be_written_P_underscore_or_by_id_but_not_as_another_patient():
    answers = {goal: [a.args for a in query(record(EX001), goal).answers]
               for goal in ("lesion(P, L, O)", "lesion(_, L, O)", "lesion('EX-001', L, O)", "lesion(Who, L, O)")}
    assert len(set(map(tuple, answers.values()))) == 1 and len(answers["lesion(P, L, O)"]) == 3
    with pytest.raises(InputError, match="first argument of lesion is the patient"):
        query(record(EX001), "lesion('EX-002', L, O)")


def test_each_underscore_is_a_variable_of_its_own():
    """lesion(_, _, O) would find nothing if the two _ were one variable (the patient)."""
    result = query(record(EX001), "lesion(_, _, O)")
    assert len(result.answers) == 3 and all(a.bindings.keys() == {"O"} for a in result.answers)
    assert query(record(EX001), "lesion(P, L, L)").answers == []        # a repeated named variable must agree


def test_a_ground_goal_on_both_sides_of_a_threshold():
    """EX-001's bilirubin is 0.7 mg/dL, ULN 1.2: below K/10 x ULN iff 7 < 1.2 K, i.e. K >= 6."""
    holds = query(record(EX001), "lab_below_uln_times(P, 'bilirubin', 6)")
    fails = query(record(EX001), "lab_below_uln_times(P, 'bilirubin', 5)")
    assert len(holds.answers) == 1 and holds.why_not is None
    assert fails.answers == [] and fails.why_not is not None
    code, out = run(EX001, "lab_below_uln_times(P, 'bilirubin', 6)")
    assert code == 0 and ": holds" in out.splitlines()[0]
    assert "total bilirubin 0.7 mg/dL on 2026-11-16 < 0.6 x ULN (0.72 mg/dL)  [rules/lib/measures.dl:8]" in out
    assert "V * 10" not in out and "0.7 * 10" not in out          # condensed: the record's units only
    code, full = run(EX001, "lab_below_uln_times(P, 'bilirubin', 6)", "--full")
    assert code == 0 and "0.7 * 10 < 6 * 1.2  (V * 10 < K * U)" in full


INELIGIBLE_TAORMINA = "facts/patients/ineligible-taormina.yaml"   # M1 spans T9-T12; six lesions


def test_a_recursive_chain_is_one_line_naming_its_members_and_full_shows_each_step():
    code, out = run(INELIGIBLE_TAORMINA, "longest_vertebral_run(P, N)")
    assert code == 0
    assert "vertebrae T9, T10, T11, T12 involved, consecutive: a run of 4  [rules/lib/lesions.dl:36" in out
    assert "run of 1 consecutive" not in out and len(out.splitlines()) <= 6
    code, full = run(INELIGIBLE_TAORMINA, "longest_vertebral_run(P, N)", "--full")
    assert "run of 1 consecutive vertebrae involved: T9 to T9" in full and len(full.splitlines()) > 20


@pytest.mark.parametrize("asked, holds", [(5, False), (6, True), (7, False)])
def test_an_aggregate_asked_with_another_value_says_the_value_the_rules_give(asked, holds):
    result = query(record(INELIGIBLE_TAORMINA), f"lesion_count(P, {asked})")
    assert bool(result.answers) is holds
    for extra in ([], ["--why-not"]):
        code, out = run(INELIGIBLE_TAORMINA, f"lesion_count(P, {asked})", *extra)
        assert code == 0
        if holds:
            assert out.splitlines()[0].endswith(": holds")
            continue
        assert out.splitlines()[1] == f"  not found: metastatic lesions: {asked}; the rules give metastatic lesions: 6"
        assert "lesion_count" not in out.split("\n", 1)[1].replace("lesion_count(P", "")   # no helper name
        assert f"lesion {asked} in" not in out      # the value is a count, never a lesion id
        assert "metastases[5]" in out                # the six counted, down to the record


def test_a_condensed_refutation_shows_at_most_ten_candidates_per_rule(tmp_path):
    data = yaml.safe_load((ROOT / EX001).read_text())
    first = data["metastases"][0]
    data["metastases"] = [{**first, "id": f"L{i:02}", "size_mm": 60 + i, "site": {"bone": "vertebra", "vertebrae": [f"T{i + 1}"]}}
                          for i in range(12)]
    path = tmp_path / "twelve.yaml"
    path.write_text(json.dumps(data, default=str))
    code, short = run(str(path), "taormina_small(P, L)")
    assert code == 0, short
    assert short.splitlines()[0].endswith(": no answer")
    tried = [line for line in short.splitlines() if ", but not " in line]
    assert len(tried) == 10 and "lesion L00: 60 mm, but not 60 mm <= 50 mm" in tried[0]
    assert "... and 2 more candidates (--why-not shows them all)" in short
    code, full = run(str(path), "taormina_small(P, L)", "--why-not")
    assert sum(", but not " in line for line in full.splitlines()) >= 12


def test_no_answer_says_why_and_why_not_names_the_failing_condition():
    code, short = run(EX001, "lab_below_uln_times(P, 'bilirubin', 5)")
    assert code == 0
    assert short.splitlines()[0].endswith(": does not hold")
    assert "--why-not" in short.splitlines()[-1]
    assert ("latest bilirubin: 0.7 mg/dL on 2026-11-16 (lab1), but not total bilirubin 0.7 mg/dL on 2026-11-16 "
            "< 0.5 x ULN (0.6 mg/dL)") in short
    code, full = run(EX001, "lab_below_uln_times(P, 'bilirubin', 5)", "--why-not")
    assert code == 0
    assert "rule does not apply: lab_below_uln_times(P, T, K) <= " in full
    assert "[rules/lib/measures.dl:8]" in full
    assert "but not 0.7 * 10 < 5 * 1.2  (V * 10 < K * U)" in full
    assert len(full.splitlines()) > len(short.splitlines())


def test_no_answer_for_a_goal_with_variables():
    code, out = run(EX001, "line_number(P, R, N)")      # EX-001 had no metastatic-setting regimen
    assert code == 0
    assert out.splitlines()[0] == "line_number(P, R, N) for patient EX-001 as of 2026-11-23: no answer"
    assert "rule does not apply: line_number(P, R, N) <= (line_rank[P, R] == N)  [rules/lib/therapy.dl:" in out


def test_trial_helpers_by_full_name_or_short_name_with_trial():
    full = query(record(EX001), "taormina_small(P, L)")
    short = query(record(EX001), "small(P, L)", trial="taormina")
    assert [a.args for a in full.answers] == [a.args for a in short.answers]
    sizes = {m["id"]: m.get("size_mm") for m in yaml.safe_load((ROOT / EX001).read_text())["metastases"]}
    assert sorted(a.bindings["L"] for a in full.answers) == sorted(k for k, v in sizes.items() if v is not None and v <= 50)


def test_json_names_goal_answers_rules_and_graph():
    code, out = run(EX001, "metastatic_lines(P, N)", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["document"] == "eligo-query" and doc["goal"] == "metastatic_lines(P, N)"
    assert doc["rules"] == "rules" and len(doc["ruleset_sha256"]) == 64
    assert doc["answers"][0]["args"][0] == "EX-001" and doc["answers"][0]["bindings"].keys() == {"N"}
    ids = {n["id"] for n in doc["explanation"]["nodes"]}
    assert doc["answers"][0]["proof"] in ids and doc["explanation"]["roots"] == ["query:metastatic_lines(P, N)"]


@pytest.mark.parametrize("extra, condensed", [([], True), (["--full"], False)])
def test_json_of_a_recursive_answer_is_condensed_unless_full_and_its_proof_ids_exist(extra, condensed):
    code, out = run(INELIGIBLE_TAORMINA, "vertebral_run(P, 'T9', C, 4)", "--format", "json", *extra)
    assert code == 0, out
    doc = json.loads(out)
    nodes = {n["id"]: n for n in doc["explanation"]["nodes"]}
    assert [a["bindings"] for a in doc["answers"]] == [{"C": "T12"}]
    proof = doc["answers"][0]["proof"]
    assert proof in nodes
    assert proof.startswith("chain:") is condensed        # the chain of runs as one node
    labels = [n["label"] for n in nodes.values()]
    assert any("run of 1 consecutive vertebrae" in label for label in labels) is not condensed


@pytest.mark.parametrize("goal, message", [
    ("metastatic_line(P, N)", "unknown predicate 'metastatic_line'; did you mean metastatic_lines(P, N)"),
    ("longest_vertebra_run(P, N)", "did you mean longest_vertebral_run(P, N)"),
    ("zzzq(P)", "unknown predicate 'zzzq'; expected a base predicate"),
    ("metastatic_lines(P, N, X)", "metastatic_lines takes 2 arguments, got 3; did you mean metastatic_lines(P, N)?"),
    ("lesion(P)", "lesion takes 3 arguments, got 1; did you mean lesion(P, Lesion, Organ)?"),
    ("lab_below_uln_times(P, 'bilirubin', K)", "needs a value for argument 3 (K)"),
])
def test_unknown_predicate_or_wrong_arity_exits_2_with_a_suggestion(goal, message):
    code, out = run(EX001, goal)
    assert code == 2
    assert message in out
    assert "Traceback" not in out


def test_small_is_a_taormina_helper_only_with_trial(tmp_path):
    code, out = run(EX001, "smal(P, L)", "--trial", "taormina")
    assert code == 2 and "did you mean taormina_small(P, L)" in out
    code, out = run(EX001, "small(P, L)", "--trial", "nosuch")
    assert code == 2 and "unknown trial 'nosuch'" in out


INJECTIONS = [
    "__import__('os').system('touch PWNED')",
    "lesion(P, L, O).__class__",
    "lesion(P, L, O).__class__.__bases__[0].__subclasses__()",
    "lesion(P, L, __import__('os').system('touch PWNED'))",
    "lesion(P, L, O, x=__import__('os'))",
    "lesion(P, L, *O)",
    "lesion(P, L, [1, 2])",
    "lesion(P, L, O) & ~lesion(P, L, O)",
    "metastatic_lines(P, N) <= lesion(P, N, X)",
    "(metastatic_lines[P] == len_(X)) <= lesion(P, X, O)",
    "lesion(P, L, O)\nmetastatic_lines(P, 9) <= as_of(P, D)",
    "lesion(P, L, O); import os",
    "lambda: lesion(P, L, O)",
    "os.system('touch PWNED')",
    "lesion(P, L, " + "(" * 200 + "O" + ")" * 200 + ")",
    "lesion(P, L, O)" + " " * MAX_GOAL_CHARS,
    "a" * 100_000,
    "lesion(P, L, O)\x00",
]


@pytest.mark.parametrize("goal", INJECTIONS, ids=range(len(INJECTIONS)))
def test_injection_attempts_are_refused_and_never_run(goal, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["query", str(ROOT / EX001), goal, "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("eligo: GOAL: ") or "GOAL" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert not (tmp_path / "PWNED").exists()
    # nothing was added to the rules: the answer is still the record's
    assert [a.bindings for a in query(record(ROOT / EX001), "metastatic_lines(P, N)").answers] == [{"N": 0}]


@pytest.mark.parametrize("value", ["x') & ~eligible(P", "__import__('os').system('touch PWNED')", "M1\nM2", "{{P}}"])
def test_values_in_a_goal_are_text_constants(value, tmp_path, monkeypatch):
    """A quoted value is a constant, whatever it spells: it matches nothing and runs nothing."""
    monkeypatch.chdir(tmp_path)
    result = query(record(ROOT / EX001), f"lesion(P, {value!r}, O)")
    assert result.answers == [] and result.why_not is not None
    assert result.goal.args[1].value == value
    assert not (tmp_path / "PWNED").exists()


def test_entries_after_as_of_are_set_aside_and_said_or_refused_with_strict_dates():
    """EX-001's labs are dated 2026-11-16: as of 2026-11-10 they were not yet known."""
    result = CliRunner().invoke(main, ["query", EX001, "lab(P, I, 'bilirubin', V, D)", "--as-of", "2026-11-10"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].endswith(": no answer")
    assert "set aside (dated after --as-of 2026-11-10): labs[0] 2026-11-16" in result.stderr
    strict = CliRunner().invoke(main, ["query", EX001, "lab(P, I, 'bilirubin', V, D)", "--as-of", "2026-11-10",
                                       "--strict-dates"])
    assert strict.exit_code == 2
    known = CliRunner().invoke(main, ["query", EX001, "lab(P, I, 'bilirubin', V, D)", "--as-of", "2026-11-16"])
    assert known.exit_code == 0 and "1 answer" in known.stdout and "labs[0]" not in known.stderr
