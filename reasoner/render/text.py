"""Terminal output of `eligo check`: a summary line per trial first, then what failed, what is unknown
and what would decide it."""

import textwrap

from ..errors import visible
from ..explain.phrasebook import need_line
from ..record.edit import what_if_line

WIDTH = 100


def _label(trial):
    stage = f" [{trial['stage']} registration]" if trial["stage"] else ""
    registry = f" ({trial['registry']})" if trial["registry"] else ""
    return f"{trial['name']}{registry}{stage}"


def render_check(document, book, brief=False):
    """The summary first (one line per trial and stage), then, unless brief, the details. Every
    line made visible (errors.visible): a patient id or file name cannot start a line of its own,
    so nothing from a record can print what looks like another trial's verdict."""
    lines = _header(document) + summary_lines(document)
    if brief:
        return "\n".join(visible(line) for line in lines) + "\n"
    lines.append("")
    notes = [f"set aside (dated after --as-of {document['as_of']}): {e['path']} {e['date']}"
             for e in document.get("set_aside", ())]
    notes += [f"caveat: {c['text']}" + (f" ({', '.join(c['criteria'])})" if c["criteria"] else "")
              for c in document.get("caveats", ()) if c["kind"] != "set_aside"]   # set-aside: the line above
    for note in notes:
        lines.extend(textwrap.wrap(note, WIDTH, subsequent_indent="  "))
    if notes:
        lines.append("")
    for trial in document["trials"]:
        lines += _details(trial, book)
    return "\n".join(visible(line) for line in lines)


def _header(document):
    out = []
    if document.get("overrides"):
        out.append(what_if_line(document["overrides"]))
    if document.get("overlays"):
        out.append("with: " + ", ".join(document["overlays"]))
    out.append(f"Patient {document['patient']}, evaluated as of {document['as_of']} ({document['input']})")
    return out


def summary_lines(document):
    """One line per trial and stage: verdict and the criteria that decide it."""
    labels = [_label(t) for t in document["trials"]]
    width = max((len(x) for x in labels), default=0) + 2
    out = []
    for label, trial in zip(labels, document["trials"]):
        if trial["verdict"] == "ineligible":
            why = "fails " + ", ".join(trial["failing"])
        elif trial["verdict"] == "indeterminate":
            why = "unknown " + ", ".join(trial["unknown"])
        else:
            why = f"all {len(trial['criteria'])} criteria met"
        out.append(f"  {label:<{width}}{trial['verdict'].upper():<15}{why}")
    return out


def _details(trial, book):
    crits = trial["criteria"]
    lines = [f"{_label(trial)}: {trial['verdict'].upper()}"]
    if trial["verdict"] == "eligible":
        lines.append(f"  all {len(crits)} criteria met")
    rows = [c for c in crits if c["outcome"] == "fail"] + [c for c in crits if c["outcome"] == "unknown"]
    for c in rows:
        text = " ".join(book.trials[trial["trial"]].criterion(c["id"]).text.split())
        head = f"  {c['outcome']:<8}{c['id']:<5}"
        pad = " " * len(head)
        lines.extend(textwrap.wrap(text, WIDTH, initial_indent=head, subsequent_indent=pad))
        if c["missing"]:
            lines.extend(textwrap.wrap("missing (not in the record): " + ", ".join(c["missing"]), WIDTH,
                                       initial_indent=pad, subsequent_indent=pad + "  "))
        for need in c.get("to_decide", ()):
            lines.extend(textwrap.wrap(f"to decide: {need_text(need)}", WIDTH, initial_indent=pad,
                                       subsequent_indent=pad + "  "))
    passed = sum(1 for c in crits if c["outcome"] == "pass")
    if trial["verdict"] != "eligible":
        lines.append(f"  ({passed} of {len(crits)} criteria met)")
    if trial.get("strata"):
        shown = ", ".join(f"{k}: {'unknown' if v is None else v}" for k, v in trial["strata"].items())
        lines.append(f"  randomisation strata: {shown}")
    lines.append("")
    return lines


def need_text(need):
    """One to_decide entry (its JSON form) as a line."""
    return need_line(need["need"], need["decides"], need["recorded"], need.get("together_with", ()))


def render_trials(book):
    rows = [(t.id, t.name, t.registry or "-", t.version) for t in book.trials.values()]
    width = max(len(r[0]) for r in rows) + 2
    out = [f"{'id':<{width}}{'name':<12}{'registry':<14}protocol version"]
    out += [f"{tid:<{width}}{name:<12}{reg:<14}{version}" for tid, name, reg, version in rows]
    return "\n".join(out) + "\n"


def render_criteria(trial):
    registry = f" ({trial.registry})" if trial.registry else ""
    out = [f"{trial.name}{registry}: {len(trial.criteria)} criteria, from {trial.file}", ""]
    for c in trial.criteria:
        stage = f" [{', '.join(s for s in c.stages if s)}]" if any(c.stages) else ""
        out.append(f"{c.id} {c.kind}{stage}  ({c.file}:{c.line})")
        out.extend(textwrap.wrap(" ".join(c.text.split()), WIDTH, initial_indent="  text:    ", subsequent_indent=" " * 11))
        out.extend(textwrap.wrap(" ".join(c.reading.split()), WIDTH, initial_indent="  reading: ", subsequent_indent=" " * 11))
        out.append("")
    return "\n".join(out)
