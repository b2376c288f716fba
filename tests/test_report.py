"""`eligo report`: sections of the HTML / Markdown / JSON audit reports, the embedded explanation
graph, the reproducing command, byte-identical output, escaping of hostile records, usage errors."""

import datetime as dt
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser

import pytest
import yaml
from click.testing import CliRunner
from markdown_it import MarkdownIt

from reasoner import __version__
from reasoner.cli.main import main
from reasoner.cli.report import render
from reasoner.explain.condense import condense
from reasoner.explain.graph import explain
from reasoner.logic.rulebook import rulebook
from reasoner.pipeline import load_input
from reasoner.render.graph_export import to_document
from reasoner.render.provenance import code_sha256
from tests.conftest import EXAMPLE, ROOT

INELIGIBLE = "facts/patients/ineligible-taormina.yaml"
INDETERMINATE = "facts/patients/indeterminate-taormina.yaml"
STRATA_BASE = "rules/tests/records/nct04646564-base.yaml"
AS_OF = "2026-11-23"
AS_OF_DATE = dt.date(2026, 11, 23)


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*args):
    result = CliRunner().invoke(main, ["report", *args], catch_exceptions=False)
    return result


def report(path, fmt, trials=("taormina",)):
    return render(load_input(path, AS_OF_DATE), list(trials), fmt)


# -- HTML -------------------------------------------------------------------------------------------

