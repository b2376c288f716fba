"""The audit report as one self-contained HTML file: inline CSS, no script, no network fetch.

Every piece of text goes through html.escape (record values reach the report through the patient
id, the file name and the graph's labels); a Content-Security-Policy meta tag forbids scripts and
fetches as a second line of defence. The summary comes first; per trial, the criteria that decide
against the patient with the clause that fired and its key facts, then the others in a compact
table. Proofs fold with <details>; print CSS prints the deciding criteria's proofs, leaves the
others' out (their rule line is in the table), and starts each trial on a new page.
"""

from html import escape

from ..errors import visible
from .report_model import WORDS

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CSS = """
:root { --fg: #1d2329; --muted: #5b6670; --line: #d5dbe0; --pass: #1f7a3a; --fail: #b3261e; --unknown: #8a5a00; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); max-width: 75rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .6rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
code, .cite, .command { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85em; }
.cite { color: var(--muted); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
dl.meta ul.warnings { margin: 0; padding-left: 1.1rem; }
.command { display: block; background: #f3f5f7; border: 1px solid var(--line); padding: .4rem .6rem; white-space: pre-wrap;
  overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
.verdict { font-weight: 700; text-transform: uppercase; letter-spacing: .03em; }
.v-eligible, .o-pass { color: var(--pass); }
.v-ineligible, .o-fail { color: var(--fail); }
.v-indeterminate, .o-unknown { color: var(--unknown); }
.criterion { border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 4px; padding: .6rem .8rem;
  margin: .7rem 0; break-inside: avoid-page; }
.criterion.c-pass { border-left-color: var(--pass); }
.criterion.c-fail { border-left-color: var(--fail); }
.criterion.c-unknown { border-left-color: var(--unknown); }
.criterion dl { display: grid; grid-template-columns: 9rem 1fr; gap: .1rem .8rem; margin: .2rem 0 .4rem; }
.criterion dt { color: var(--muted); }
.criterion dd { margin: 0; overflow-wrap: anywhere; }
.criterion dd ul { margin: 0; padding-left: 1.1rem; }
ul.to-decide li.more { display: none; }
.outcome { font-weight: 700; text-transform: uppercase; }
.mark { font-size: .75rem; border: 1px solid currentColor; border-radius: 3px; padding: 0 .3rem; margin-left: .4rem;
  color: var(--muted); font-weight: 400; }
details.derivation > summary { cursor: pointer; font-weight: 600; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 1.2rem; }
ul.tree { padding-left: .4rem; margin-top: .3rem; }
ul.tree li { margin: .1rem 0; overflow-wrap: anywhere; }
ul.tree li > details > summary { cursor: pointer; }
ul.tree li.leaf::before { content: "\\2022"; color: var(--muted); margin: 0 .35rem 0 -.9rem; }
.k-fact > .label, .k-fact > details > summary > .label { color: #0b4f8a; }
.k-missing > .label, .k-absent > .label { color: var(--unknown); }
.k-comparison > .label { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; }
.repeat { color: var(--muted); font-style: italic; }
section.trial { margin-top: 2.5rem; }
ul.facts { margin: 0; padding-left: 1.1rem; }
table.criteria td.text { max-width: 34rem; }
table.criteria td.proof details > summary { font-weight: 400; color: var(--muted); }
table.criteria td.proof { min-width: 9rem; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 8pt; line-height: 1.25; }
  h1 { font-size: 13pt; margin-bottom: .2rem; }
  h2 { font-size: 11pt; margin: .5rem 0 .2rem; break-after: avoid; }
  h3 { font-size: 9pt; margin: .3rem 0 .1rem; break-after: avoid; }
  section.trial { margin-top: .8rem; }
  th, td { padding: .05rem .25rem; }
  .criterion { padding: .1rem .4rem; margin: .2rem 0; break-inside: auto; border-left-width: 3px; font-size: 7.5pt; }
  .criterion h3 { break-after: avoid; }
  .criterion dd.reading { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; }
  .criterion h3 { margin: 0; }
  .criterion dl { grid-template-columns: 8rem 1fr; gap: 0 .6rem; margin: 0; }
  table.criteria { font-size: 7.5pt; margin: .2rem 0 .4rem; }
  .criterion dd ul, ul.facts { padding-left: .9rem; }
  .criterion dd ul.missing li { display: inline; }
  .criterion dd ul.missing li + li::before { content: ", "; }
  .criterion details.derivation::details-content { content-visibility: visible; display: contents; }
  .criterion details > summary { list-style: none; }
  .criterion details > summary::-webkit-details-marker { display: none; }
  .criterion.c-unknown details.derivation { display: none; }
  /* an undecided criterion prints as a checklist item: its text, rule and the first ways to decide
     it; the reading, the missing paths and the rest of the list stay on screen (and in eligo worklist) */
  .criterion.c-unknown .reading, .criterion.c-unknown.has-to-decide .missing { display: none; }
  .criterion.c-unknown dd.text { display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
  .criterion.c-unknown ul.to-decide li:nth-child(n+3):not(.more) { display: none; }
  .criterion.c-unknown ul.to-decide li.more { display: list-item; font-style: italic; }
  table.criteria td.proof, table.criteria th:last-child { display: none; }
  table.criteria td.text { max-width: none; }
  table.criteria .clamp { display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
  table.criteria tr { break-inside: avoid; }
  dl.meta { font-size: 7.5pt; }
  a { color: inherit; text-decoration: none; }
}
""".strip()

