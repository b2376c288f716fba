"""`eligo test`, `eligo lint`, `eligo mutate`: the rule author's commands (reasoner/authoring/).

Exit codes: 0 all good; 1 a failing case, a lint finding, coverage under --fail-under, or
surviving mutants under --fail-under; 2 bad input (a malformed test file, a wrong path).
"""

import os
import sys
import time

import click

from .options import RULES as USE_RULES
from .options import rules_option

RULES = rules_option(expose=True)


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@RULES
@click.option("-k", "select", metavar="TEXT", help="Run only cases whose name contains TEXT.")
@click.option("--coverage", is_flag=True, help="Report per trial the criterion outcomes asserted and the rules fired.")
@click.option("--coverage-json", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Also write the full coverage (every case of every rule) as JSON to FILE.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PCT",
              help="With --coverage: exit 1 if any trial's outcome or rule coverage is below PCT percent.")
def test_command(paths, rules, select, coverage, coverage_json, fail_under):
    """Run rule tests: PATHS are test files or folders (default: the tests/ of --rules DIR, else rules/tests/).
    With --rules every file runs against DIR's rules; without, each against the rules folder it sits in
    (else the installed rules). See docs/rule-tests.md."""
    from ..authoring.report import summary
    from ..authoring.runner import run_files

    if fail_under is not None and not coverage:
        raise click.UsageError("--fail-under needs --coverage")
    if coverage_json:
        from ..render.files import check_outputs

        inputs = [("test file", p) for p in paths] + ([("--rules", rules)] if rules else [])
        check_outputs([("--coverage-json", coverage_json)], inputs,
                      [(label, p) for label, p in inputs if os.path.isdir(p)])
    start = time.perf_counter()
    runs = run_files(list(paths) or None, rules, select)
    for run in runs:
        for result in run.results:
            if not result.passed:
                click.echo(run.reports[result.case.name] + "\n")
    failed = any(not r.passed for run in runs for r in run.results)
    click.echo(f"{summary(runs)} in {time.perf_counter() - start:.1f}s")
    low = []
    if coverage or coverage_json:
        from ..authoring import coverage as cov

        measured = cov.measure(list(paths) or None, rules)
        if coverage:
            click.echo("\n" + cov.render(measured), nl=False)
        if coverage_json:
            from ..render.files import output_locks, write_atomic

            with output_locks([("--coverage-json", coverage_json)]):
                write_atomic(coverage_json, cov.to_json(measured), "coverage", label="--coverage-json")
        if fail_under is not None:
            low = cov.below(measured, fail_under)
            for c in low:
                click.echo(f"coverage of {c.trial.id} under {fail_under:g}%: outcomes {c.outcome_pct:.1f}%, rules {c.rule_pct:.1f}%")
    sys.exit(1 if failed or low else 0)


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@USE_RULES
def lint_command(paths):
    """Check rules statically: PATHS are rules folders or trial files (default: the rules in use: --rules DIR,
    else the installed rules/)."""
    from ..authoring.lint import lint

    findings = lint(list(paths) or None)
    for finding in findings:
        click.echo(str(finding))
    click.echo(f"{len(findings)} problem{'s' if len(findings) != 1 else ''} found" if findings else "lint: clean")
    sys.exit(1 if findings else 0)


@click.command("mutate")
@click.argument("trial")
@RULES
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option("--lib", "include_lib", is_flag=True, help="Also mutate the lib rules the trial uses.")
@click.option("--timeout", type=click.FloatRange(0.1), metavar="SECONDS",
              help="Per mutant; a mutant running longer is killed (counted killed, reported apart). "
                   "Default: 10 x the unmutated test run, at least 10 s.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PCT", help="Exit 1 if the mutation score is below PCT.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line per mutant.")
def mutate_command(trial, rules, jobs, include_lib, timeout, fail_under, quiet):
    """Mutation-test TRIAL's rules against its rule tests (<rules>/tests/*.yaml cases of TRIAL)."""
    from ..authoring.mutate import render, run

    def progress(result, done, total):
        if not quiet:
            click.echo(f"[{done}/{total}] {result.status:<8} {result.mutant.where}: {result.mutant.change}", err=True)

    outcome = run(trial, rules, jobs, include_lib, timeout, progress)
    click.echo(render(outcome), nl=False)
    sys.exit(1 if fail_under is not None and outcome.score < fail_under else 0)