class Tags(HTMLParser):
    """Every start tag with its attributes, and the text content with the tags it sits in."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.stack = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.text.append(data)

    def plain(self):
        return "".join(self.text)


def parse(html):
    parser = Tags()
    parser.feed(html)
    return parser


def article(html, anchor):
    match = re.search(rf'<article class="criterion[^"]*" id="{re.escape(anchor)}">(.*?)</article>', html, re.S)
    assert match, anchor
    return match.group(1)


def test_html_header_names_patient_date_versions_hashes_trials_and_command():
    html = report(INELIGIBLE, "html", ("taormina", "oligami"))
    book = rulebook()
    sha = hashlib.sha256((ROOT / INELIGIBLE).read_bytes()).hexdigest()
    assert html.index('<section id="summary">') < html.index('<section id="header">')    # summary first
    header = html.split('<section id="header">')[1].split("</section>")[0]
    text = unescape(re.sub(r"<[^>]+>", " ", header))
    from importlib.metadata import version

    from reasoner.render.provenance import code_sha256
    for expected in ("EX-002", "Example Patient Two", AS_OF, __version__, book.sha256, sha, INELIGIBLE,
                     "TAORMINA", "NCT05377047", book.trial("taormina").version,
                     "OLIGAMI", "NCT06135714", book.trial("oligami").version,
                     code_sha256(), f"pyDatalog {version('pyDatalog')}", f"networkx {version('networkx')}"):
        assert expected in text, expected
    assert "What-if overrides" not in text        # none for a plain report
    command = f"eligo report {INELIGIBLE} --trial taormina --trial oligami --as-of {AS_OF} --format html"
    assert f'<code class="command" id="command">{command}</code>' in header


def test_html_summary_has_one_row_per_trial_and_stage_with_verdict_and_deciding_criteria():
    html = report(INELIGIBLE, "html", ("taormina", "oligami"))
    summary = html.split('<table class="summary">')[1].split("</table>")[0]
    rows = re.findall(r"<tr class=\"row-([^\"]+)\">(.*?)</tr>", summary, re.S)
    assert [anchor for anchor, _ in rows] == ["t-taormina", "t-oligami-primary", "t-oligami-secondary"]
    cells = {anchor: re.findall(r"<td[^>]*>(.*?)</td>", row) for anchor, row in rows}
    assert cells["t-taormina"][3] == "ineligible"
    assert re.findall(r">(\w+)</a>", cells["t-taormina"][4]) == ["I3", "E2", "E4"]
    assert cells["t-taormina"][5] == "24 / 3 / 0"
    assert cells["t-oligami-primary"][2] == "primary" and cells["t-oligami-primary"][3] == "ineligible"
    assert cells["t-oligami-secondary"][3] == "ineligible"   # fails the primary stage, registration only planned: S1 fails


def test_html_eligible_summary_says_all_criteria_pass():
    html = report(str(EXAMPLE), "html")
    row = re.search(r'<tr class="row-t-taormina">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="verdict v-eligible">eligible</td>' in row
    assert "all 27 criteria pass" in row


def test_html_deciding_criteria_first_with_the_clause_that_fired_then_the_others_in_a_table():
    html = report(INELIGIBLE, "html")
    trial = rulebook().trial("taormina")
    articles = re.findall(r'<article class="criterion c-(\w+)" id="t-taormina-(\w+)">', html)
    rows = re.findall(r'<tr class="criterion-row c-(\w+)" id="t-taormina-(\w+)">', html)
    assert articles == [("fail", "I3"), ("fail", "E2"), ("fail", "E4")]
    assert [cid for _o, cid in rows] == [c.id for c in trial.criteria if c.id not in ("I3", "E2", "E4")]
    assert {o for o, _cid in rows} == {"pass"}
    assert html.index('id="t-taormina-E4"') < html.index('<table class="criteria">')
    i3 = article(html, "t-taormina-I3")
    crit = trial.criterion("I3")
    fired = next(c for c in crit.lacks if "(N > 5)" in c.text)
    assert "I3 &middot; inclusion &middot;" in i3 and '<span class="outcome o-fail">FAIL</span>' in i3
    assert '<span class="mark">deciding</span>' in i3
    assert " ".join(crit.text.split()) in unescape(i3)
    assert " ".join(crit.reading.split()) in unescape(i3)
    assert f"<dt>Rule that fired</dt><dd><code>{fired.where}</code></dd>" in i3 and fired.where != f"{crit.file}:{crit.line}"
    facts = unescape(i3.split("<dt>Key facts</dt>")[1].split("</dd>")[0])
    assert "6 metastatic lesions [rules/lib/lesions.dl:" in re.sub(r"<[^>]+>", "", facts)
    assert "6 > 5" in facts and "N > 5" not in facts
    tree = unescape(i3.split('<details class="derivation">')[1])
    assert f"[{INELIGIBLE}: metastases[5]]" in tree and "lesion M6 in brain" in tree
    # a criterion that does not decide the verdict: one row, its fired clause, its proof folded in the row
    i2 = re.search(r'<tr class="criterion-row c-pass" id="t-taormina-I2">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", i2, re.S)
    assert cells[0] == "I2" and "Age" in cells[1] and cells[2] == "pass"
    assert cells[3] == f"<code>{trial.criterion('I2').holds[0].where}</code>"
    assert '<details class="derivation">' in cells[4] and "age 62 years on 2026-12-03" in cells[4]


def test_html_unknown_criterion_lists_missing_inputs_and_tree():
    html = report(INDETERMINATE, "html")
    judged = json.loads(report(INDETERMINATE, "json"))
    unknown = [c for c in judged["trials"][0]["criteria"] if c["outcome"] == "unknown"]
    assert unknown
    for crit in unknown:
        body = article(html, f"t-taormina-{crit['id']}")
        assert "<dt>What would decide it</dt>" in body
        if not crit["missing"]:
            assert ">Missing inputs</dt>" not in body
            continue
        listed = re.findall(r"<li><code>([^<]*)</code></li>", body.split('<dt class="missing">Missing inputs</dt>')[1].split("</dd>")[0])
        assert [unescape(p) for p in listed] == crit["missing"]
        for path in crit["missing"]:
            assert "not recorded: " + path in unescape(body) or "not enough to decide: " + path in unescape(body)


def test_html_repeated_node_links_to_its_first_showing():
    """Condensed proofs rarely repeat a node; the full graph (shared sub-proofs) does, and a report
    built on it links each repeat to its first showing."""
    from reasoner.pipeline import judge
    from reasoner.render.html import render_html
    from reasoner.render.report_model import build_report

    record = load_input(INELIGIBLE, AS_OF_DATE)
    ids = ["nct04646564", "taormina", "cosmo", "oligami"]
    html = render_html(build_report(judge(record, ids), explain(record, ids)))
    links = re.findall(r'<a class="repeat" href="#([^"]+)">\(as above\)</a>', html)
    assert links, "no repeated node in the examples any more: pick another record"
    ids = set(re.findall(r' id="([^"]+)"', html))
    assert all(link in ids for link in links)
    assert len(ids) == len(re.findall(r' id="', html)), "html ids must be unique"


def test_html_is_self_contained_no_script_no_fetch():
    html = report(INELIGIBLE, "html")
    tags = parse(html).tags
    names = {tag for tag, _ in tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "form", "base", "input"}
    for _tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")]
        for key in ("href", "src", "action"):
            assert attrs.get(key, "#").startswith("#"), attrs
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]
    assert "url(" not in html and "@import" not in html and "http://" not in html and "https://" not in html


def test_html_print_css_expands_deciding_trees_and_leaves_the_others_out():
    css = report(INELIGIBLE, "html").split("<style>")[1].split("</style>")[0]
    printing = css.split("@media print")[1]
    assert ".criterion details.derivation::details-content { content-visibility: visible; display: contents; }" in printing
    assert "table.criteria td.proof, table.criteria th:last-child { display: none; }" in printing
    assert "h2 { font-size: 11pt; margin: .5rem 0 .2rem; break-after: avoid; }" in printing   # a trial heading stays with its content


def test_staged_trial_criteria_get_unique_anchors_per_stage():
    html = report(INELIGIBLE, "html", ("oligami",))
    assert 'id="t-oligami-primary-E2"' in html and 'id="t-oligami-secondary-E2"' in html


def test_every_link_of_the_report_has_its_anchor():
    for path in sorted((ROOT / "facts" / "patients").glob("*.yaml")):
        html = report(path, "html")
        ids = set(re.findall(r'\bid="([^"]+)"', html))
        targets = set(re.findall(r'href="#([^"]+)"', html))
        assert targets and targets <= ids, (path.name, sorted(targets - ids))


def test_a_criterion_judged_alike_in_two_stages_is_printed_once_and_linked():
    """NC-001 is undecided for both OLIGAMI stages on the same exclusions: the secondary stage names
    them and links to the primary stage's blocks; a criterion judged differently would be printed."""
    html = report(ROOT / "facts" / "patients" / "eligible-nct04646564.yaml", "html", ("oligami",))
    secondary = html.split('id="t-oligami-secondary"')[1]
    line = re.search(r'<p class="repeated">(.*?)</p>', secondary).group(1)
    assert '<a id="t-oligami-secondary-E1" href="#t-oligami-primary-E1">E1</a>' in line
    assert "judged the same way, for the same reasons, as in OLIGAMI (primary)" in line
    assert '<article class="criterion c-unknown has-to-decide" id="t-oligami-secondary-E1"' not in html
    assert '<article class="criterion c-unknown has-to-decide" id="t-oligami-primary-E1"' in html
    assert '<article class="criterion c-unknown has-to-decide" id="t-oligami-secondary-S1"' in html


