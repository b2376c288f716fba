"""`eligo explain`: why a patient is, is not, or cannot yet be judged eligible for a trial."""

import click

from .options import RULES, SET, STRICT_DATES, WITH


def _unique_trials(ctx, param, value):
    from .main import unique_trials

    return unique_trials(ctx, param, value)


def _as_of(ctx, param, value):
    from .main import parse_as_of

    return parse_as_of(ctx, param, value)


FORMATS = ("tree", "json", "dot", "graphml")


@click.command("explain")
@click.argument("record", type=click.Path(dir_okay=True, path_type=str))
@click.option("--trial", "trials", callback=_unique_trials, required=True, multiple=True, metavar="ID",
              help="Trial id (see `eligo trials`); repeat it to explain several trials in one graph.")
@click.option("--criterion", metavar="ID", help="Explain this criterion only (e.g. I3, E2); every --trial must have it.")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD",
              help="Evaluation date: what was known that day (observations dated later are set aside). Default: today.")
@STRICT_DATES
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="tree", show_default=True,
              help="tree: indented text to read; json: documented graph (docs/explanations.md); "
                   "dot / graphml: the graph for Graphviz and other tools.")
@click.option("--depth", type=click.IntRange(min=0), default=None, metavar="N",
              help="tree only: show N levels below the trial, '...' marks deeper parts. Default: all.")
@RULES
@click.option("--full", is_flag=True,
              help="Show the full proof (every candidate, every rule application, the rules' own "
                   "comparisons) instead of the condensed one.")
@SET
@WITH
def explain_command(record, trials, criterion, as_of, strict_dates, fmt, depth, full, overrides, overlays):
    """Explain RECORD's verdict for a trial: criteria, minimal proofs down to record fields and
    rule lines, and for unknown criteria the missing inputs."""
    from ..explain.condense import condense
    from ..explain.graph import explain
    from ..pipeline import load_input
    from ..render.graph_export import to_dot, to_graphml, to_json
    from ..render.tree import render_tree

    if depth is not None and fmt != "tree":
        raise click.BadParameter("--depth applies to --format tree only", param_hint="--depth")
    loaded = load_input(record, as_of, strict_dates=strict_dates, overlays=overlays, overrides=overrides)
    for entry in loaded.set_aside:   # not part of the graph: the rules never saw them
        click.echo(f"set aside (dated after --as-of {as_of.isoformat()}): {entry.path} {entry.date.isoformat()}", err=True)
    graph = explain(loaded, list(dict.fromkeys(trials)), criterion)
    if not full:
        graph = condense(graph)
    if fmt == "tree":
        click.echo(render_tree(graph, depth), nl=False)
    else:
        click.echo({"json": to_json, "dot": to_dot, "graphml": to_graphml}[fmt](graph), nl=False)