FORMAT = "html"
PRINTED_TO_DECIDE = 2     # ways to decide an unknown criterion shown in print (all on screen)


def esc(value):
    """HTML-escaped, with control, bidi-override and zero-width characters shown as escapes (\\u202e):
    a value cannot reorder or hide what the reader sees. Newlines and tabs are white space in HTML."""
    return escape(visible(value, keep="\n\t"), quote=True)


def render_html(report):
    title = f"{WORDS['title']}: {report.patient} ({report.as_of})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="eligo ' + esc(report.tool_version) + '">',
        f"<title>{esc(title)}</title>",
        f"<style>\n{CSS}\n</style>",
        "</head>",
        "<body>",
        f'<header><h1>{esc(WORDS["title"])}: {esc(report.patient)}</h1></header>',
        _summary(report),
        _header(report),
    ]
    earlier = {}
    for trial in report.trials:
        parts.append(_trial(trial, earlier))
        for crit in trial.criteria:
            earlier.setdefault((trial.trial, crit.id), (trial, crit))
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _header(report):
    rows = [(WORDS["patient"], esc(report.patient))]
    if report.patient_name is not None:
        rows.append((WORDS["name"], esc(report.patient_name)))
    rows += [
        (WORDS["as_of"], esc(report.as_of)),
        (WORDS["input"], f"<code>{esc(report.input)}</code>"),
        (WORDS["input_sha256"], f"<code>{esc(report.input_sha256)}</code>"),
        (WORDS["ruleset_sha256"], f"<code>{esc(report.ruleset_sha256)}</code>"),
        (WORDS["rules"], f"<code>{esc(report.rules)}</code>"),
        (WORDS["tool_version"], esc(report.tool_version)),
        (WORDS["code_sha256"], f"<code>{esc(report.code_sha256)}</code>"),
        (WORDS["dependencies"], esc(", ".join(f"{name} {version}" for name, version in report.dependencies))),
        (WORDS["trials"], "<br>".join(_trial_line(t) for t in _unique_trials(report))),
        (WORDS["command"], f'<code class="command" id="command">{esc(report.command(FORMAT))}</code>'),
    ]
    if report.overrides:
        rows.append((WORDS["overrides"], '<ul class="warnings">' + "".join(f"<li>{esc(o)}</li>" for o in report.overrides)
                     + "</ul>"))
    if report.warnings:
        rows.append((WORDS["warnings"], '<ul class="warnings">' + "".join(f"<li>{esc(w)}</li>" for w in report.warnings)
                     + "</ul>"))
    if report.set_aside:
        rows.append((WORDS["set_aside"], '<ul class="warnings">' + "".join(
            f"<li><code>{esc(e.path)}</code> {esc(e.date.isoformat())}: {esc(e.why)}</li>" for e in report.set_aside) + "</ul>"))
    body = "\n".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return (f'<section id="header">\n<h2>{esc(WORDS["header"])}</h2>\n'
            f'<dl class="meta">\n{body}\n</dl>\n</section>')


def _unique_trials(report):
    seen, out = set(), []
    for trial in report.trials:
        if trial.trial not in seen:
            seen.add(trial.trial)
            out.append(trial)
    return out


def _trial_line(trial):
    parts = [esc(trial.name), esc(trial.title)]
    if trial.registry:
        parts.append(f"{esc(WORDS['registry'])} {esc(trial.registry)}")
    parts.append(f"{esc(WORDS['protocol_version'])}: {esc(trial.protocol_version)}")
    return " &mdash; ".join(p for p in parts if p)