def test_strata_of_an_eligible_nct04646564_patient():
    html = report(STRATA_BASE, "html", ("nct04646564",))
    strata = html.split('<table class="strata">')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", strata)
    assert [(n, unescape(v)) for n, v in rows] == [("visceral_metastasis", "yes"), ("metastases", ">2"),
                                                    ("hormone_receptor", "positive")]
    markdown = report(STRATA_BASE, "md", ("nct04646564",))
    assert "### Randomisation strata" in markdown and "| metastases | &gt;2 |" not in markdown
    assert "| metastases | >2 |" in markdown
    doc = json.loads(report(STRATA_BASE, "json", ("nct04646564",)))
    assert doc["trials"][0]["strata"] == {"visceral_metastasis": "yes", "metastases": ">2", "hormone_receptor": "positive"}
    assert "Randomisation strata" not in report(INELIGIBLE, "html", ("nct04646564",))


# -- Markdown --------------------------------------------------------------------------------------

def _i3_cite():
    """TAORMINA I3's file:line as the rule file has it now (not a number that moves with every edit above it)."""
    crit = rulebook().trials["taormina"].criterion("I3")
    return f"{crit.file}:{crit.line}"


def test_markdown_sections_and_nested_tree():
    text = report(INELIGIBLE, "md")
    assert text.startswith("# Eligibility report: EX-002\n")
    assert "## Header" in text and "## Summary" in text and "## TAORMINA: INELIGIBLE" in text
    assert text.index("## Summary") < text.index("## Header")
    assert "| TAORMINA | NCT05377047 |  | INELIGIBLE | I3, E2, E4 | 24 / 3 / 0 |" in text
    assert f"eligo report {INELIGIBLE} --trial taormina --as-of {AS_OF} --format md\n" in text
    assert text.index("### Deciding criteria") < text.index("#### I3 inclusion: FAIL (deciding)") < text.index("### Other criteria")
    i3 = text.split("#### I3 inclusion: FAIL (deciding)")[1].split("#### ")[0]
    fired = next(c for c in rulebook().trial("taormina").criterion("I3").lacks if "(N > 5)" in c.text)
    assert f"- **Rule that fired:** `{fired.where}`" in i3
    assert "- **Key facts:**\n  - 6 metastatic lesions [`rules/lib/lesions.dl:14`]\n" in i3
    lines = i3.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("  - I3 not met"))
    assert lines[top + 1].startswith("    - 6 metastatic lesions")
    assert lines[top + 2].startswith("      - lesion M1 in bone")
    assert re.search(r"^\| I2 \| Age ≥18 years old\\?\. \| pass \| `rules/trials/taormina\.yaml:\d+` \|$", text, re.M)
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    # the tree is a list nested in lists, three levels deep
    assert re.search(r"<li>I3 not met.*?<ul>\s*<li>6 metastatic lesions.*?<ul>\s*<li>lesion M1 in bone", rendered, re.S)
    assert rendered.count("<table>") == 2     # the summary, the other criteria


