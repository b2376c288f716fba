"""The HTML report in a real browser (headless Chromium, Debian's `chromium`; .ci/run installs it).

The report has no script of its own, so the checks run a probe script appended to a copy of the
report (with its Content-Security-Policy removed, which would block the probe) and read the
probe's findings from the DOM Chromium dumps after load: what the summary table shows, that a
criterion's derivation tree is hidden until its <summary> is clicked and shown after, that hostile
record values render as text and run nothing. A print to PDF (read back with pdftotext) shows the
print CSS: trees expanded without a click, each trial starting a new page.

Skipped only outside CI when the tools are missing; in CI (env CI set) a missing tool fails.
"""

import json
import os
import re
import shutil
import subprocess
from html import unescape

import pytest

from reasoner.cli.report import render
from reasoner.pipeline import load_input
from tests.conftest import AS_OF, ROOT

INELIGIBLE = "facts/patients/ineligible-taormina.yaml"
PWNED = "<script>document.documentElement.dataset.pwned = 'yes'</script>"

PROBE = """<script>
(function () {
  var out = {};
  out.summary = Array.prototype.map.call(document.querySelectorAll('table.summary tbody tr'),
    function (row) { return Array.prototype.map.call(row.cells, function (c) { return c.innerText; }); });
  out.summaryVisible = document.querySelector('table.summary').checkVisibility();
  var crit = document.getElementById('t-taormina-I3');
  var details = crit.querySelector('details.derivation');
  var tree = details.querySelector('ul.tree');
  out.openBefore = details.open;
  out.treeVisibleBefore = tree.checkVisibility();
  out.textBefore = crit.innerText;
  details.querySelector('summary').click();
  out.openAfter = details.open;
  out.treeVisibleAfter = tree.checkVisibility();
  out.textAfter = crit.innerText;
  var row = document.getElementById('t-taormina-I2');
  var rowDetails = row.querySelector('details.derivation');
  out.rowCells = Array.prototype.map.call(row.cells, function (c) { return c.innerText; });
  out.rowOpenBefore = rowDetails.open;
  out.rowTreeVisibleBefore = rowDetails.querySelector('ul.tree').checkVisibility();
  rowDetails.querySelector('summary').click();
  out.rowTreeVisibleAfter = rowDetails.querySelector('ul.tree').checkVisibility();
  out.rowTextAfter = row.innerText;
  out.order = Array.prototype.map.call(document.querySelectorAll('#t-taormina article.criterion, #t-taormina tr.criterion-row'),
    function (e) { return e.id; });
  out.firstSection = document.querySelector('body > section').id;
  out.h1 = document.querySelector('h1').innerText;
  out.scripts = document.scripts.length;
  out.images = document.images.length;
  out.pwned = document.documentElement.dataset.pwned || null;
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def tool(*names):
    found = next((shutil.which(n) for n in names if shutil.which(n)), None)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{names[0]} is missing; .ci/run installs it (apt-get install chromium poppler-utils)")
    pytest.skip(f"{names[0]} is not installed (apt-get install chromium poppler-utils)")


def chromium(tmp_path, *args):
    command = [tool("chromium", "chromium-browser"), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-extensions", "--disable-sync", "--no-first-run",
               "--mute-audio", f"--user-data-dir={tmp_path / 'profile'}", *args]
    run = subprocess.run(command, capture_output=True, timeout=240)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    return run.stdout.decode("utf-8")


def write_report(tmp_path, record, name, probe=False, keep_csp=False):
    html = render(load_input(record, AS_OF), ["taormina", "oligami"], "html")
    if probe:
        if not keep_csp:
            html, n = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n', "", html)
            assert n == 1
        html = html.replace("</body>", PROBE + "\n</body>")
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path


def probe(tmp_path, page):
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    return json.loads(unescape(found.group(1))) if found else None, dom


def test_summary_shows_verdicts_and_clicking_a_criterion_shows_its_tree(tmp_path):
    seen, _dom = probe(tmp_path, write_report(tmp_path, ROOT / INELIGIBLE, "report.html", probe=True))
    assert seen is not None, "the probe did not run"
    assert seen["summaryVisible"]
    rows = [[cell.strip() for cell in row] for row in seen["summary"]]
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
        ("TAORMINA", "", "INELIGIBLE", "I3, E2, E4"),       # CSS upper-cases the verdict on screen
        ("OLIGAMI", "primary", "INELIGIBLE", "P5, P8"),
        ("OLIGAMI", "secondary", "INELIGIBLE", "S1"),        # fails the primary stage, registration only planned
    ]
    assert seen["firstSection"] == "summary"                  # the summary comes first
    # deciding criteria first, then the others as table rows, each in protocol order
    assert seen["order"][:3] == ["t-taormina-I3", "t-taormina-E2", "t-taormina-E4"]
    assert "t-taormina-I2" in seen["order"][3:] and len(seen["order"]) == 27
    # a deciding criterion: text, fired clause and key facts show; its proof is folded
    assert seen["openBefore"] is False and seen["treeVisibleBefore"] is False
    assert "OMBC defined as 1-5 metastases" in seen["textBefore"]
    assert "6 metastatic lesions" in seen["textBefore"] and "Rule that fired" in seen["textBefore"]
    assert "lesion M6 in brain" not in seen["textBefore"]
    # one click on the summary expands it
    assert seen["openAfter"] is True and seen["treeVisibleAfter"] is True
    assert "lesion M6 in brain" in seen["textAfter"]
    # a passing criterion: one row (id, text, outcome, rule line), its proof folded until clicked
    assert seen["rowCells"][0] == "I2" and seen["rowCells"][2].lower() == "pass"
    assert seen["rowCells"][3].startswith("rules/trials/taormina.yaml:")
    assert seen["rowOpenBefore"] is False and seen["rowTreeVisibleBefore"] is False
    assert seen["rowTreeVisibleAfter"] is True and "62 years" in seen["rowTextAfter"]
    assert seen["scripts"] == 1 and seen["images"] == 0


def test_hostile_record_renders_as_text_and_runs_nothing(tmp_path, eligible):
    import yaml

    eligible["patient"]["id"] = PWNED
    eligible["patient"]["name"] = "<img src=x onerror=alert(2)>"
    eligible["metastases"][0]["id"] = "<b>M1</b>"
    record = tmp_path / "hostile.yaml"
    record.write_text(yaml.safe_dump(eligible, sort_keys=False))
    seen, dom = probe(tmp_path, write_report(tmp_path, record, "hostile.html", probe=True))
    assert seen is not None
    assert seen["h1"] == f"Eligibility report: {PWNED}"
    assert seen["pwned"] is None and seen["scripts"] == 1 and seen["images"] == 0
    assert "<b>" not in dom and "&lt;b&gt;M1&lt;/b&gt;" in dom


def test_content_security_policy_blocks_any_script(tmp_path):
    seen, _dom = probe(tmp_path, write_report(tmp_path, ROOT / INELIGIBLE, "csp.html", probe=True, keep_csp=True))
    assert seen is None


def print_pdf(tmp_path, page):
    pdf = tmp_path / (page.stem + ".pdf")
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    text = subprocess.run([tool("pdftotext"), str(pdf), "-"], capture_output=True, check=True, timeout=120).stdout.decode()
    info = subprocess.run([tool("pdfinfo"), str(pdf)], capture_output=True, check=True, timeout=60).stdout.decode()
    return text, int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def test_print_shows_deciding_proofs_and_leaves_the_others_folded(tmp_path):
    text, _pages = print_pdf(tmp_path, write_report(tmp_path, ROOT / INELIGIBLE, "print.html"))
    flat = " ".join(text.split())
    # a deciding criterion's proof is printed without a click, a passing one's is not
    assert "lesion M6 in brain" in flat and "6 metastatic lesions" in flat
    assert "age 62 years on 2026-12-03" not in flat
    for heading in ("TAORMINA — NCT05377047", "OLIGAMI (primary) — NCT06135714", "OLIGAMI (secondary) — NCT06135714"):
        assert sum(heading in line for line in text.splitlines()) == 1, heading

@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "facts" / "patients").glob("*.yaml")))
def test_one_patient_and_all_five_trials_print_on_at_most_ten_pages(tmp_path, name):
    """Every example patient, every trial: failing criteria print whole, undecided ones as checklist
    items (text, rule, the first two ways to decide them), passing ones as table rows."""
    html = render(load_input(ROOT / "facts" / "patients" / f"{name}.yaml", AS_OF), [], "html")
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    text, pages = print_pdf(tmp_path, page)
    assert pages <= 10, pages
    assert "Summary" in text.split("\f")[0]
    for trial in ("COSMO", "NCT04158843", "NCT04646564", "OLIGAMI", "TAORMINA"):
        assert trial in text


def test_an_undecided_criterion_prints_as_a_checklist_item(tmp_path):
    """NC-001 (undecided for COSMO and OLIGAMI): COSMO E4's text, rule and ways to decide print; its
    reading and missing paths (on screen) do not; a list longer than two says how many more there are."""
    html = render(load_input(ROOT / "facts" / "patients" / "eligible-nct04646564.yaml", AS_OF), [], "html")
    page = tmp_path / "checklist.html"
    page.write_text(html, encoding="utf-8")
    text, _pages = print_pdf(tmp_path, page)
    flat = " ".join(text.split())
    assert "Reading used Clinician judgment; attestation cosmo/E4" not in flat      # reading: screen only
    assert "investigator's answer for cosmo/E4: yes -> exclusion E4 applies" in flat and "What would decide it" in flat
    assert not re.search(r"(?<!enough )to decide: ", flat)     # the row's heading says it once
    assert "more ways to decide it (on screen, or: eligo worklist)" in flat
    assert "Missing inputs" not in flat
    # the exclusions OLIGAMI's secondary stage shares with the primary are named, not printed again
    assert "E1, E2, E3, E5, E6, E7, E8, E9, E10, E11, E12, E13: judged the same way, for the same reasons, as in OLIGAMI (primary)." in flat
