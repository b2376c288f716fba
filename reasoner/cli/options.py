"""Options several commands share (a module of its own: the command modules cannot import main.py
at import time, main.py imports them)."""

import click

STRICT_DATES = click.option(
    "--strict-dates", "strict_dates", is_flag=True,
    help="Refuse a record with an observation dated after --as-of (exit 2) instead of setting that "
         "entry aside; set-aside entries are listed in the output.")

RULES_HELP = ("A working copy of the rules to use instead of the installed ones: a folder laid out as "
              "rules/ (lib/*.dl, trials/*.yaml; tests/ for `eligo test`).")


def use_rules(ctx, param, value):
    """--rules DIR: the rules in use for this command (paths.rules_dir()), restored when it ends."""
    if value is None:
        return None
    from ..paths import restore_rules, rules_folder_problem, set_rules

    problem = rules_folder_problem(value)
    if problem:
        raise click.BadParameter(f"{value}: {problem}", param_hint="--rules")
    token = set_rules(value)
    ctx.call_on_close(lambda: restore_rules(token))
    return value


def rules_option(expose=False):
    """The --rules DIR option; expose=True also passes DIR to the command (test, mutate)."""
    return click.option("--rules", "rules", metavar="DIR", callback=use_rules, expose_value=expose,
                        help=RULES_HELP)


RULES = rules_option()
SET = click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                   help="What-if: judge the record with PATH set to VALUE (YAML), e.g. labs[0].value=3.1 or "
                        "attestations[+]='{criterion: taormina/I12, answer: yes}'. Repeatable.")
WITH = click.option("--with", "overlays", multiple=True, metavar="OVERLAY", type=click.Path(dir_okay=False, path_type=str),
                    help="A partial record merged over RECORD (lists by item id; a field given twice is refused). Repeatable.")
MAX_AGE = click.option("--max-age", "max_age", multiple=True, metavar="KIND=DAYS",
                       help="Age beyond which an observation used without a protocol window is a caveat "
                            "(performance, lab, pregnancy_test, imaging; defaults in docs/output.md).")