# -- JSON ------------------------------------------------------------------------------------------

def test_json_embeds_the_explanation_graph_in_its_documented_format():
    doc = json.loads(report(INELIGIBLE, "json", ("taormina", "oligami")))
    assert doc["schema_version"] == 1 and doc["document"] == "eligo-report"
    assert doc["command"] == f"eligo report {INELIGIBLE} --trial taormina --trial oligami --as-of {AS_OF} --format json"
    graph = condense(explain(load_input(INELIGIBLE, AS_OF_DATE), ["taormina", "oligami"]))
    assert doc["explanation"] == json.loads(json.dumps(to_document(graph)))
    assert doc["explanation"]["condensed"] is True
    assert doc["code_sha256"] == code_sha256() and doc["dependencies"]["pyDatalog"] == "0.22.4"
    assert doc["overrides"] == []
    assert doc["explanation"]["document"] == "eligo-explanation"
    nodes = {n["id"] for n in doc["explanation"]["nodes"]}
    assert [(t["trial"], t["stage"], t["verdict"]) for t in doc["trials"]] == [
        ("taormina", None, "ineligible"), ("oligami", "primary", "ineligible"), ("oligami", "secondary", "ineligible")]
    taormina = doc["trials"][0]
    assert taormina["deciding"] == ["I3", "E2", "E4"] and taormina["node"] in nodes
    i3 = next(c for c in taormina["criteria"] if c["id"] == "I3")
    assert i3["outcome"] == "fail" and i3["deciding"] is True and i3["cite"] == _i3_cite()
    fired = next(c for c in rulebook().trial("taormina").criterion("I3").lacks if "(N > 5)" in c.text)
    assert i3["rule"] == fired.where
    assert i3["key_facts"][0] == {"label": "6 metastatic lesions", "cite": "rules/lib/lesions.dl:14"}
    assert i3["text"].startswith("OMBC defined as 1-5 metastases") and i3["reading"]
    assert all(c["node"] in nodes for t in doc["trials"] for c in t["criteria"])


