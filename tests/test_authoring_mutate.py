"""eligo mutate on the tiny synthetic trial: mutants, kills, survivors, runaway mutants, exit codes.

Each run spawns worker processes (a few seconds); full runs on the real trials are not part of CI.
"""

from click.testing import CliRunner
from tiny_rules import TRIAL, line_of, write_tiny

from reasoner.authoring.mutate import KILLED, SURVIVED, TIMEOUT, mutants, run
from reasoner.cli.main import main
from reasoner.logic.rulebook import build


def test_mutants_of_a_clause(tmp_path):
    root = write_tiny(tmp_path)
    changes = [(m.where.rsplit(":", 1)[1], m.change, m.text) for m in mutants(build(root), "tiny")]
    line = str(line_of(root, "known_age(P, A) & (A >= 18)"))
    assert [c for c in changes if c[0] == line] == [
        (line, "literal dropped: `known_age(P, A)`", "crit_holds(P, 'tiny', 'I1') <= (A >= 18)"),
        (line, "`A >= 18` -> `A > 18`", "crit_holds(P, 'tiny', 'I1') <= known_age(P, A) & (A > 18)"),
        (line, "`A >= 18` -> `A >= 19` (threshold 18 -> 19)", "crit_holds(P, 'tiny', 'I1') <= known_age(P, A) & (A >= 19)"),
        (line, "`A >= 18` -> `A >= 17` (threshold 18 -> 17)", "crit_holds(P, 'tiny', 'I1') <= known_age(P, A) & (A >= 17)"),
        (line, "literal dropped: `A >= 18`", "crit_holds(P, 'tiny', 'I1') <= known_age(P, A)"),
    ]
    # one-literal bodies (E1) have no mutants; lib clauses only with include_lib
    assert len(changes) == 20
    assert len(mutants(build(root), "tiny", include_lib=True)) == 22   # the lib clause's two literals, each dropped


def test_negation_removed_and_float_step(tmp_path):
    trial = TRIAL.replace("tiny_young(P) <= known_age(P, A) & (A <= 80)",
                          "tiny_young(P) <= known_age(P, A) & (A <= 80.5) & ~tiny_old(P)")
    found = {m.change for m in mutants(build(write_tiny(tmp_path, trial=trial)), "tiny")}
    assert "negation removed: `~tiny_old(P)` -> `tiny_old(P)`" in found
    assert "`A <= 80.5` -> `A <= 80.6` (threshold 80.5 -> 80.6)" in found
    assert "`A <= 80.5` -> `A <= 80.4` (threshold 80.5 -> 80.4)" in found


def test_complete_tests_kill_every_safe_mutant(tmp_path):
    outcome = run("tiny", write_tiny(tmp_path), jobs=1)
    assert len(outcome.results) == 16 and outcome.cases == 6
    assert {r.status for r in outcome.results} == {KILLED}
    assert outcome.score == 100.0
    # dropping the only generator leaves A unbound: not run, not scored
    assert len(outcome.unsafe) == 4
    assert all(m.change == "literal dropped: `known_age(P, A)`" for m, _why in outcome.unsafe)


def test_missing_boundary_case_leaves_survivors_with_file_line(tmp_path):
    root = write_tiny(tmp_path, cases=["adult", "18", "17", "unknown", "81"])   # no "80 is not excluded"
    result = CliRunner().invoke(main, ["mutate", "tiny", "--rules", str(root), "--quiet", "--fail-under", "90"])
    assert result.exit_code == 1, result.output
    old, young = line_of(root, "tiny_old(P) <="), line_of(root, "tiny_young(P) <=")
    survivors = result.output.split("Surviving mutants (no case noticed the change):\n")[1].split("Not run")[0]
    assert survivors.splitlines() == [
        f"  {root}/trials/tiny.yaml:{old}: `A > 80` -> `A >= 80`",
        f"  {root}/trials/tiny.yaml:{old}: `A > 80` -> `A > 79` (threshold 80 -> 79)",
        f"  {root}/trials/tiny.yaml:{young}: `A <= 80` -> `A < 80`",
        f"  {root}/trials/tiny.yaml:{young}: `A <= 80` -> `A <= 79` (threshold 80 -> 79)",
    ]
    assert "score 75.0%: 12 killed (12 by a failing case, 0 did not load, 0 raised, 0 timed out), 4 survived" in result.output


def test_runaway_mutant_is_stopped_and_counted_killed(tmp_path):
    # Dropping (M < 2) makes tiny_count count forever inside pyDatalog's compiled loop.
    trial = TRIAL.replace("  tiny_young(P)", "  tiny_count(P, 0) <= known_age(P, A)\n"
                                               "  tiny_count(P, N) <= tiny_count(P, M) & (M < 2) & (N == M + 1)\n  tiny_young(P)")
    trial = trial.replace("      - tiny_young(P)", "      - tiny_young(P) & tiny_count(P, 2)")
    root = write_tiny(tmp_path, trial=trial)
    outcome = run("tiny", root, jobs=2, timeout=4)
    by_change = {r.mutant.change: r for r in outcome.results if r.mutant.where.endswith(f":{line_of(root, 'tiny_count(P, N)')}")}
    assert by_change["literal dropped: `M < 2`"].status == TIMEOUT
    assert by_change["`M < 2` -> `M < 1` (threshold 2 -> 1)"].status == KILLED
    # counting further than 2 changes nothing the tests can see
    assert by_change["`M < 2` -> `M <= 2`"].status == SURVIVED
    assert outcome.count(TIMEOUT) == 1


def test_failing_tests_stop_mutation_before_it_starts(tmp_path):
    root = write_tiny(tmp_path)
    cases = (root / "tests" / "tiny.yaml").read_text().replace("expect: {criteria: {E1: fail}}", "expect: {criteria: {E1: pass}}")
    (root / "tests" / "tiny.yaml").write_text(cases)
    result = CliRunner().invoke(main, ["mutate", "tiny", "--rules", str(root), "--quiet"])
    assert result.exit_code == 2
    assert "'81 is excluded' fails on the unmutated rules" in result.output


def test_unknown_trial_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["mutate", "nosuch", "--rules", str(write_tiny(tmp_path))])
    assert result.exit_code == 2
    assert "unknown trial 'nosuch'" in result.output
