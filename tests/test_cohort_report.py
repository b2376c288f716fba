"""The cohort report (reasoner/screen/cohort_report.py): counts per trial and stage, the funnel in
protocol order, each criterion alone, the inputs whose absence leaves verdicts open; the HTML with
its inline SVG charts, read back in headless Chromium; `eligo report --cohort` and `eligo screen
--report`, with clear errors."""

import json
import re
import subprocess
from html import unescape

import pytest
from click.testing import CliRunner

from reasoner.cli.main import main
from reasoner.errors import InputError
from reasoner.logic.rulebook import rulebook
from reasoner.screen.cohort_report import BAR_WIDTH, CohortCounts, cohort_report
from tests.conftest import ROOT
from tests.test_report_browser import chromium, tool

AS_OF = "2026-11-23"


def row(verdict, failing=(), unknown=(), missing=(), trial="taormina", stage=None, source="x"):
    return {"source": source, "patient": source, "trial": trial, "stage": stage, "verdict": verdict,
            "failing": list(failing), "unknown": list(unknown), "missing": list(missing)}


ROWS = [
    row("eligible", source="a"),
    row("ineligible", failing=["I3"], source="b"),
    row("ineligible", failing=["I3", "E4"], unknown=["I7"], missing=["performance_status"], source="c"),
    row("indeterminate", unknown=["I7", "E4"], missing=["performance_status", "metastases[0].site.vertebrae"], source="d"),
    row("indeterminate", unknown=["E4"], missing=["metastases[1].site.vertebrae"], source="e"),
]


@pytest.fixture
def rows_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_counts_per_criterion_are_independent_of_order_and_the_funnel_is_sequential():
    counts = CohortCounts(rulebook())
    for r in ROWS:
        counts.add(r)
    taormina = counts.stages[("taormina", None)]
    assert taormina.verdicts == {"eligible": 1, "ineligible": 2, "indeterminate": 2} and taormina.patients == 5
    assert taormina.failing == {"I3": 2, "E4": 1}                  # c fails E4 too, though I3 removed it first
    assert taormina.unknown == {"I7": 2, "E4": 2}
    # missing inputs count only verdicts they leave open; list items count once per field
    assert taormina.missing == {"performance_status": 1, "metastases[].site.vertebrae": 2}
    steps = {s["criterion"]: s for s in counts.funnel.stages[("taormina", None)].rows()}
    assert steps["I3"]["failed"] == 2 and steps["I3"]["remaining"] == 3
    assert steps["E4"]["failed"] == 0 and steps["E4"]["entering"] == 3   # c left at I3: not counted again
    assert counts.stages[("cosmo", None)].patients == 0


@pytest.mark.parametrize("bad,message", [
    ({"trial": "nope", "stage": None, "verdict": "eligible", "failing": [], "unknown": []}, "trial 'nope'"),
    ({"trial": "taormina", "stage": None, "verdict": "maybe", "failing": [], "unknown": []}, "verdict: expected one of"),
    ({"trial": "taormina", "stage": None, "verdict": "ineligible", "failing": ["Z9"], "unknown": []},
     "criteria Z9 are not criteria of taormina"),
    ({"trial": "taormina", "stage": None, "verdict": "ineligible", "failing": "I3", "unknown": 3},
     "unknown: expected a list"),
])
def test_a_row_that_is_not_one_of_this_rule_set_is_refused(bad, message):
    with pytest.raises(InputError) as err:
        CohortCounts(rulebook()).add(bad, "rows.jsonl:4")
    assert str(err.value).startswith("rows.jsonl:4: ") and message in str(err.value)