def test_fhir_import_warnings_are_listed_in_the_report():
    bundle = "tests/data/fhir/mcode-examples/Observation-mCODETNMPathologicalPrimaryTumorCategoryExample01.json"
    result = run(bundle, "--trial", "taormina", "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["import_warnings"]
    assert warnings and all(f"warning: {w}" in result.stderr for w in warnings)
    markdown = run(bundle, "--trial", "taormina", "--as-of", AS_OF, "--format", "md").stdout
    section = markdown.split("- **Import warnings")[1].split("**Command")[0]
    items = [line for line in section.splitlines()[1:] if line.startswith("  - ")]
    assert len(items) == len(warnings)
    plain = parse(MarkdownIt("commonmark").render(markdown)).plain()
    assert all(w in plain for w in warnings)
    html = run(bundle, "--trial", "taormina", "--as-of", AS_OF, "--format", "html").stdout
    assert '<ul class="warnings"><li>' in html
    # a YAML record has nothing to warn about
    assert json.loads(report(INELIGIBLE, "json"))["import_warnings"] == []
    assert "Import warnings" not in report(INELIGIBLE, "html") + report(INELIGIBLE, "md")


# -- reproducibility ------------------------------------------------------------------------------

def test_embedded_command_reproduces_the_same_bytes(tmp_path):
    out = tmp_path / "r.json"
    assert run(INELIGIBLE, "--as-of", AS_OF, "--format", "json", "-o", str(out)).exit_code == 0
    first = out.read_bytes()
    command = shlex.split(json.loads(first)["command"])
    assert command[:2] == ["eligo", "report"]
    assert command.count("--trial") == len(rulebook().trials)   # the default (every trial) spelled out
    again = run(*command[2:])
    assert again.exit_code == 0 and again.stdout_bytes == first


def test_default_as_of_is_today_and_named_in_the_command(tmp_path):
    record = tmp_path / "minimal.yaml"
    record.write_text("schema_version: 1\npatient: {id: MIN-1}\n")
    result = run(str(record), "--trial", "taormina", "--format", "md")
    assert result.exit_code == 0
    assert f"--as-of {dt.date.today().isoformat()} --format md" in result.stdout


def test_reports_are_byte_identical_across_processes(tmp_path):
    """Two fresh interpreters with different hash seeds (set order) give the same bytes."""
    script = ("import datetime, sys; from reasoner.pipeline import load_input; from reasoner.render import html, "
              "markdown, report_json, report_model;"
              f"r = report_model.report_of(load_input({INELIGIBLE!r}, datetime.date(2026, 11, 23)), ['taormina', 'oligami']);"
              "[open(f'{sys.argv[1]}.{f}', 'w', encoding='utf-8', newline='').write(render(r)) for f, render in "
              "(('html', html.render_html), ('md', markdown.render_markdown), ('json', report_json.render_json))]")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / seed)], cwd=ROOT,
                             env=dict(os.environ, PYTHONHASHSEED=seed)) for seed in ("1", "2")]
    assert [p.wait(timeout=300) for p in runs] == [0, 0]
    for fmt in ("html", "md", "json"):
        first, second = (tmp_path / f"1.{fmt}").read_bytes(), (tmp_path / f"2.{fmt}").read_bytes()
        assert first == second, fmt
        assert first == report(INELIGIBLE, fmt, ("taormina", "oligami")).encode("utf-8"), fmt


# -- hostile records -------------------------------------------------------------------------------

