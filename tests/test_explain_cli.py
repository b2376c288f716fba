"""`eligo explain`: formats (tree with --depth, json, dot, graphml) and clear usage errors."""

import json
import re
import subprocess
import sys

import networkx as nx
import pytest
from click.testing import CliRunner

from reasoner.cli.main import main
from tests.conftest import ROOT

INELIGIBLE = "facts/patients/ineligible-taormina.yaml"
AS_OF = "2026-11-23"


def run(*args):
    result = CliRunner().invoke(main, ["explain", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_tree_is_the_default_and_reads_top_down():
    code, out = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("TAORMINA (NCT05377047), patient EX-002 as of 2026-11-23: INELIGIBLE")
    assert lines[1].startswith("  I3 FAIL (inclusion)")
    # condensed by default: the count, the lesions counted once each, the comparison in words
    from reasoner.logic.rulebook import rulebook

    fired = next(c for c in rulebook().trial("taormina").criterion("I3").lacks if "(N > 5)" in c.text)
    assert lines[2] == f"    I3 not met  [{fired.where}]"
    assert lines[3] == "      6 metastatic lesions  [rules/lib/lesions.dl:14]"
    assert f"        lesion M6 in brain  [{INELIGIBLE}: metastases[5]]" in lines
    assert "      6 > 5" in lines and "(N > 5)" not in out


def test_full_shows_every_rule_application():
    code, out = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "--full")
    assert code == 0
    assert "        6 metastatic lesions: M1, M2, M3, M4, M5, M6  [rules/lib/lesions.dl:" in out
    assert "6 > 5  (N > 5)" in out and "run of 1 consecutive vertebrae involved: T9 to T9" in out
    condensed = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF)[1]
    assert len(condensed.splitlines()) < len(out.splitlines())


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_depth_cuts_the_tree_with_dots(depth):
    code, out = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "--depth", str(depth))
    assert code == 0
    indents = [(len(line) - len(line.lstrip(" "))) // 2 for line in out.splitlines() if line.strip()]
    assert max(indents) == depth + 1          # the "..." line sits one level below the cut
    dots = [line for line in out.splitlines() if line.strip() == "..."]
    assert dots and all((len(d) - 3) // 2 == depth + 1 for d in dots)
    full = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF)[1]
    assert len(out.splitlines()) < len(full.splitlines())


def test_criterion_option_shows_one_criterion():
    code, out = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "--criterion", "E2")
    assert code == 0
    criteria = re.findall(r"^  ([IE]\d+) ", out, re.M)
    assert criteria == ["E2"]


def test_json_is_versioned_and_consistent():
    code, out = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["document"] == "eligo-explanation"
    assert doc["patient"] == "EX-002" and doc["as_of"] == AS_OF and doc["roots"] == ["trial:taormina"]
    ids = [n["id"] for n in doc["nodes"]]
    assert len(ids) == len(set(ids))
    assert all({"id", "kind", "label", "cite"} <= set(n) for n in doc["nodes"])
    assert all(e["from"] in ids and e["to"] in ids for e in doc["edges"])
    assert run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "--format", "json")[1] == out   # reproducible


def test_dot_quotes_every_label(tmp_path, eligible):
    import yaml

    eligible["metastases"][0]["id"] = 'M"1\\'
    path = tmp_path / "quoted.yaml"
    path.write_text(yaml.safe_dump(eligible))
    code, out = run(str(path), "--trial", "taormina", "--as-of", AS_OF, "--format", "dot", "--criterion", "I3")
    assert code == 0 and out.startswith("digraph explanation {") and out.rstrip().endswith("}")
    quoted = r'"(?:[^"\\]|\\.)*"'
    for line in out.splitlines()[4:-1]:
        assert re.fullmatch(rf"  {quoted}( -> {quoted})? \[label={quoted}(, .*)?\];", line), line
    assert r'lesion M\"1\\ in bone' in out


def test_graphml_reads_back_into_networkx(tmp_path):
    code, out = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "--format", "graphml", "--full")
    assert code == 0
    (tmp_path / "g.graphml").write_text(out)
    graph = nx.read_graphml(tmp_path / "g.graphml")
    doc = json.loads(run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "--format", "json", "--full")[1])
    assert graph.number_of_nodes() == len(doc["nodes"]) and graph.number_of_edges() == len(doc["edges"])
    assert graph.nodes["trial:taormina"]["verdict"] == "ineligible"
    assert json.loads(graph.nodes["agg:lesion_count('patient')"]["counted"]) == ["M1", "M2", "M3", "M4", "M5", "M6"]


def test_graphml_of_a_record_with_control_and_bidi_characters_is_well_formed_xml(tmp_path):
    """XML 1.0 cannot hold ESC at all; a file name carrying ESC, U+202E and a zero-width space
    (record values with them are refused at input) is written with visible escapes, and parses."""
    import shutil
    import xml.etree.ElementTree as ET

    name = tmp_path / "ex\x1b[31mample\u200b\u202e.yaml"
    shutil.copy(ROOT / INELIGIBLE, name)
    code, out = run(str(name), "--trial", "taormina", "--as-of", AS_OF, "--format", "graphml", "--full")
    assert code == 0, out
    assert "\x1b" not in out and "\u202e" not in out and "\u200b" not in out
    ET.fromstring(out.encode())          # well-formed
    assert "ex\\x1b[31mample\\u200b\\u202e.yaml" in out
    graph = nx.parse_graphml(out)
    cites = [data.get("cite", "") for _node, data in graph.nodes(data=True)]
    assert any(c.startswith("/") and "ex\\x1b[31mample" in c for c in cites)     # a leaf cites the file, escaped


@pytest.mark.parametrize("args,message", [
    (["--trial", "nope"], "unknown trial 'nope'"),
    (["--trial", "taormina", "--criterion", "I99"], "trial taormina has no criterion 'I99'"),
    (["--trial", "taormina", "--format", "json", "--depth", "2"], "--depth applies to --format tree only"),
    (["--trial", "taormina", "--depth", "-1"], "--depth"),
    ([], "Missing option '--trial'"),
])
def test_usage_errors_exit_2_with_one_clear_message(args, message):
    result = CliRunner().invoke(main, ["explain", INELIGIBLE, "--as-of", AS_OF, *args])
    assert result.exit_code == 2
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert message in text and "Traceback" not in text


def test_a_real_process_reports_a_bad_criterion_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "reasoner", "explain", INELIGIBLE, "--as-of", AS_OF,
                           "--trial", "taormina", "--criterion", "Z1"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("eligo: --criterion: trial taormina has no criterion 'Z1'")
    assert "Traceback" not in proc.stderr


def test_several_trials_in_one_graph():
    from reasoner.logic.rulebook import rulebook

    book = rulebook()
    ids = list(book.trials)
    args = [a for tid in ids + ids[:1] for a in ("--trial", tid)]      # the first id twice: counted once
    code, out = run(INELIGIBLE, *args, "--as-of", AS_OF, "--format", "json")
    assert code == 0
    roots = json.loads(out)["roots"]
    assert roots == [f"trial:{t.id}" + (f"@{s}" if s else "") for t in book.trials.values() for s in t.stages]
