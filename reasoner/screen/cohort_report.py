"""The cohort report: one self-contained HTML page over `eligo screen` result rows (docs/reports.md).

Per trial and stage: the verdict counts; the attrition funnel in protocol order (reasoner/screen/
funnel.py counts it: where patients are lost); each criterion alone, its fail and unknown counts
independent of order (which criterion is strictest, and which is most often undecidable); and the
record inputs whose absence leaves most verdicts indeterminate. Charts are inline SVG written from
the counts (a bar's width is proportional to its count, every number is a <text>), so the page needs
no script and no network, prints (the tables behind the charts are folded on screen and left out
of print: the charts' text holds the same counts), and a test can read the charts back.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from html import escape

from .. import __version__
from ..errors import InputError
from ..render.provenance import code_sha256, dependencies
from .funnel import Funnel

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
VERDICTS = ("eligible", "ineligible", "indeterminate")
TOP_MISSING = 10
BAR_WIDTH = 420          # px of a 100 % bar
ROW_HEIGHT = 18
LABEL_WIDTH = 70
_ITEM = re.compile(r"\[\d+\]")

CSS = """
:root { --fg: #1d2329; --muted: #5b6670; --line: #d5dbe0; --pass: #1f7a3a; --fail: #b3261e; --unknown: #8a5a00; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: var(--fg);
  max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .8rem; }