HOSTILE_ID = "<script>alert(1)</script>"
HOSTILE_NAME = "<img src=x onerror=alert(2)> | `tick` *bold* [x](javascript:alert(3)) $m$ # h & &amp;"
HOSTILE_LESION = "M1') <= lesion(P, L, O) & `x` | <b>*y*</b>"


@pytest.fixture
def hostile(tmp_path, eligible):
    eligible["patient"]["id"] = HOSTILE_ID
    eligible["patient"]["name"] = HOSTILE_NAME
    eligible["metastases"][0]["id"] = HOSTILE_LESION
    eligible["metastases"][2]["site"]["description"] = "<script>alert(4)</script>"
    path = tmp_path / "a <b>&`x`.yaml"
    path.write_text(yaml.safe_dump(eligible, sort_keys=False))
    return path


def test_hostile_record_is_judged_as_data(hostile):
    doc = json.loads(report(hostile, "json"))
    assert doc["patient"] == HOSTILE_ID and doc["patient_name"] == HOSTILE_NAME
    assert doc["trials"][0]["verdict"] == "eligible"     # the Datalog-looking lesion id is just an id
    assert any(HOSTILE_LESION in n["label"] for n in doc["explanation"]["nodes"])
    assert shlex.split(doc["command"])[2] == str(hostile)


def test_hostile_record_shows_as_text_in_html(hostile):
    html = report(hostile, "html")
    parsed = parse(html)
    assert {t for t, _ in parsed.tags} <= {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3",
                                           "dl", "dt", "dd", "code", "br", "section", "table", "thead", "tbody", "tr",
                                           "th", "td", "a", "p", "span", "article", "details", "summary", "ul", "li", "div"}
    text = parsed.plain()
    for value in (HOSTILE_ID, HOSTILE_NAME, HOSTILE_LESION, str(hostile)):
        assert value in text
    assert "<script>" not in html and "<img" not in html and "<b>" not in html


def test_markdown_folds_the_proof_of_every_criterion_in_the_table():
    text = report(INELIGIBLE, "md", ("taormina",))
    table = re.findall(r"^\| (I\d+|E\d+) \|", text, re.M)
    folds = re.findall(r"^<summary>(\w+) (\w+): derivation tree \((\d+)\)</summary>$", text, re.M)
    assert table and [f[0] for f in folds] == table
    assert all(int(n) > 0 for _id, _outcome, n in folds)
    i2 = text.split("<summary>I2 pass: derivation tree")[1].split("</details>")[0]
    assert "- I2 met [`rules/trials/taormina.yaml:" in i2 and "patient.birth_date" in i2


def test_hostile_record_shows_as_text_in_markdown(hostile):
    data = yaml.safe_load(hostile.read_text())
    data["metastases"][0]["organ"] = "brain"      # E2 fails: the hostile lesion is a key fact
    data["metastases"][0].pop("site", None)
    hostile.write_text(yaml.safe_dump(data, sort_keys=False))
    text = report(hostile, "md")
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    tags = {t for t, _ in parse(rendered).tags}
    assert tags <= {"h1", "h2", "h3", "h4", "ul", "li", "p", "strong", "em", "code", "pre", "table", "thead", "tbody",
                    "tr", "th", "td", "details", "summary"}
    # the only HTML Eligo writes itself: the folds of the proofs, whose summaries hold no record value
    raw = [line for line in text.splitlines() if line.startswith("<")]
    assert raw and all(line in ("<details>", "</details>") or re.fullmatch(r"<summary>[A-Z]\d+ \w+: derivation tree "
                                                                            r"\(\d+\)</summary>", line) for line in raw), raw
    plain = parse(rendered).plain()
    for value in (HOSTILE_ID, HOSTILE_NAME, f"lesion {HOSTILE_LESION} in brain", str(hostile)):
        assert value in plain
    # the summary table keeps its six columns
    summary = rendered.split("<tbody>")[1].split("</tbody>")[0]
    assert all(len(re.findall(r"<td>", row)) == 6 for row in re.findall(r"<tr>(.*?)</tr>", summary, re.S))


