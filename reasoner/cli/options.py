"""Options shared by the commands that read records (a module of its own: the command modules
cannot import main.py at import time, main.py imports them)."""

import click

STRICT_DATES = click.option(
    "--strict-dates", "strict_dates", is_flag=True,
    help="Refuse a record with an observation dated after --as-of (exit 2) instead of setting that "
         "entry aside; set-aside entries are listed in the output.")
