"""The audit report as Markdown (CommonMark + GitHub tables): derivation trees as nested lists.

Record values reach the report through the patient id, the file name and the graph's labels, so
all text is escaped: characters Markdown or an HTML-passing renderer would act on become
backslash escapes or entities, control characters show as escapes, and citations, paths and the
command sit in code spans whose fence is longer than any backtick run inside.
"""

import re

from ..errors import visible
from .report_model import WORDS

# Inline characters CommonMark / GFM act on anywhere in a line ($ for GitHub's math, # for a
# heading's closing sequence); < opens HTML or an autolink, & an entity.
_ACTIVE = re.compile(r"([\\`*_\[\]|~#$])")
_HTML = re.compile(r"<|&(?=[#A-Za-z0-9])")
# At the start of a paragraph or list item these open a quote, list, rule or setext underline.
_BLOCK_START = re.compile(r"^(>|\+|-|=|(\d{1,9})([.)]))")

FORMAT = "md"


def _visible(text):
    """Control characters (newlines included), bidi overrides and zero-width characters as escapes,
    so one value stays on one line and reads as written."""
    return visible(text)


def md(text, lead=False):
    """Text shown literally by a Markdown renderer; lead: it starts a paragraph or list item."""
    out = _ACTIVE.sub(r"\\\1", _visible(text))
    out = _HTML.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", out)
    if lead:
        out = _BLOCK_START.sub(lambda m: f"{m.group(2)}\\{m.group(3)}" if m.group(2) else "\\" + m.group(1), out)
    return out


def code(text):
    """A code span holding text verbatim (its content is never interpreted)."""
    text = _visible(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text):
    """A table cell: escaped text (| is escaped by md)."""
    return md(text)


def render_markdown(report):
    lines = [f"# {md(WORDS['title'])}: {md(report.patient)}", ""]
    lines += _summary(report)
    lines += _header(report)
    for trial in report.trials:
        lines += _trial(trial)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def _header(report):
    rows = [(WORDS["patient"], md(report.patient))]
    if report.patient_name is not None:
        rows.append((WORDS["name"], md(report.patient_name)))
    rows += [
        (WORDS["as_of"], md(report.as_of)),
        (WORDS["input"], code(report.input)),
        (WORDS["input_sha256"], code(report.input_sha256)),
        (WORDS["ruleset_sha256"], code(report.ruleset_sha256)),
        (WORDS["rules"], code(report.rules)),
        (WORDS["tool_version"], md(report.tool_version)),
        (WORDS["code_sha256"], code(report.code_sha256)),
        (WORDS["dependencies"], md(", ".join(f"{name} {version}" for name, version in report.dependencies))),
    ]
    lines = [f"## {md(WORDS['header'])}", ""]
    lines += [f"- **{md(k)}:** {v}" for k, v in rows]
    lines.append(f"- **{md(WORDS['trials'])}:**")
    seen = set()
    for trial in report.trials:
        if trial.trial in seen:
            continue
        seen.add(trial.trial)
        lines.append(f"  - {md(trial.name, lead=True)}: {_trial_facts(trial)}")
    if report.overrides:
        lines.append(f"- **{md(WORDS['overrides'])}:**")
        lines += [f"  - {md(o, lead=True)}" for o in report.overrides]
    if report.warnings:
        lines.append(f"- **{md(WORDS['warnings'])}:**")
        lines += [f"  - {md(w, lead=True)}" for w in report.warnings]
    if report.set_aside:
        lines.append(f"- **{md(WORDS['set_aside'])}:**")
        lines += [f"  - {code(e.path)} {md(e.date.isoformat())}: {md(e.why)}" for e in report.set_aside]
    lines += ["", f"**{md(WORDS['command'])}:**", "", "```sh", _visible(report.command(FORMAT)), "```", ""]
    return lines


def _summary(report):
    cols = ("trial", "registry", "stage", "verdict", "deciding", "counts")
    lines = [f"## {md(WORDS['summary'])}", "",
             "| " + " | ".join(md(WORDS[c]) for c in cols) + " |",
             "|" + "---|" * len(cols)]
    for trial in report.trials:
        deciding = (WORDS["all_pass"].format(n=len(trial.criteria)) if trial.verdict == "eligible"
                    else ", ".join(trial.deciding))
        counts = " / ".join(str(trial.count(o)) for o in ("pass", "fail", "unknown"))
        values = (trial.name, trial.registry or "", trial.stage or "", trial.verdict.upper(), deciding, counts)
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return lines + [""]


