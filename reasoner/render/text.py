"""Terminal summary of `eligo check`: per trial the verdict, then what failed and what is unknown."""

import textwrap

from ..errors import visible

WIDTH = 100


def _label(trial):
    stage = f" [{trial['stage']} registration]" if trial["stage"] else ""
    registry = f" ({trial['registry']})" if trial["registry"] else ""
    return f"{trial['name']}{registry}{stage}"


def render_check(document, book):
    """Every line made visible (errors.visible): a patient id or file name cannot start a line of its
    own, so nothing from a record can print what looks like another trial's verdict."""
    return "\n".join(visible(line) for line in _check_lines(document, book))


def _check_lines(document, book):
    lines = [f"Patient {document['patient']}, evaluated as of {document['as_of']} ({document['input']})"]
    lines += [f"set aside (dated after --as-of {document['as_of']}): {e['path']} {e['date']}"
              for e in document.get("set_aside", ())]
    lines.append("")
    for trial in document["trials"]:
        crits = trial["criteria"]
        lines.append(f"{_label(trial)}: {trial['verdict'].upper()}")
        if trial["verdict"] == "eligible":
            lines.append(f"  all {len(crits)} criteria met")
        rows = [c for c in crits if c["outcome"] == "fail"] + [c for c in crits if c["outcome"] == "unknown"]
        for c in rows:
            text = " ".join(book.trials[trial["trial"]].criterion(c["id"]).text.split())
            head = f"  {c['outcome']:<8}{c['id']:<5}"
            lines.extend(textwrap.wrap(text, WIDTH, initial_indent=head, subsequent_indent=" " * len(head)))
            if c["missing"]:
                lines.extend(textwrap.wrap("missing: " + ", ".join(c["missing"]), WIDTH,
                                           initial_indent=" " * len(head), subsequent_indent=" " * (len(head) + 9)))
            if c.get("needs"):
                lines.extend(textwrap.wrap("needs: " + c["needs"], WIDTH,
                                           initial_indent=" " * len(head), subsequent_indent=" " * (len(head) + 7)))
        passed = sum(1 for c in crits if c["outcome"] == "pass")
        if trial["verdict"] != "eligible":
            lines.append(f"  ({passed} of {len(crits)} criteria met)")
        if trial.get("strata"):
            shown = ", ".join(f"{k}: {'unknown' if v is None else v}" for k, v in trial["strata"].items())
            lines.append(f"  randomisation strata: {shown}")
        lines.append("")
    return lines


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
