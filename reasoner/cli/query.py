"""`eligo query`: ask the rules any question about one patient (reasoner/authoring/query.py)."""

import click

from .options import RULES, STRICT_DATES


def _as_of(ctx, param, value):
    from .main import parse_as_of

    return parse_as_of(ctx, param, value)


@click.command("query")
@click.argument("record", type=click.Path(dir_okay=True, path_type=str))
@click.argument("goal")
@click.option("--trial", metavar="ID",
              help="Resolve a helper of this trial written without its prefix (small(P, L) -> taormina_small(P, L)).")
@click.option("--as-of", "as_of", callback=_as_of, metavar="YYYY-MM-DD",
              help="Evaluation date: what was known that day (observations dated later are set aside). "
                   "Default: today.")
@STRICT_DATES
@click.option("--format", "fmt", type=click.Choice(["tree", "json"]), default="tree", show_default=True,
              help="tree: each answer and its proof to read; json: the answers and the explanation graph.")
@click.option("--full", is_flag=True,
              help="The full proof of every answer, as `eligo explain --full` (default: condensed, as `eligo explain`).")
@click.option("--why-not", "why_not", is_flag=True,
              help="When the goal has no answer: the full refutation, every rule that could derive it, every "
                   "candidate it tried and the whole chain of why (default: one line per rule and candidate).")
@RULES
def query_command(record, goal, trial, as_of, strict_dates, fmt, full, why_not):
    """Ask the rules GOAL about RECORD: every answer with its proof, or why there is none.

    GOAL is one literal over any predicate of the rules: a base fact, a rules/lib predicate or a
    trial helper, with variables (capitalised) and values, e.g. "metastatic_lines(P, N)",
    "line_number(P, R, N)", "lab_below_uln_times(P, 'bilirubin', 30)". The patient is written P
    or _; each other _ is a variable of its own. An aggregate function is asked with its value
    last: "lesion_count(P, N)". Exit 2 for an unknown predicate or a wrong number of arguments.
    """
    from ..authoring.query import document, query, subgraph
    from ..explain.condense import condense
    from ..pipeline import load_input
    from ..render.result import dumps
    from ..render.tree import render_tree

    loaded = load_input(record, as_of, strict_dates=strict_dates)
    for entry in loaded.set_aside:   # as `eligo explain`: the rules never saw them
        click.echo(f"set aside (dated after --as-of {as_of.isoformat()}): {entry.path} {entry.date.isoformat()}", err=True)
    result = query(loaded, goal, trial)
    graph = subgraph(result) if (full or why_not) else condense(subgraph(result))
    if fmt == "json":
        click.echo(dumps(document(result, graph)), nl=False)
        return
    click.echo(render_tree(graph), nl=False)
    if not (full or why_not):
        click.echo("(condensed; --full shows every step" + ("" if result.answers else
                   ", --why-not every candidate each rule tried and the whole chain of why") + ")")