@pytest.mark.parametrize("value", ["a\nb", "# not a heading", "1. not a list", "- nor this", "> nor a quote",
                                   "a | b", "``code``", "x_y_z *w*", "&amp; &#60;", "<!-- c -->", "$x$", "~~s~~"])
def test_markdown_escape_shows_each_value_literally(value):
    from reasoner.render.markdown import code, md

    shown = "a\\nb" if value == "a\nb" else value
    for text in (f"- {md(value, lead=True)}\n", f"| h |\n|---|\n| {md(value)} |\n", f"- x {code(value)}\n"):
        rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
        assert shown in parse(rendered).plain(), (text, rendered)


# -- command line ----------------------------------------------------------------------------------

def test_the_documented_command_writes_a_report_for_each_example_patient(tmp_path):
    """README's command, with its glob expanded as a shell would and reports/ moved to tmp_path."""
    line = next(text for text in (ROOT / "README.md").read_text().splitlines()
                if text.startswith("eligo report facts/patients/"))
    assert line in (ROOT / "docs" / "reports.md").read_text()
    words = []
    for word in shlex.split(line)[2:]:
        words += sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(word)) if "*" in word else [word]
    records = [w for w in words if w.startswith("facts/patients/")]
    assert records == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "facts" / "patients").glob("*.yaml"))
    out = tmp_path / "reports"
    words[words.index("-o") + 1] = f"{out}/"
    result = run(*words)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(os.path.basename(r).replace(".yaml", ".html") for r in records)
    for record in records:
        written = out / os.path.basename(record).replace(".yaml", ".html")
        body = written.read_text()
        assert body.startswith("<!DOCTYPE html>") and body.count('<section class="trial"') >= len(rulebook().trials)
        assert f"eligo report {record} --trial " in body
        assert f"wrote {written}" in result.stderr


def test_file_output_equals_stdout(tmp_path):
    out = tmp_path / "r.html"
    assert run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "-o", str(out)).exit_code == 0
    stdout = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "-o", "-")
    assert out.read_bytes() == stdout.stdout_bytes
    assert out.read_text().startswith("<!DOCTYPE html>")   # html is the default format


@pytest.mark.parametrize("args, message", [
    ([INELIGIBLE, INDETERMINATE], "2 records give 2 reports; expected a folder"),
    ([INELIGIBLE, INDETERMINATE, "-o", "one.html"], "-o one.html: 2 records give 2 reports; expected a folder"),
    ([INELIGIBLE, "--trial", "nope"], "unknown trial 'nope'; expected one of:"),
    ([INELIGIBLE, "--as-of", "2026-13-01"], "expected a date YYYY-MM-DD"),
    ([INELIGIBLE, "--format", "pdf"], "'pdf' is not one of"),
    (["missing.yaml"], "missing.yaml"),
])
def test_usage_errors_exit_2_with_a_message(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_same_file_name_in_a_folder_is_refused_before_writing(tmp_path):
    (tmp_path / "a").mkdir()
    copy = tmp_path / "a" / "ineligible-taormina.yaml"
    copy.write_bytes((ROOT / INELIGIBLE).read_bytes())
    out = tmp_path / "out"
    result = run(INELIGIBLE, str(copy), "-o", f"{out}/")
    assert result.exit_code == 2
    assert f"would both be written to {out / 'ineligible-taormina.html'}" in result.output
    assert not out.exists()


def test_a_trial_named_twice_is_reported_once():
    result = run(INELIGIBLE, "--trial", "taormina", "--trial", "taormina", "--as-of", AS_OF, "--format", "json")
    doc = json.loads(result.stdout)
    assert [t["trial"] for t in doc["trials"]] == ["taormina"]
    assert doc["command"].count("--trial") == 1


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(INELIGIBLE, "--trial", "taormina", "--as-of", AS_OF, "-o", str(blocker / "r.html"))
    assert result.exit_code == 2
    assert f"-o {blocker / 'r.html'}: cannot write the report" in result.output