def test_html_summary_charts_and_tables_hold_the_counts(rows_file):
    html = cohort_report(rows_file, rulebook())
    summary = html.split('<table class="summary">')[1].split("</table>")[0]
    assert re.findall(r"<tr><td><a[^>]*>([^<]+)</a></td><td>([^<]*)</td><td class=\"n\">(\d+)</td>", summary) == [
        ("TAORMINA", "", "5")]
    assert "1 (20.0%)" in summary and "2 (40.0%)" in summary
    funnel = re.search(r'<svg class="chart funnel" data-trial="taormina".*?</svg>', html, re.S).group(0)
    i3 = re.search(r'<g class="step" data-criterion="I3" data-remaining="3" data-failed="2">(.*?)</g>', funnel).group(1)
    widths = [float(w) for w in re.findall(r'width="([\d.]+)"', i3)]
    assert widths == [BAR_WIDTH * 3 / 5, BAR_WIDTH * 2 / 5]
    assert "3 (60.0%) −2" in unescape(i3)
    alone = re.search(r'<svg class="chart alone".*?</svg>', html, re.S).group(0)
    e4 = re.search(r'<g class="criterion" data-criterion="E4" data-fail="1" data-unknown="2">(.*?)</g>', alone).group(1)
    assert [float(w) for w in re.findall(r'width="([\d.]+)"', e4)] == [BAR_WIDTH / 5, BAR_WIDTH * 2 / 5]
    assert "fail 1 (20.0%), unknown 2 (40.0%)" in e4
    missing = html.split('<table class="missing">')[1].split("</table>")[0]
    assert re.findall(r"<code>([^<]+)</code></td><td class=\"n\">(\d+)</td>", missing) == [
        ("metastases[].site.vertebrae", "2"), ("performance_status", "1")]
    assert "<script" not in html and "http" not in html.split("</style>")[1]


def test_report_cohort_command_writes_the_same_bytes_twice(tmp_path, rows_file):
    runner = CliRunner()
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for out in (first, second):
        result = runner.invoke(main, ["report", "--cohort", str(rows_file), "-o", str(out)])
        assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("args,message", [
    (["facts/patients/eligible-taormina.yaml"], "give no RECORD or --trial with it"),
    (["-o", "x.json"], "a cohort report is one HTML page"),
    (["-o", "ROWS"], "is the input"),
])
def test_report_cohort_usage_errors_exit_2(tmp_path, rows_file, args, message):
    args = [str(rows_file) if a == "ROWS" else (str(tmp_path / a) if a == "x.json" else a) for a in args]
    before = rows_file.read_bytes()
    result = CliRunner().invoke(main, ["report", "--cohort", str(rows_file), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert rows_file.read_bytes() == before


def test_report_cohort_bad_rows_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROWS[0]) + "\n{not json\n")
    result = CliRunner().invoke(main, ["report", "--cohort", str(bad)])
    assert result.exit_code == 2 and f"{bad}:2: expected a JSON object per line" in result.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    result = CliRunner().invoke(main, ["report", "--cohort", str(empty)])
    assert result.exit_code == 2 and "no result rows" in result.output


def test_screen_report_needs_jsonl_rows(tmp_path):
    result = CliRunner().invoke(main, ["screen", str(ROOT / "facts" / "patients"), "--as-of", AS_OF,
                                       "--report", str(tmp_path / "c.html")])
    assert result.exit_code == 2 and "--report needs --out FILE.jsonl" in result.output
    result = CliRunner().invoke(main, ["screen", str(ROOT / "facts" / "patients"), "--as-of", AS_OF,
                                       "--out", str(tmp_path / "r.csv"), "--report", str(tmp_path / "c.html")])
    assert result.exit_code == 2 and "--report needs --out FILE.jsonl" in result.output


