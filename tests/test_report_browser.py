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
        ("OLIGAMI", "secondary", "INDETERMINATE", rows[2][4]),
    ]
    assert rows[2][4].startswith("S1, S2")
    # collapsed at first: the criterion's text shows, its tree does not
    assert seen["openBefore"] is False and seen["treeVisibleBefore"] is False
    assert "OMBC defined as 1-5 metastases" in seen["textBefore"]
    assert "6 metastatic lesions: M1" not in seen["textBefore"]
    # one click on the summary expands it
    assert seen["openAfter"] is True and seen["treeVisibleAfter"] is True
    assert "6 metastatic lesions: M1, M2, M3, M4, M5, M6" in seen["textAfter"]
    assert "lesion M6 in brain" in seen["textAfter"]
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


def test_print_expands_every_tree_and_starts_each_trial_on_a_new_page(tmp_path):
    pdftotext = tool("pdftotext")
    page = write_report(tmp_path, ROOT / INELIGIBLE, "print.html")
    pdf = tmp_path / "print.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, check=True, timeout=120).stdout.decode()
    pages = [p.strip() for p in text.split("\f")]
    # trees are collapsed on screen, yet printed: labels from deep inside them are on paper
    for label in ("lesion M6 in brain", "6 metastatic lesions: M1, M2, M3, M4, M5, M6"):
        assert label in " ".join(text.split()), label
    firsts = [p.splitlines()[0] for p in pages if p]
    for heading in ("TAORMINA — NCT05377047", "OLIGAMI (primary) — NCT06135714", "OLIGAMI (secondary) — NCT06135714"):
        assert heading in firsts, (heading, firsts)
        assert sum(heading in p for p in pages) == 1
