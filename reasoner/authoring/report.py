"""Text of a failing rule-test case: where it is, expected vs actual, and why the rules answered so.

For each mismatching criterion the explanation tree (reasoner/explain/graph.py) shows the proof of the
outcome the rules reached; for a rule set other than the installed one (which the explainer does
not load) it lists the criterion's holds / lacks rules, each with whether its body matched.
"""

import textwrap

from ..logic.rulebook import rulebook
from .probe import Prober

INDENT = "    "


def failure_report(result, eng):
    """Several lines: `file:line: case "name" (ref)`, one line per mismatch, then the explanations."""
    case = result.case
    ref = f" (ref: {case.ref})" if case.ref else ""
    lines = [f"{case.where}: case {case.name!r}{ref}"]
    for m in result.mismatches:
        lines.append(f"  {m.what}: expected {_show(m.expected)}, got {_show(m.actual)}")
    judgement = result.judgement
    if judgement is None:
        return "\n".join(lines)
    outcomes = {c.id: c for tv in judgement.verdicts for c in tv.criteria}
    if any(m.what.startswith("verdict") for m in result.mismatches):
        deciding = [f"{c.outcome} {c.id}" for c in outcomes.values() if c.outcome != "pass"]
        lines.append("  criteria not passing: " + (", ".join(deciding) if deciding else "none"))
    shown = []
    for m in result.mismatches:
        cid = m.what.split()[0]
        if cid in outcomes and cid not in shown:
            shown.append(cid)
            lines.append("")
            lines.extend(explanation(judgement.record, outcomes[cid], eng))
    return "\n".join(lines)


def _show(value):
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def explanation(record, outcome, eng):
    """Lines explaining one criterion's outcome for record."""
    crit = outcome.criterion
    lines = [f"  {crit.trial}/{crit.id} is {outcome.outcome} ({crit.kind}, {crit.file}:{crit.line})"]
    tree = _tree(record, crit, eng)
    if tree is not None:   # its first line repeats the criterion's text
        return lines + [INDENT + line for line in tree.rstrip().splitlines()]
    lines += textwrap.wrap(" ".join(crit.text.split()), 100, initial_indent=INDENT, subsequent_indent=INDENT)
    prober = Prober(eng.book)
    with eng.patient(record):
        fired = [(side, clause, prober.fired(eng, clause)) for side in ("holds", "lacks")
                 for clause in getattr(crit, side)]
    for side, clause, hit in fired:
        state = {True: "matched", False: "no match", None: "cannot tell"}[hit]
        body = clause.text.split("<=", 1)[1].strip()
        lines.append(f"{INDENT}{side:<6} {state:<11} {clause.where}  {' '.join(body.split())}")
    if not any(getattr(crit, side) for side in ("holds", "lacks")):
        lines.append(f"{INDENT}(no rules)")
    if outcome.missing:
        lines.append(f"{INDENT}missing: {', '.join(outcome.missing)}")
    return lines


def _tree(record, crit, eng):
    """The explainer's tree for the installed rules; None when it cannot speak for this rule set."""
    if eng.book is not rulebook():
        return None
    from ..explain.graph import explain
    from ..render.tree import render_tree

    return _subtree(render_tree(explain(record, [crit.trial], criterion=crit.id)), crit.id)


def _subtree(text, cid):
    """The criterion's own branch of a rendered tree (from its line to the next line as shallow)."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if line.strip().startswith(f"{cid} "):
            depth = len(line) - len(line.lstrip())
            out = [line[depth:]]
            for rest in lines[start + 1:]:
                if rest.strip() and len(rest) - len(rest.lstrip()) <= depth:
                    break
                out.append(rest[depth:])
            return "\n".join(out)
    return text


def summary(runs):
    """`N passed, M failed in K files` plus one line per file with failures."""
    passed = sum(r.passed for run in runs for r in run.results)
    failed = sum(not r.passed for run in runs for r in run.results)
    text = f"{passed} passed, {failed} failed ({len(runs)} file{'s' if len(runs) != 1 else ''})"
    return text
