"""`eligo report`: audit reports (HTML, Markdown, JSON) of one or more records (docs/reports.md)."""

import os
import sys
from pathlib import Path

import click

from ..errors import InputError, OutputError, visible
from ..render.files import check_outputs, output_locks, same_file, write_atomic
from .options import RULES, SET, STRICT_DATES, WITH

FORMATS = {"html": ".html", "md": ".md", "json": ".json"}
EXTENSIONS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".json": "json"}


def _unique_trials(ctx, param, value):
    from .main import unique_trials

    return unique_trials(ctx, param, value)


def _as_of(ctx, param, value):
    from .main import parse_as_of

    return parse_as_of(ctx, param, value)


def render(record, trial_ids, fmt, warnings=()):
    """The report of one validated record, as text (warnings: its FHIR import's)."""
    from ..render.html import render_html
    from ..render.markdown import render_markdown
    from ..render.report_json import render_json
    from ..render.report_model import report_of

    renderer = {"html": render_html, "md": render_markdown, "json": render_json}[fmt]
    return _what_if_first(renderer(report_of(record, trial_ids, warnings)), record, fmt)


def _what_if_first(text, record, fmt):
    """A report of an edited record (--set) says so on its first line; --with files are named too."""
    from ..record.edit import what_if

    line = what_if(record)
    overlays = list(getattr(record, "overlays", ()))
    if not line and not overlays:
        return text
    words = "; ".join(x for x in (line, "with: " + ", ".join(overlays) if overlays else None) if x)
    if fmt == "md":
        return f"**{words}**\n\n{text}"
    if fmt == "html":
        import html

        return f"<!-- {html.escape(words)} -->\n" + text.replace(
            "<body>", f'<body>\n<p class="what-if"><strong>{html.escape(words)}</strong></p>', 1)
    import json

    from ..record.edit import plain
    from ..render.result import dumps

    document = json.loads(text)
    edits = [{"path": p, "value": plain(v)} for p, v in getattr(record, "overrides", ())]
    return dumps({"what_if": line, "overlays": overlays, "overrides": edits, **document})


def load(path, as_of, strict_dates=False, overlays=(), overrides=()):
    """The validated record and its FHIR import warnings (also shown on stderr, as `eligo check` does)."""
    from ..pipeline import load_input

    warnings = []

    def warn(line):
        warnings.append(line)
        click.echo(f"warning: {visible(line)}", err=True)

    return load_input(path, as_of, warn, strict_dates, overlays, overrides), warnings


def output_format(output, fmt):
    """--format, else the -o file's extension (.html, .md, .json), else html. An explicit --format
    that contradicts the extension is refused: x.json must never hold HTML."""
    suffix = Path(output).suffix.lower() if output != "-" and not _is_folder(output) else ""
    by_name = EXTENSIONS.get(suffix)
    if fmt is None:
        return by_name or "html"
    if by_name and by_name != fmt:
        raise InputError(f"-o {visible(output)}: a {suffix} file, but --format {fmt}; expected --format {by_name}, "
                         f"or a file name ending in {FORMATS[fmt]}")
    return fmt


def _is_folder(output):
    return output.endswith(("/", "\\")) or Path(output).is_dir()


def targets(records, output, fmt):
    """[(record, output path or None for stdout)]: one file, stdout, or one file per record in a folder.
    Refuses an output that is one of the records, or a folder that holds them (docs/errors.md)."""
    if output == "-":
        if len(records) > 1:
            raise InputError(f"-o -: {len(records)} records give {len(records)} reports; "
                             "expected a folder for them, e.g. -o reports/")
        return [(records[0], None)]
    if not _is_folder(output):
        if len(records) > 1:
            raise InputError(f"-o {visible(output)}: {len(records)} records give {len(records)} reports; "
                             "expected a folder (an existing one, or a name ending in /)")
        out = [(records[0], Path(output))]
    else:
        for record in records:
            if same_file(os.path.dirname(os.path.abspath(record)), output):
                raise OutputError(f"-o {visible(output)}: is the folder holding the input {visible(record)}; "
                                  f"choose another folder, so reports never mix with (or overwrite) records")
        out, taken = [], {}
        for record in records:
            path = Path(output) / (visible(Path(record).stem) + FORMATS[fmt])   # no control character in a name
            if path in taken:
                raise InputError(f"{visible(taken[path])} and {visible(record)} would both be written to "
                                 f"{visible(path)}; expected records with different file names")
            taken[path] = record
            out.append((record, path))
    check_outputs([("-o", path) for _record, path in out], [("record", record) for record in records])
    return out


def write(path, text):
    data = text.encode("utf-8")
    if path is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    write_atomic(path, data, "report", label="-o")
    click.echo(f"wrote {visible(path)}", err=True)


@click.command("report")
@click.argument("records", nargs=-1, type=click.Path(dir_okay=True, path_type=str))
@click.option("--trial", "trials", callback=_unique_trials, multiple=True, metavar="ID",
              help="Trial id (repeatable). Default: every trial. See `eligo trials`.")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD",
              help="Evaluation date: what was known that day (observations dated later are set aside). Default: today.")
@STRICT_DATES
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default=None,
              help="html: one self-contained page; md: Markdown; json: versioned JSON with the explanation graph. "
                   "Default: by the -o file's extension (.html, .md, .json), else html.")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE|DIR/",
              help="Where to write: a file, - for stdout, or a folder (existing, or ending in /) that gets "
                   "one report per record named after it (required for several records).")
@RULES
@click.option("--cohort", "cohort", metavar="ROWS.jsonl", type=click.Path(dir_okay=False, path_type=str),
              help="Instead of records: the cohort report (HTML) of `eligo screen --out ROWS.jsonl`: verdict counts, "
                   "attrition funnel, each criterion alone, the inputs whose absence leaves most verdicts open.")
@SET
@WITH
def report_command(records, trials, as_of, strict_dates, fmt, output, cohort, overrides, overlays):
    """Write an audit report of RECORD(s): header with hashes and the command that reproduces it,
    a summary of verdicts, and every criterion with its protocol text, reading, outcome and
    derivation tree. The same inputs give byte-identical reports."""
    if cohort:
        return cohort_command(records, trials, fmt, output, cohort)
    if not records:
        raise click.UsageError("expected RECORD... (or --cohort ROWS.jsonl for a cohort report)")
    fmt = output_format(output, fmt)
    planned = targets(records, output, fmt)
    for _record, path in planned:
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise OutputError(f"-o {visible(path)}: cannot write the report: {err.strerror or err}") from None
    with output_locks([("-o", path) for _record, path in planned if path is not None]):
        for record, path in planned:
            loaded, warnings = load(record, as_of, strict_dates, overlays, overrides)
            write(path, render(loaded, list(trials), fmt, warnings))


def cohort_command(records, trials, fmt, output, cohort):
    """`eligo report --cohort ROWS.jsonl [-o FILE.html]`: the cohort report (docs/reports.md)."""
    from ..logic.rulebook import rulebook
    from ..screen.cohort_report import cohort_report

    if records or trials:
        raise click.UsageError("--cohort reads the rows of `eligo screen`: give no RECORD or --trial with it")
    if output_format(output, fmt) != "html" or _is_folder(output):
        raise InputError(f"-o {visible(output)}: a cohort report is one HTML page; expected -o FILE.html or -o -")
    path = None if output == "-" else Path(output)
    check_outputs([("-o", path)], [("--cohort", cohort)])
    text = cohort_report(cohort, rulebook())
    with output_locks([("-o", path)] if path is not None else []):
        write(path, text)
