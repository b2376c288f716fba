"""`eligo worklist`: what to collect next, per patient and tallied over a cohort."""

from pathlib import Path

import click

from .options import RULES, SET, STRICT_DATES, WITH


def _as_of(ctx, param, value):
    from .main import parse_as_of

    return parse_as_of(ctx, param, value)


@click.command("worklist")
@click.argument("inputs", nargs=-1, required=True, metavar="RECORD...|FOLDER|COHORT.jsonl")
@click.option("--trial", "trials", multiple=True, metavar="ID", help="Trial id (repeatable). Default: every trial.")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD",
              help="Evaluation date: what was known that day (observations dated later are set aside). "
                   "Default: today.")
@STRICT_DATES
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@SET
@WITH
@RULES
def worklist_command(inputs, trials, as_of, strict_dates, fmt, overrides, overlays):
    """Per patient, the inputs to collect, each with the trial verdicts it could decide (most first);
    ineligible verdicts split into those resting on time-bound inputs and those that cannot change.
    A folder or JSONL cohort (or several records) is also tallied over patients."""
    import json

    from ..errors import EligoError, visible, visible_json
    from ..logic.rulebook import rulebook
    from ..pipeline import judge, load_input, record_from_data
    from ..screen.cohort import open_items, parse_line
    from ..screen.worklist import patient_work, render_csv, render_text, tally, work_json

    cohort = len(inputs) == 1 and not Path(inputs[0]).is_file() or (
        len(inputs) == 1 and Path(inputs[0]).suffix.lower() == ".jsonl")
    if cohort and (overrides or overlays):
        raise click.UsageError("--set and --with apply to record files, not to a folder or cohort")
    if cohort:
        _total, items = open_items(inputs[0])
    else:
        items = iter(inputs)
    works, problems = [], 0
    book = rulebook()
    for item in items:
        try:
            if isinstance(item, str):
                record = load_input(item, as_of, strict_dates=strict_dates, overlays=overlays, overrides=overrides)
            elif item.path is not None:
                record = load_input(item.path, as_of, strict_dates=strict_dates)
            else:
                if item.problem:
                    raise EligoError(f"{item.source}: {item.problem}")
                record = record_from_data(parse_line(item.line, item.source), item.source, as_of, strict_dates)
        except EligoError as err:
            if not cohort:
                raise
            problems += 1
            click.echo(visible(f"eligo: skipped: {err}".replace("\n", "; ")), err=True)
            continue
        judgement = judge(record, list(trials) or None)
        works.append(patient_work(record, judgement.verdicts, book))
    many = cohort or len(works) > 1
    if fmt == "json":
        document = {"rules": book.folder, "ruleset_sha256": book.sha256,
                    "patients": [work_json(w) for w in works], "skipped": problems}
        if many:
            counts, total = tally(works)
            document["tally"] = {"indeterminate_verdicts": total,
                                 "collect": [{"inputs": k, "would_decide": d, "patients": p, "example": e}
                                             for k, (d, p, e) in counts]}
        click.echo(visible_json(json.dumps(document, indent=2, ensure_ascii=False)))
    elif fmt == "csv":
        click.echo(render_csv(works), nl=False)
    else:
        click.echo(render_text(works, many), nl=False)
    if problems:
        click.echo(f"eligo: {problems} record(s) skipped as invalid (listed above)", err=True)