def _trial_name(trial):
    return esc(trial.name) + (f" ({esc(trial.stage)})" if trial.stage else "")


def _summary(report):
    head = "".join(f"<th>{esc(WORDS[k])}</th>" for k in ("trial", "registry", "stage", "verdict", "deciding", "counts"))
    rows = []
    for trial in report.trials:
        counts = " / ".join(str(trial.count(o)) for o in ("pass", "fail", "unknown"))
        rows.append(
            f'<tr class="row-{esc(trial.anchor)}"><td><a href="#{esc(trial.anchor)}">{esc(trial.name)}</a></td>'
            f"<td>{esc(trial.registry or '')}</td><td>{esc(trial.stage or '')}</td>"
            f'<td class="verdict v-{esc(trial.verdict)}">{esc(trial.verdict)}</td>'
            f"<td>{_deciding(trial)}</td><td>{esc(counts)}</td></tr>")
    return (f'<section id="summary">\n<h2>{esc(WORDS["summary"])}</h2>\n<table class="summary">\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</section>")


def _deciding(trial):
    if trial.verdict == "eligible":
        return esc(WORDS["all_pass"].format(n=len(trial.criteria)))
    anchors = {c.id: c.anchor for c in trial.criteria}
    return ", ".join(f'<a href="#{esc(anchors[cid])}">{esc(cid)}</a>' for cid in trial.deciding)


def _same(a, b):
    """Whether a criterion judged in two stages of a trial came out the same way, for the same reasons."""
    return (a.outcome, a.rule, a.facts, a.missing, a.to_decide, a.text) == (b.outcome, b.rule, b.facts, b.missing, b.to_decide, b.text)


def _trial(trial, earlier):
    """A trial (stage) section; a deciding criterion judged the same way in an earlier stage of the
    trial is named with a link to it, not printed again."""
    registry = f" &mdash; {esc(trial.registry)}" if trial.registry else ""
    parts = [f'<section class="trial" id="{esc(trial.anchor)}">',
             f"<h2>{_trial_name(trial)}{registry}</h2>",
             f'<p class="verdict-line"><span class="verdict v-{esc(trial.verdict)}">{esc(trial.verdict)}</span>'
             f" &mdash; {esc(trial.label)}</p>",
             f"<p>{esc(trial.title)}. {esc(WORDS['protocol_version'])}: {esc(trial.protocol_version)}</p>"]
    if trial.strata is not None:
        rows = "".join(f"<tr><td>{esc(name)}</td><td>{esc(WORDS['strata_unknown'] if value is None else value)}</td></tr>"
                       for name, value in trial.strata)
        parts.append(f'<h3>{esc(WORDS["strata"])}</h3>\n<table class="strata"><thead><tr><th>{esc(WORDS["stratum"])}'
                     f'</th><th>{esc(WORDS["value"])}</th></tr></thead><tbody>{rows}</tbody></table>')
    shown = [c for c in trial.criteria if c.deciding and c.outcome != "pass"]
    repeated = [(c, earlier[(trial.trial, c.id)]) for c in shown
                if (trial.trial, c.id) in earlier and _same(c, earlier[(trial.trial, c.id)][1])]
    if shown:
        parts.append(f'<h3>{esc(WORDS["deciding_criteria"])}</h3>')
        parts += [_criterion(crit) for crit in shown if crit not in [c for c, _e in repeated]]
    if repeated:
        links = ", ".join(f'<a id="{esc(c.anchor)}" href="#{esc(first.anchor)}">{esc(c.id)}</a>' for c, (_t, first) in repeated)
        stage = _trial_name(repeated[0][1][0])
        parts.append(f'<p class="repeated">{links}: {esc(WORDS["same_as_stage"])} {stage}.</p>')
    others = [c for c in trial.criteria if c not in shown]
    if others:
        parts.append(f'<h3>{esc(WORDS["other_criteria"] if shown else WORDS["criteria"])}</h3>')
        parts.append(_compact(others))
    parts.append("</section>")
    return "\n".join(parts)


def _criterion(crit):
    """A deciding criterion: its text, reading, the clause that fired, its key facts inline, and the
    proof folded."""
    mark = f'<span class="mark">{esc(WORDS["deciding_mark"])}</span>' if crit.deciding else ""
    rows = [(WORDS["text"], esc(crit.text), "text"), (WORDS["reading"], esc(crit.reading), "reading"),
            (WORDS["rule_fired"] if crit.outcome != "unknown" else WORDS["rule"], f'<code>{esc(crit.rule)}</code>')]
    if crit.facts:
        rows.append((WORDS["key_facts"], '<ul class="facts">' + "".join(f"<li>{_label(label, cite)}</li>" for label, cite in crit.facts)
                     + "</ul>"))
    if crit.missing:
        rows.append((WORDS["missing"], '<ul class="missing">' + "".join(f"<li><code>{esc(p)}</code></li>" for p in crit.missing)
                     + "</ul>", "missing"))
    if crit.to_decide:
        more = len(crit.to_decide) - PRINTED_TO_DECIDE
        rows.append((WORDS["to_decide"], '<ul class="to-decide">' + "".join(f"<li>{esc(t)}</li>" for t in crit.to_decide)
                     + (f'<li class="more">{esc(WORDS["to_decide_more"].format(n=more))}</li>' if more > 0 else "")
                     + "</ul>"))
    body = "".join(f"<dt{_class(row)}>{esc(row[0])}</dt><dd{_class(row)}>{row[1]}</dd>" for row in rows)
    extra = " has-to-decide" if crit.to_decide else ""
    return (f'<article class="criterion c-{esc(crit.outcome)}{extra}" id="{esc(crit.anchor)}">\n'
            f'<h3>{esc(crit.id)} &middot; {esc(crit.kind)} &middot; '
            f'<span class="outcome o-{esc(crit.outcome)}">{esc(crit.outcome_word)}</span>{mark}</h3>\n'
            f"<dl>{body}</dl>\n{_proof(crit)}\n</article>")


def _class(row):
    return f' class="{row[2]}"' if len(row) > 2 else ""


def _proof(crit):
    ids = _Ids(crit.anchor)
    tree = (f'<ul class="tree">\n{_nodes(crit.tree, ids)}\n</ul>' if crit.tree
            else f'<p class="repeat">{esc(WORDS["empty_tree"])}</p>')
    size = sum(node.size() for node in crit.tree)
    return f'<details class="derivation"><summary>{esc(WORDS["tree"])} ({size})</summary>\n{tree}\n</details>'


def _compact(criteria):
    """The criteria that do not decide against the patient: one row each (id, text, outcome, the
    rule line that fired), the proof folded in the row."""
    head = "".join(f"<th>{esc(WORDS[k])}</th>" for k in ("criterion_id", "text", "outcome", "rule", "proof"))
    rows = []
    for crit in criteria:
        rows.append(f'<tr class="criterion-row c-{esc(crit.outcome)}" id="{esc(crit.anchor)}">'
                    f'<td>{esc(crit.id)}</td><td class="text"><div class="clamp">{esc(crit.text)}</div></td>'
                    f'<td class="outcome o-{esc(crit.outcome)}">{esc(crit.outcome_word)}</td>'
                    f'<td><code>{esc(crit.rule)}</code></td><td class="proof">{_proof(crit)}</td></tr>')
    return (f'<table class="criteria">\n<thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(rows)
            + "\n</tbody>\n</table>")


def _label(label, cite):
    cite = f' <span class="cite">[{esc(cite)}]</span>' if cite else ""
    return f'<span class="label">{esc(label)}</span>{cite}'


class _Ids:
    """HTML ids for the tree nodes of one criterion, so a repeated node links to its first showing."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.first = {}

    def new(self, node):
        html_id = f"{self.prefix}-n{len(self.first)}"
        self.first.setdefault(node, html_id)
        return html_id


def _nodes(nodes, ids):
    return "\n".join(_node(node, ids) for node in nodes)


def _text(node):
    return _label(node.label, node.cite)


def _node(node, ids):
    kind = f"k-{esc(node.kind)}"
    if node.repeat:
        target = ids.first.get(node.node)
        link = f' <a class="repeat" href="#{esc(target)}">{esc(WORDS["repeat"])}</a>' if target else ""
        return f'<li class="{kind} leaf">{_text(node)}{link}</li>'
    if not node.children:
        return f'<li class="{kind} leaf">{_text(node)}</li>'
    html_id = ids.new(node.node)
    return (f'<li class="{kind}" id="{esc(html_id)}"><details open><summary>{_text(node)}</summary>\n'
            f"<ul>\n{_nodes(node.children, ids)}\n</ul></details></li>")