def _trial(trial):
    stage = f" ({trial.stage})" if trial.stage else ""
    lines = [f"## {md(trial.name)}{md(stage)}: {md(trial.verdict.upper())}", "",
             md(trial.label, lead=True), "",
             _trial_facts(trial), ""]
    if trial.strata is not None:
        lines += [f"### {md(WORDS['strata'])}", "", f"| {md(WORDS['stratum'])} | {md(WORDS['value'])} |", "|---|---|"]
        lines += [f"| {cell(name)} | {cell(WORDS['strata_unknown'] if value is None else value)} |"
                  for name, value in trial.strata]
        lines.append("")
    shown = [c for c in trial.criteria if c.deciding and c.outcome != "pass"]
    if shown:
        lines += [f"### {md(WORDS['deciding_criteria'])}", ""]
        for crit in shown:
            lines += _criterion(crit)
    others = [c for c in trial.criteria if c not in shown]
    if others:
        cols = ("criterion_id", "text", "outcome", "rule")
        lines += [f"### {md(WORDS['other_criteria'] if shown else WORDS['criteria'])}", "",
                  "| " + " | ".join(md(WORDS[c]) for c in cols) + " |", "|" + "---|" * len(cols)]
        lines += [f"| {cell(c.id)} | {cell(c.text)} | {cell(c.outcome_word)} | {code(c.rule)} |" for c in others]
        lines.append("")
        lines += _folded_proofs(others)
    return lines


def _folded_proofs(criteria):
    """The proofs of the criteria in the table, each folded in a <details> block (GitHub, GitLab and
    most Markdown viewers render it closed; plain text keeps it readable)."""
    lines = []
    for crit in criteria:
        size = sum(node.size() for node in crit.tree)
        summary = md(f"{crit.id} {crit.outcome_word}: {WORDS['tree'].lower()} ({size})")
        lines += ["<details>", f"<summary>{summary}</summary>", ""]
        if not crit.tree:
            lines.append(f"- {md(WORDS['empty_tree'], lead=True)}")
        for node in crit.tree:
            _node(node, 0, lines)
        lines += ["", "</details>", ""]
    return lines


def _trial_facts(trial):
    parts = [md(trial.title)] if trial.title else []
    if trial.registry:
        parts.append(f"{md(WORDS['registry'])} {md(trial.registry)}")
    parts.append(f"{md(WORDS['protocol_version'])}: {md(trial.protocol_version)}")
    return "; ".join(parts)


def _criterion(crit):
    mark = f" ({md(WORDS['deciding_mark'])})" if crit.deciding else ""
    lines = [f"#### {md(crit.id)} {md(crit.kind)}: {md(crit.outcome_word)}{mark}", "",
             f"- **{md(WORDS['text'])}:** {md(crit.text)}",
             f"- **{md(WORDS['reading'])}:** {md(crit.reading)}",
             f"- **{md(WORDS['rule_fired'])}:** {code(crit.rule)}"]
    if crit.facts:
        lines.append(f"- **{md(WORDS['key_facts'])}:**")
        lines += [f"  - {md(label, lead=True)}" + (f" [{code(cite)}]" if cite else "") for label, cite in crit.facts]
    if crit.missing:
        lines.append(f"- **{md(WORDS['missing'])}:** " + ", ".join(code(p) for p in crit.missing))
    if crit.to_decide:
        lines.append(f"- **{md(WORDS['to_decide'])}:**")
        lines.extend(f"  - {md(t, lead=True)}" for t in crit.to_decide)
    lines.append(f"- **{md(WORDS['tree'])}:**")
    if not crit.tree:
        lines.append(f"  - {md(WORDS['empty_tree'], lead=True)}")
    for node in crit.tree:
        _node(node, 1, lines)
    return lines + [""]


def _node(node, level, lines):
    cite = f" [{code(node.cite)}]" if node.cite else ""
    repeat = f" *{md(WORDS['repeat'])}*" if node.repeat else ""
    lines.append("  " * level + f"- {md(node.label, lead=True)}{cite}{repeat}")
    for child in node.children:
        _node(child, level + 1, lines)
