"""`eligo report`: audit reports (HTML, Markdown, JSON) of one or more records (docs/reports.md)."""

import sys
from pathlib import Path

import click

from ..errors import InputError

FORMATS = {"html": ".html", "md": ".md", "json": ".json"}


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
    return renderer(report_of(record, trial_ids, warnings))


def load(path, as_of):
    """The validated record and its FHIR import warnings (also shown on stderr, as `eligo check` does)."""
    from ..pipeline import load_input

    warnings = []

    def warn(line):
        warnings.append(line)
        click.echo(f"warning: {line}", err=True)

    return load_input(path, as_of, warn), warnings


def targets(records, output, fmt):
    """[(record, output path or None for stdout)]: one file, stdout, or one file per record in a folder."""
    folder = output.endswith(("/", "\\")) or Path(output).is_dir()
    if output == "-":
        if len(records) > 1:
            raise InputError(f"-o -: {len(records)} records give {len(records)} reports; "
                             "expected a folder for them, e.g. -o reports/")
        return [(records[0], None)]
    if not folder:
        if len(records) > 1:
            raise InputError(f"-o {output}: {len(records)} records give {len(records)} reports; "
                             "expected a folder (an existing one, or a name ending in /)")
        return [(records[0], Path(output))]
    out, taken = [], {}
    for record in records:
        path = Path(output) / (Path(record).stem + FORMATS[fmt])
        if path in taken:
            raise InputError(f"{taken[path]} and {record} would both be written to {path}; "
                             "expected records with different file names")
        taken[path] = record
        out.append((record, path))
    return out


def write(path, text):
    data = text.encode("utf-8")
    if path is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise InputError(f"-o {path}: cannot write the report: {err.strerror or err}") from None
    click.echo(f"wrote {path}", err=True)


@click.command("report")
@click.argument("records", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=str))
@click.option("--trial", "trials", multiple=True, metavar="ID",
              help="Trial id (repeatable). Default: every trial. See `eligo trials`.")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD",
              help="Evaluation date: ages, windows and 'future date' checks use it. Default: today.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="html", show_default=True,
              help="html: one self-contained page; md: Markdown; json: versioned JSON with the explanation graph.")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE|DIR/",
              help="Where to write: a file, - for stdout, or a folder (existing, or ending in /) that gets "
                   "one report per record named after it (required for several records).")
def report_command(records, trials, as_of, fmt, output):
    """Write an audit report of RECORD(s): header with hashes and the command that reproduces it,
    a summary of verdicts, and every criterion with its protocol text, reading, outcome and
    derivation tree. The same inputs give byte-identical reports."""
    for record, path in targets(records, output, fmt):
        loaded, warnings = load(record, as_of)
        write(path, render(loaded, list(trials), fmt, warnings))
