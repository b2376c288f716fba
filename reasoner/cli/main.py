"""`eligo`: the command line. Thin: parse options, call the pipeline, render, set the exit code.

Exit codes: 0 answered (whatever the verdicts), 2 bad input or usage, 1 internal or rule error.
"""

import datetime as dt
import errno
import os
import sys

import click

from .. import __version__
from ..errors import EligoError, InputError, RecordError, visible, visible_lines
from ..record.validator import parse_iso_date
from .options import MAX_AGE, RULES, SET, STRICT_DATES, WITH


def parse_as_of(ctx, param, value):
    if value is None:
        return dt.date.today()
    try:
        return parse_iso_date(value)
    except ValueError:
        _bad_date(value)


def _bad_date(value):
    raise click.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}")


def unique_trials(ctx, param, value):
    """--trial X --trial X names X once: a repeated id must not judge, list or count a trial twice."""
    return tuple(dict.fromkeys(value))


AS_OF = click.option("--as-of", "as_of", callback=parse_as_of, metavar="YYYY-MM-DD",
                     help="Evaluation date: what was known that day (observations dated later are set aside). "
                          "Default: today.")
TRIALS = click.option("--trial", "trials", multiple=True, metavar="ID", callback=unique_trials,
                      help="Trial id (repeatable). Default: every trial. See `eligo trials`.")


class EligoGroup(click.Group):
    """Reports EligoError as a message with its exit code, and any other crash without a traceback.
    Commands in their own modules (LAZY) are imported when named (or listed by --help): a cold
    `eligo check` no longer imports every other command's module."""

    def list_commands(self, ctx):
        return sorted({*self.commands, *LAZY})

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in LAZY:
            import importlib

            module_name, attribute = LAZY[cmd_name]
            self.add_command(getattr(importlib.import_module(module_name, __package__), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx, args):
        if args and self.get_command(ctx, args[0]) is None:
            for name in LAZY:   # an unknown name: click's "Did you mean" picks among every command
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx):
        from ..paths import rules_scope

        try:
            with rules_scope():   # a --rules of this invocation never outlives it
                result = super().invoke(ctx)
            sys.stdout.flush()      # a full disk behind stdout shows here, not at exit
            return result
        except EligoError as err:
            click.echo(f"eligo: {message(err)}", err=True)
            sys.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt as err:
            click.echo(f"eligo: {visible(str(err) or 'interrupted')}", err=True)
            sys.exit(128 + getattr(err, "signum", 2))
        except BrokenPipeError:
            sys.exit(0)
        except OSError as err:
            if err.errno not in STDOUT_FULL:
                raise_internal(err)
            # Files Eligo writes report their own name (OutputError); what is left is standard output.
            click.echo(f"eligo: standard output: cannot write ({err.strerror})", err=True)
            _quiet_stdout()
            sys.exit(2)
        except Exception as err:  # noqa: BLE001 - the last line of defence: no tracebacks for users
            raise_internal(err)


STDOUT_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def raise_internal(err):
    if os.environ.get("ELIGO_DEBUG"):
        raise err
    click.echo(f"eligo: internal error: {type(err).__name__}: {visible(err)} (set ELIGO_DEBUG=1 for a traceback)",
               err=True)
    sys.exit(1)


def _quiet_stdout():
    """Stdout cannot take the rest of its buffer: point it at /dev/null so exit does not retry."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def message(err):
    """What the user sees: never a raw control character. A record's problems are one per line (each
    already made visible); any other message is one line, its newlines shown as \\n."""
    return visible_lines(err) if isinstance(err, RecordError) else visible(err)


@click.group(cls=EligoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eligo")
def main():
    """Eligo: explainable eligibility of oligometastatic breast cancer patients for clinical trials.

    Every criterion is pass, fail or unknown (with the missing inputs); a trial is eligible,
    ineligible or indeterminate. Record format: docs/patient-record.md.
    """


@main.command()
@click.argument("records", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=str))
@TRIALS
@AS_OF
@STRICT_DATES
@RULES
@SET
@WITH
@MAX_AGE
@click.option("--brief", is_flag=True, help="Only the summary: one line per trial and stage.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a readable summary; json: the documented result (docs/output.md).")
def check(records, trials, as_of, strict_dates, overrides, overlays, max_age, brief, fmt):
    """Judge RECORD... (YAML, JSON or FHIR) against the trials: a summary line per trial first.

    With several records, text shows one block each; JSON is one object for one record and an
    array of such objects for several (docs/output.md)."""
    from ..explain.caveats import needs_and_caveats, parse_max_age
    from ..pipeline import judge, load_input
    from ..render.result import dumps, result_document
    from ..render.text import render_check

    limits = parse_max_age(max_age)
    if overlays and len(records) > 1:
        raise click.UsageError("--with merges into one record; give a single RECORD with it")
    documents, books = [], []
    for path in records:
        judgement = judge(load_input(path, as_of, strict_dates=strict_dates, overlays=overlays, overrides=overrides), list(trials) or None)
        needs, notes = ((None, ()) if brief and fmt == "text" else
                        needs_and_caveats(judgement.record, judgement.verdicts, limits))
        documents.append(result_document(judgement.record, judgement.book, judgement.verdicts, needs, notes))
        books.append(judgement.book)
    if fmt == "json":
        click.echo(dumps(documents[0] if len(documents) == 1 else documents), nl=False)
        return
    click.echo("\n".join(render_check(doc, book, brief) for doc, book in zip(documents, books)).rstrip("\n") + "\n", nl=False)


@main.command("trials")
@RULES
def trials_command():
    """List the trials Eligo knows."""
    from ..logic.rulebook import rulebook
    from ..render.text import render_trials

    click.echo(render_trials(rulebook()), nl=False)


@main.command()
@click.argument("trial")
@RULES
def criteria(trial):
    """List TRIAL's criteria: id, kind, the protocol's text and the reading Eligo uses."""
    from ..logic.rulebook import rulebook
    from ..render.text import render_criteria

    click.echo(render_criteria(rulebook().trial(trial)))


# Commands that live in their own modules, by name: imported on first use (EligoGroup.get_command).
LAZY = {
    "import-fhir": (".fhir", "import_fhir_command"),
    "screen": (".screen", "screen"),
    "test": (".authoring", "test_command"),
    "lint": (".authoring", "lint_command"),
    "mutate": (".authoring", "mutate_command"),
    "explain": (".explain", "explain_command"),
    "report": (".report", "report_command"),
    "schema": (".schema", "schema_command"),
    "query": (".query", "query_command"),
    "diff": (".diff", "diff_command"),
    "worklist": (".worklist", "worklist_command"),
}


def run():
    """Console-script entry: click's own usage errors already exit 2."""
    try:
        main(standalone_mode=True)
    except InputError as err:   # raised outside a command (should not happen), still no traceback
        click.echo(f"eligo: {message(err)}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()
