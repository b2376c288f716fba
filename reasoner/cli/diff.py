"""`eligo diff`: which patients' verdicts an amendment of the rules changes (reasoner/authoring/diff.py).

Exit codes as `eligo screen`: 0 every record judged; 2 bad options or input, or some records
invalid (each listed); 1 some records failed in evaluation with either rule set.
"""

import sys

import click

from .options import STRICT_DATES


def _as_of(ctx, param, value):
    from .main import parse_as_of

    return parse_as_of(ctx, param, value)


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.argument("cohort")
@click.option("--trial", "trials", multiple=True, metavar="ID",
              help="Trial id (repeatable). Default: every trial of either rule set.")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD",
              help="Evaluation date for every record: what was known that day. Default: today.")
@STRICT_DATES
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
              help="text: per trial and stage the changed patients, then counts; json: all of it; "
                   "csv: one row per changed patient, trial and stage (counts on stderr).")
@click.option("--workers", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Worker processes. Default: the CPUs available.")
def diff_command(old, new, cohort, trials, as_of, strict_dates, fmt, workers):
    """Judge COHORT with the OLD and the NEW rules and list the patients whose verdict changes.

    OLD and NEW are rules folders (laid out as rules/) or, inside a git checkout, revisions whose
    rules/ is compared (eligo diff HEAD~1 HEAD cohort/). COHORT is what `eligo screen` reads: a
    folder of records, a JSONL file or - for JSONL on stdin. Patients whose verdict is unchanged
    are counted, not listed; criteria added, removed or re-numbered are named.
    """
    from ..authoring.diff import document, render_csv, render_text, run, summary_line
    from ..render.result import dumps
    from ..screen.backends import default_workers
    from ..screen.cohort import FAILED, INVALID

    result = run(old, new, cohort, list(trials) or None, as_of, workers=workers or default_workers(),
                 strict_dates=strict_dates)
    if fmt == "json":
        click.echo(dumps(document(result, as_of)), nl=False)
    elif fmt == "csv":
        click.echo(render_csv(result), nl=False)
        click.echo(summary_line(result), err=True)
    else:
        click.echo(render_text(result, as_of), nl=False)
    if any(r.status == FAILED for r in result.rejected):
        sys.exit(1)
    if any(r.status == INVALID for r in result.rejected):
        sys.exit(2)
