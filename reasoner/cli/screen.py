"""`eligo screen`: judge a whole cohort, stream the results, print the attrition funnel.

Exit codes: 0 every record judged; 2 bad options or input, or some records invalid (each one is
in the errors stream); 1 some records failed in evaluation (a rule error: each one is reported).
"""

import os
import sys

import click

from ..errors import visible
from ..render.files import check_outputs
from .options import STRICT_DATES, rules_option


def _unique_trials(ctx, param, value):
    from .main import unique_trials

    return unique_trials(ctx, param, value)


def _as_of(ctx, param, value):
    from .main import parse_as_of

    return parse_as_of(ctx, param, value)


@click.command("screen")
@click.argument("input_spec", metavar="INPUT")
@click.option("--trial", "trials", callback=_unique_trials, multiple=True, metavar="ID",
              help="Trial id (repeatable). Default: every trial. See `eligo trials`.")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD",
              help="Evaluation date for every record: what was known that day (observations dated later are "
                   "set aside and listed in each row). Default: today.")
@STRICT_DATES
@click.option("--workers", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Worker processes (local backend) or local Dask workers. Default: the CPUs available.")
@click.option("--out", "out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Result rows to FILE (default: stdout). Needed for --resume.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default=None,
              help="Rows as JSON lines or CSV. Default: by --out's extension (.csv), else jsonl.")
@click.option("--errors", "errors", type=click.Path(dir_okay=False), metavar="FILE",
              help="Rejected records (source, status, reason) to FILE: .csv, .jsonl or text. Default: stderr.")
@click.option("--funnel", "funnel_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the attrition funnel as CSV to FILE.")
@click.option("--backend", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: a process pool on this machine; dask: dask.distributed (pip install 'eligo[dask]').")
@click.option("--scheduler", metavar="ADDRESS",
              help="Dask scheduler address (tcp://host:8786) for --backend dask. Default: a local Dask cluster.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run into the same --out (skips the records it finished).")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=50, show_default=True, metavar="N",
              help="Records per batch sent to a worker (and per checkpoint).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), metavar="FILE.html",
              help="Also write the cohort report (HTML: verdict counts, funnel, each criterion alone, missing "
                   "inputs) of the rows; needs --out FILE.jsonl. Same as `eligo report --cohort FILE.jsonl`.")
@click.option("--engine", "engine_name", type=click.Choice(["fast", "pydatalog"]), default=None,
              help="fast (default): the rule files compiled bottom-up, ~6.5x faster, checked against pyDatalog by "
                   "the tests and the benchmark; pydatalog: the reference engine that check, explain and report use.")
@rules_option(expose=True)
def screen(input_spec, trials, as_of, strict_dates, workers, out, fmt, errors, funnel_path, backend, scheduler, resume,
           batch_size, engine_name, rules, report_path):
    """Screen a cohort against the trials: one result row per patient, trial and stage.

    INPUT is a folder of record files (YAML/JSON, read in name order; hidden files skipped), a
    JSONL file (one record per line; blank lines skipped) or - for JSONL on stdin. Records that
    fail validation or evaluation are reported in the errors stream and the run goes on.
    """
    from ..screen.backends import default_workers
    from ..screen.cohort import DEFAULT_ENGINE
    from ..screen.output import row_format
    from ..screen.run import Settings, run

    if scheduler and backend != "dask":
        raise click.UsageError("--scheduler needs --backend dask")
    if resume and not out:
        raise click.UsageError("--resume needs --out FILE")
    if report_path:
        if not out or row_format(out, fmt) != "jsonl":
            raise click.UsageError("--report needs --out FILE.jsonl (the cohort report reads the JSONL rows)")
        if not report_path.lower().endswith((".html", ".htm")):
            raise click.UsageError(f"--report {visible(report_path)}: the cohort report is HTML; expected a name ending in .html")
        check_outputs([("--report", report_path), ("--out", out), ("--errors", errors), ("--funnel", funnel_path)],
                      [("INPUT", input_spec)], [("INPUT", input_spec)] if os.path.isdir(input_spec) else [])
    settings = Settings(input=input_spec, as_of=as_of, trial_ids=list(trials) or None, out=out,
                        fmt=row_format(out, fmt), errors=errors, workers=workers or default_workers(),
                        batch_size=batch_size, backend=backend, scheduler=scheduler, resume=resume,
                        engine=engine_name or DEFAULT_ENGINE, funnel=funnel_path,
                        strict_dates=strict_dates, rules=rules, missing=bool(report_path))
    summary = run(settings)
    table = summary.funnel.table()
    click.echo(table, file=sys.stdout if out else sys.stderr, nl=False)
    click.echo(summary_line(summary), err=True)
    if report_path:
        from ..logic.rulebook import rulebook
        from ..render.files import write_atomic
        from ..screen.cohort_report import cohort_report

        write_atomic(report_path, cohort_report(out, rulebook()), "cohort report", label="--report")
        click.echo(f"wrote {visible(report_path)}", err=True)
    if summary.counts.failed:
        sys.exit(1)
    if summary.counts.invalid:
        sys.exit(2)


def summary_line(summary):
    c = summary.counts
    rate = (c.read - summary.resumed) / summary.seconds if summary.seconds > 0 else 0.0
    resumed = f" ({summary.resumed} by the interrupted run)" if summary.resumed else ""
    return (f"eligo screen: {c.read} read{resumed} = {c.judged} judged + {c.rejected} rejected "
            f"({c.invalid} invalid, {c.failed} failed in evaluation); "
            f"{summary.seconds:.1f} s, {rate:.1f} patients/s")