h2 { font-size: 1.25rem; margin: 1.8rem 0 .5rem; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.02rem; margin: 1rem 0 .3rem; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85em; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: .3rem 0 .8rem; }
th, td { border: 1px solid var(--line); padding: .2rem .45rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
svg { display: block; margin: .3rem 0 .6rem; font: 11px system-ui, Arial, sans-serif; }
svg .fail { fill: #d9534f; } svg .unknown { fill: #f0ad4e; } svg .pass { fill: #5cb85c; } svg .rest { fill: #dde3e8; }
svg text { fill: #1d2329; }
details > summary { cursor: pointer; color: var(--muted); }
.legend span { display: inline-block; width: .8em; height: .8em; margin: 0 .25em 0 .8em; vertical-align: middle; }
@page { size: A4; margin: 12mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { max-width: none; padding: 0; font-size: 8.5pt; }
  section.trial { break-inside: avoid-page; }
  svg { break-inside: avoid; width: 62%; height: auto; margin: .1rem 0 .3rem; }
  h2 { font-size: 11pt; margin: .6rem 0 .2rem; } h3 { font-size: 9pt; margin: .3rem 0 .1rem; }
  p { margin: .2rem 0; }
  details { display: none; }      /* the charts print every count and percentage as text */
  h2 { break-after: avoid; } h3 { break-after: avoid; }
}
""".strip()


@dataclass
class StageCounts:
    trial: str
    stage: object
    verdicts: dict = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    failing: dict = field(default_factory=dict)     # criterion -> patients failing it (any order)
    unknown: dict = field(default_factory=dict)     # criterion -> patients unknown on it
    missing: dict = field(default_factory=dict)     # generic record path -> indeterminate verdicts it leaves open

    @property
    def patients(self):
        return sum(self.verdicts.values())


class CohortCounts:
    """Counts over result rows, one StageCounts and one StageFunnel per (trial, stage)."""

    def __init__(self, book):
        self.book = book
        self.funnel = Funnel(book)
        self.stages = {key: StageCounts(*key) for key in self.funnel.stages}
        self.rows = 0
        self.with_missing = 0      # rows that list their missing inputs (eligo screen --report)
        self.patients = set()

    def add(self, row, where="rows"):
        key = (row.get("trial"), row.get("stage") or None)
        if key not in self.stages:
            raise InputError(f"{where}: trial {row.get('trial')!r} stage {row.get('stage')!r} is not one the rules "
                             f"define; expected rows of `eligo screen` with this rule set")
        verdict = row.get("verdict")
        if verdict not in VERDICTS:
            raise InputError(f"{where}: verdict: expected one of {', '.join(VERDICTS)}, got {verdict!r}")
        failing, unknown = _ids(row, "failing", where), _ids(row, "unknown", where)
        known = {cid for cid, _kind in self.funnel.stages[key].steps}
        stray = sorted((set(failing) | set(unknown)) - known)
        if stray:
            raise InputError(f"{where}: criteria {', '.join(stray)} are not criteria of {key[0]}"
                             f"{' (' + key[1] + ')' if key[1] else ''}; expected rows of this rule set")
        counts = self.stages[key]
        counts.verdicts[verdict] += 1
        for cid in failing:
            counts.failing[cid] = counts.failing.get(cid, 0) + 1
        for cid in unknown:
            counts.unknown[cid] = counts.unknown.get(cid, 0) + 1
        if "missing" in row:
            self.with_missing += 1
        if verdict == "indeterminate":
            for path in sorted({_ITEM.sub("[]", p) for p in _ids(row, "missing", where, required=False)}):
                counts.missing[path] = counts.missing.get(path, 0) + 1
        self.funnel.add({"trial": key[0], "stage": key[1], "failing": failing, "unknown": unknown})
        self.rows += 1
        self.patients.add(row.get("source") or row.get("patient"))


def _ids(row, name, where, required=True):
    value = row.get(name)
    if value is None and not required:
        return []
    if isinstance(value, str):     # CSV rows join ids with ';'
        return [v for v in value.split(";") if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: {name}: expected a list of criterion ids (or record paths), got {value!r}")
    return value


def read_rows(path):
    """(bytes, rows) of a JSONL rows file; a line that is not a row object is an InputError naming it."""
    try:
        raw = open(path, "rb").read()
    except OSError as err:
        raise InputError(f"{path}: cannot read the rows: {err.strerror or err}") from None
    rows = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{number}: expected a JSON object per line (eligo screen --out rows), got "
                             f"invalid JSON: {err.msg}") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}")
        rows.append((f"{path}:{number}", row))
    if not rows:
        raise InputError(f"{path}: no result rows; expected the JSONL rows of `eligo screen --out`")
    return raw, rows


def cohort_report(path, book):
    """The HTML cohort report of the rows file at path."""
    raw, rows = read_rows(path)
    counts = CohortCounts(book)
    for where, row in rows:
        counts.add(row, where)
    return render(counts, path, hashlib.sha256(raw).hexdigest())


# -- layout ---------------------------------------------------------------------------------------

def esc(value):
    return escape(str(value), quote=True)


def pct(part, whole):
    return f"{100 * part / whole:.1f}%" if whole else "–"


def render(counts, source, sha256):
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f'<meta name="generator" content="eligo {esc(__version__)}">',
             f"<title>Cohort report: {esc(source)}</title>", f"<style>\n{CSS}\n</style>", "</head>", "<body>",
             f"<header><h1>Cohort report: {esc(source)}</h1></header>",
             _summary(counts), _header(counts, source, sha256)]
    for (tid, stage), stage_counts in counts.stages.items():
        if stage_counts.patients:
            parts.append(_trial(counts, tid, stage, stage_counts))
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _name(counts, tid, stage):
    return esc(counts.book.trial(tid).name) + (f" ({esc(stage)})" if stage else "")


def _anchor(tid, stage):
    return f"t-{tid}" + (f"-{stage}" if stage else "")


def _summary(counts):
    head = "<th>Trial</th><th>Stage</th><th>Patients</th>" + "".join(f"<th>{v}</th>" for v in VERDICTS)
    rows = []
    for (tid, stage), c in counts.stages.items():
        if not c.patients:
            continue
        cells = "".join(f'<td class="n v-{v}">{c.verdicts[v]} ({pct(c.verdicts[v], c.patients)})</td>' for v in VERDICTS)
        rows.append(f'<tr><td><a href="#{esc(_anchor(tid, stage))}">{esc(counts.book.trial(tid).name)}</a></td>'
                    f'<td>{esc(stage or "")}</td><td class="n">{c.patients}</td>{cells}</tr>')
    return (f'<section id="summary">\n<h2>Summary</h2>\n<table class="summary">\n<thead><tr>{head}</tr></thead>\n'
            f'<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>\n</section>")


def _header(counts, source, sha256):
    rows = [("Result rows", f"<code>{esc(source)}</code> ({counts.rows} rows, {len(counts.patients)} records)"),
            ("Rows SHA-256", f"<code>{esc(sha256)}</code>"),
            ("Rule set SHA-256", f"<code>{esc(counts.book.sha256)}</code>"),
            ("Eligo version", esc(__version__)),
            ("Code SHA-256", f"<code>{esc(code_sha256())}</code>"),
            ("Dependencies", esc(", ".join(f"{n} {v}" for n, v in dependencies()))),
            ("Command", f"<code>eligo report --cohort {esc(source)} -o FILE.html</code>")]
    body = "\n".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<section id="header">\n<h2>Header</h2>\n<dl class="meta">\n{body}\n</dl>\n</section>'


def _trial(counts, tid, stage, c):
    funnel = counts.funnel.stages[(tid, stage)]
    steps = list(funnel.rows())
    n = c.patients
    parts = [f'<section class="trial" id="{esc(_anchor(tid, stage))}">',
             f"<h2>{_name(counts, tid, stage)}: {n} patients</h2>",
             f"<p>eligible {c.verdicts['eligible']} ({pct(c.verdicts['eligible'], n)}), ineligible "
             f"{c.verdicts['ineligible']} ({pct(c.verdicts['ineligible'], n)}), indeterminate "
             f"{c.verdicts['indeterminate']} ({pct(c.verdicts['indeterminate'], n)})</p>",
             "<h3>Attrition funnel (criteria in protocol order)</h3>",
             '<p class="legend"><span style="background:#dde3e8"></span>remaining<span style="background:#d9534f">'
             '</span>lost at this criterion</p>',
             _funnel_svg(tid, stage, steps, n),
             "<details><summary>Funnel table</summary>", _funnel_table(steps, n), "</details>",
             "<h3>Each criterion alone (independent of order)</h3>",
             '<p class="legend"><span style="background:#d9534f"></span>fail<span style="background:#f0ad4e"></span>'
             "unknown</p>",
             _alone_svg(tid, stage, funnel.steps, c, n),
             "<details><summary>Criterion table</summary>", _alone_table(funnel.steps, c, n), "</details>"]
    if c.verdicts["indeterminate"] and not counts.with_missing:
        parts += ["<h3>Inputs whose absence leaves most verdicts indeterminate</h3>",
                  "<p>Not counted: these rows do not list missing inputs (rows of <code>eligo screen --report</code> "
                  "do).</p>"]
    elif c.missing:
        top = sorted(c.missing.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_MISSING]
        indeterminate = c.verdicts["indeterminate"]
        rows = "".join(f'<tr><td><code>{esc(path)}</code></td><td class="n">{k}</td><td class="n">{pct(k, indeterminate)}</td></tr>'
                       for path, k in top)
        parts += ["<h3>Inputs whose absence leaves most verdicts indeterminate</h3>",
                  '<table class="missing"><thead><tr><th>record input</th><th>indeterminate verdicts</th>'
                  f"<th>of {indeterminate}</th></tr></thead><tbody>{rows}</tbody></table>"]
    parts.append("</section>")
    return "\n".join(parts)


def _funnel_table(steps, n):
    head = "".join(f"<th>{h}</th>" for h in ("step", "criterion", "entering", "failed", "unknown", "remaining", "%"))
    rows = "".join(f'<tr><td class="n">{s["step"]}</td><td>{esc(s["criterion"])}</td><td class="n">{s["entering"]}</td>'
                   f'<td class="n">{s["failed"]}</td><td class="n">{s["unknown"]}</td><td class="n">{s["remaining"]}</td>'
                   f'<td class="n">{pct(s["remaining"], n)}</td></tr>' for s in steps)
    return f'<table class="funnel"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _alone_table(steps, c, n):
    head = "".join(f"<th>{h}</th>" for h in ("criterion", "kind", "fail", "%", "unknown", "%"))
    rows = "".join(f"<tr><td>{esc(cid)}</td><td>{esc(kind)}</td><td class=\"n\">{c.failing.get(cid, 0)}</td>"
                   f"<td class=\"n\">{pct(c.failing.get(cid, 0), n)}</td><td class=\"n\">{c.unknown.get(cid, 0)}</td>"
                   f"<td class=\"n\">{pct(c.unknown.get(cid, 0), n)}</td></tr>" for cid, kind in steps)
    return f'<table class="alone"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _width(count, n):
    return round(BAR_WIDTH * count / n, 1) if n else 0


def _funnel_svg(tid, stage, steps, n):
    """Per step: a grey bar for the patients remaining after it, a red one for those lost at it."""
    height = ROW_HEIGHT * len(steps) + 6
    width = LABEL_WIDTH + BAR_WIDTH + 150
    out = [f'<svg class="chart funnel" data-trial="{esc(tid)}" data-stage="{esc(stage or "")}" role="img" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f"<title>Attrition funnel: patients remaining after each criterion, of {n}</title>"]
    for i, s in enumerate(steps):
        y = 3 + i * ROW_HEIGHT
        rest, lost = _width(s["remaining"], n), _width(s["failed"], n)
        out.append(f'<g class="step" data-criterion="{esc(s["criterion"])}" data-remaining="{s["remaining"]}" '
                   f'data-failed="{s["failed"]}">'
                   f'<text x="0" y="{y + 12}">{esc(s["criterion"])}</text>'
                   f'<rect class="rest" x="{LABEL_WIDTH}" y="{y}" width="{rest}" height="{ROW_HEIGHT - 4}"/>'
                   f'<rect class="fail" x="{LABEL_WIDTH + rest}" y="{y}" width="{lost}" height="{ROW_HEIGHT - 4}"/>'
                   f'<text x="{LABEL_WIDTH + rest + lost + 4}" y="{y + 12}">{s["remaining"]} ({pct(s["remaining"], n)})'
                   f'{" −" + str(s["failed"]) if s["failed"] else ""}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _alone_svg(tid, stage, steps, c, n):
    """Per criterion: a red bar for the patients failing it, an amber one for those unknown on it."""
    height = ROW_HEIGHT * len(steps) + 6
    width = LABEL_WIDTH + BAR_WIDTH + 150
    out = [f'<svg class="chart alone" data-trial="{esc(tid)}" data-stage="{esc(stage or "")}" role="img" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f"<title>Each criterion alone: patients failing it and unknown on it, of {n}</title>"]
    for i, (cid, _kind) in enumerate(steps):
        y = 3 + i * ROW_HEIGHT
        failing, unknown = c.failing.get(cid, 0), c.unknown.get(cid, 0)
        fw, uw = _width(failing, n), _width(unknown, n)
        out.append(f'<g class="criterion" data-criterion="{esc(cid)}" data-fail="{failing}" data-unknown="{unknown}">'
                   f'<text x="0" y="{y + 12}">{esc(cid)}</text>'
                   f'<rect class="fail" x="{LABEL_WIDTH}" y="{y}" width="{fw}" height="{ROW_HEIGHT - 4}"/>'
                   f'<rect class="unknown" x="{LABEL_WIDTH + fw}" y="{y}" width="{uw}" height="{ROW_HEIGHT - 4}"/>'
                   f'<text x="{LABEL_WIDTH + fw + uw + 4}" y="{y + 12}">fail {failing} ({pct(failing, n)}), '
                   f'unknown {unknown} ({pct(unknown, n)})</text></g>')
    out.append("</svg>")
    return "".join(out)