def screened(tmp_path):
    out, report = tmp_path / "rows.jsonl", tmp_path / "cohort.html"
    result = CliRunner().invoke(main, ["screen", str(ROOT / "facts" / "patients"), "--as-of", AS_OF, "--workers", "1",
                                       "--out", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    return out, report


def test_screen_report_rows_list_missing_inputs_and_the_report_counts_them(tmp_path):
    out, report = screened(tmp_path)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(isinstance(r["missing"], list) for r in rows)
    open_rows = [r for r in rows if r["verdict"] == "indeterminate"]
    assert open_rows and all(r["missing"] for r in open_rows)
    assert all(r["missing"] == [] for r in rows if not r["unknown"])
    html = report.read_text()
    assert '<table class="missing">' in html and "Not counted" not in html
    assert html == cohort_report(out, rulebook())          # the same page as eligo report --cohort


def test_rows_without_missing_inputs_say_so(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "missing"}) + "\n" for r in ROWS))
    html = cohort_report(path, rulebook())
    assert "Not counted: these rows do not list missing inputs" in html and '<table class="missing">' not in html


PROBE = """<script>
(function () {
  var out = {};
  out.firstSection = document.querySelector('body > section').id;
  out.summary = Array.prototype.map.call(document.querySelectorAll('table.summary tbody tr'),
    function (row) { return Array.prototype.map.call(row.cells, function (c) { return c.innerText; }); });
  var details = document.querySelector('#t-taormina details');
  var table = details.querySelector('table');
  out.tableVisibleBefore = table.checkVisibility();
  details.querySelector('summary').click();
  out.tableVisibleAfter = table.checkVisibility();
  var bars = document.querySelectorAll('#t-taormina svg.funnel g.step');
  out.funnel = Array.prototype.map.call(bars, function (g) {
    var rects = g.querySelectorAll('rect');
    return [g.dataset.criterion, +g.dataset.remaining, +g.dataset.failed,
            rects[0].getBBox().width, rects[1].getBBox().width, g.querySelectorAll('text')[1].textContent];
  });
  out.svgVisible = document.querySelector('#t-taormina svg.funnel').checkVisibility();
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def test_cohort_report_in_a_browser_summary_folding_and_chart(tmp_path):
    rows, report = screened(tmp_path)
    n_records = len(list((ROOT / "facts" / "patients").glob("*.yaml")))
    html = report.read_text(encoding="utf-8")
    html, replaced = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n', "", html)
    assert replaced == 1
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    seen = json.loads(unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)))
    assert seen["firstSection"] == "summary"
    taormina = next(r for r in seen["summary"] if r[0] == "TAORMINA")
    verdicts = [json.loads(line)["verdict"] for line in rows.read_text().splitlines() if '"taormina"' in line]
    assert int(taormina[2]) == n_records == len(verdicts)
    assert taormina[3].startswith(f"{verdicts.count('eligible')} (")
    assert taormina[5].startswith(f"{verdicts.count('indeterminate')} (")
    assert seen["tableVisibleBefore"] is False and seen["tableVisibleAfter"] is True
    assert seen["svgVisible"]
    remaining_before = n_records
    for _criterion, remaining, failed, rest_width, lost_width, label in seen["funnel"]:
        assert remaining == remaining_before - failed            # sequential: each step starts where the last ended
        assert abs(rest_width - BAR_WIDTH * remaining / n_records) < 0.5
        assert abs(lost_width - BAR_WIDTH * failed / n_records) < 0.5
        assert label.startswith(f"{remaining} (")
        remaining_before = remaining


def test_cohort_report_prints_with_its_charts(tmp_path):
    _rows, report = screened(tmp_path)
    pdf = tmp_path / "cohort.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri())
    text = subprocess.run([tool("pdftotext"), str(pdf), "-"], capture_output=True, check=True, timeout=120).stdout.decode()
    info = subprocess.run([tool("pdfinfo"), str(pdf)], capture_output=True, check=True, timeout=60).stdout.decode()
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert pages <= 10, pages
    flat = " ".join(text.split())
    assert "Summary" in text.split("\f")[0]
    assert "Attrition funnel" in flat and "Each criterion alone" in flat
    assert re.search(r"fail \d+ \(\d+\.\d%\), unknown \d+ \(\d+\.\d%\)", flat)   # SVG text is real text in print
    assert "Funnel table" not in flat and "step criterion entering" not in flat    # tables left out of print
