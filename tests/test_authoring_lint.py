"""eligo lint: each check finds its problem at the right file:line, and clean rules stay clean."""

from click.testing import CliRunner
from tiny_rules import CASES, LIB, TRIAL, line_of, write_tiny

from reasoner.authoring.lint import lint
from reasoner.cli.main import main


def findings(root, path=None):
    return [(f.file.replace(str(root) + "/", ""), f.line, f.check, f.message) for f in lint([path or root])]


def test_shipped_rules_lint_clean():
    result = CliRunner().invoke(main, ["lint"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "lint: clean"


def test_tiny_rules_lint_clean(tmp_path):
    assert findings(write_tiny(tmp_path)) == []


def test_undefined_predicate_and_arity_clash(tmp_path):
    trial = TRIAL.replace("tiny_old(P) <= known_age(P, A) & (A > 80)",
                          "tiny_old(P) <= known_agee(P, A) & (A > 80) & age_at(P, A, A, A)")
    root = write_tiny(tmp_path, trial=trial)
    line = line_of(root, "known_agee")
    found = findings(root)
    assert ("trials/tiny.yaml", line, "undefined",
            "known_agee/2 is neither a base predicate (reasoner/record/predicates.py) nor defined by a rule") in found
    assert ("trials/tiny.yaml", line, "arity", "age_at used with 4 arguments, but it has 3 at reasoner/record/predicates.py") in found


def test_unused_helper_and_lib_predicate(tmp_path):
    root = write_tiny(tmp_path, trial=TRIAL.replace("  tiny_young(P)", "  tiny_spare(P) <= sex(P, 'male')\n  tiny_young(P)"),
                      lib=LIB + "spare(P) <= sex(P, S)\n")
    found = findings(root)
    assert ("trials/tiny.yaml", line_of(root, "tiny_spare"), "unused", "tiny_spare is defined but no rule uses it") in found
    assert ("lib/tiny.dl", 3, "unused", "spare is defined but no rule uses it") in found
    # Linting the trial file alone does not blame it for lib predicates other trials may use.
    alone = findings(root, root / "trials" / "tiny.yaml")
    assert [f for f in alone if f[2] == "unused"] == [("trials/tiny.yaml", line_of(root, "tiny_spare"), "unused",
                                                       "tiny_spare is defined but no rule uses it")]


def test_unsafe_variables(tmp_path):
    trial = TRIAL.replace("tiny_old(P) <= known_age(P, A) & (A > 80)", "tiny_old(P) <= (A > 80) & known_age(P, A)")
    trial = trial.replace("tiny_young(P) <= known_age(P, A) & (A <= 80)", "tiny_young(P) <= known_age(P, A) & ~sex(P, S) & (A <= 80)")
    root = write_tiny(tmp_path, trial=trial)
    found = [f for f in findings(root) if f[2] == "unsafe"]
    assert found == [
        ("trials/tiny.yaml", line_of(root, "tiny_old(P) <="), "unsafe", "A in `A > 80`: a comparison needs its variables bound"),
        ("trials/tiny.yaml", line_of(root, "tiny_young(P) <="), "unsafe", "S in `~sex(P, S)`: a negated literal needs its variables bound"),
    ]


def test_head_variable_not_bound(tmp_path):
    root = write_tiny(tmp_path, lib="known_age(P, A) <= age_at(P, 'registration', B)\n")
    found = [f for f in findings(root) if f[2] == "unsafe"]
    assert found == [("lib/tiny.dl", 1, "unsafe", "A in `known_age(P, A)`: a head variable must be bound by a positive body literal")]


def test_input_argument_is_safe_when_every_caller_binds_it(tmp_path):
    lib = "older_than(P, K) <= age_at(P, 'registration', A) & (A > K)\nknown_age(P, A) <= age_at(P, 'registration', A)\n"
    trial = TRIAL.replace("tiny_old(P) <= known_age(P, A) & (A > 80)", "tiny_old(P) <= older_than(P, 80)")
    assert findings(write_tiny(tmp_path / "ok", trial=trial, lib=lib)) == []
    trial = TRIAL.replace("tiny_old(P) <= known_age(P, A) & (A > 80)", "tiny_old(P) <= older_than(P, K)")
    root = write_tiny(tmp_path / "bad", trial=trial, lib=lib)
    assert [f for f in findings(root) if f[2] == "unsafe"] == [
        ("trials/tiny.yaml", line_of(root, "older_than(P, K)"), "unsafe", "K in `older_than(P, K)`: older_than needs argument 2 bound")]


def test_negation_cycle(tmp_path):
    lib = LIB + "odd(P) <= known_age(P, A) & ~even(P)\neven(P) <= known_age(P, A) & ~odd(P)\n"
    trial = TRIAL.replace("tiny_old(P) <= known_age(P, A) & (A > 80)", "tiny_old(P) <= known_age(P, A) & (A > 80) & odd(P)")
    found = [f for f in findings(write_tiny(tmp_path, trial=trial, lib=lib)) if f[2] == "negation-cycle"]
    assert {(f[0], f[1]) for f in found} == {("lib/tiny.dl", 3), ("lib/tiny.dl", 4)}


def test_criterion_without_text_reading_or_rules(tmp_path):
    trial = TRIAL.replace("    text: Over 80.\n", "").replace("    reading: Age in whole years >= 18.\n", "")
    trial = trial.replace("    lacks:\n      - tiny_young(P)\n", "")
    root = write_tiny(tmp_path, trial=trial)
    found = [f for f in findings(root) if f[2] == "criterion"]
    i1, e1 = line_of(root, "- id: I1"), line_of(root, "- id: E1")
    assert found == [
        ("trials/tiny.yaml", i1, "criterion", "I1: no `reading` (the protocol's words and the reading used are both required)"),
        ("trials/tiny.yaml", e1, "criterion", "E1: no `lacks` rules, so the rules can never conclude that its condition lacks"),
        ("trials/tiny.yaml", e1, "criterion", "E1: no `text` (the protocol's words and the reading used are both required)"),
    ]


def test_syntax_error_is_reported_with_its_line_and_the_rest_still_checked(tmp_path):
    root = write_tiny(tmp_path, trial=TRIAL.replace("(A >= 18)", "(A >= 18"),
                      lib=LIB + "spare(P) <= (A > 1) & age_at(P, 'registration', A)\n")
    found = findings(root)
    assert found == [
        ("lib/tiny.dl", 3, "unsafe", "A in `A > 1`: a comparison needs its variables bound"),
        ("trials/tiny.yaml", line_of(root, "(A >= 18"), "syntax",
         "syntax error in tiny/I1 holds: '(' was never closed (undefined/unused checks wait until every rule file loads)"),
    ]


def test_criterion_without_test_case(tmp_path):
    root = write_tiny(tmp_path, cases=["adult", "18", "17"])
    assert [f for f in findings(root) if f[2] == "untested"] == [
        ("trials/tiny.yaml", line_of(root, "- id: E1"), "untested", "tiny/E1: no test case expects its outcome")]


def test_cli_exit_codes(tmp_path):
    root = write_tiny(tmp_path, cases=["adult", "18", "17"])
    result = CliRunner().invoke(main, ["lint", str(root)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{root}/trials/tiny.yaml:{line_of(root, '- id: E1')}: untested: tiny/E1: no test case expects its outcome",
        "1 problem found"]
    missing = CliRunner().invoke(main, ["lint", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert "no such file or directory" in missing.output


def test_all_cases_of_the_fixture_exist():
    assert set(CASES) == {"adult", "18", "17", "unknown", "80", "81"}


def test_unused_ok_pragma_keeps_lib_vocabulary(tmp_path):
    lib = LIB + "spare(P) <= sex(P, S)   # lint: unused-ok (vocabulary)\nother(P) <= sex(P, S)\n"
    found = findings(write_tiny(tmp_path, lib=lib))
    assert found == [("lib/tiny.dl", 4, "unused", "other is defined but no rule uses it")]


RIGHT = "reach(P, A, B) <= lesion_organ_next(P, A, C) & reach(P, C, B)\n"
CHAIN = ("lesion_organ_next(P, A, B) <= lesion(P, A, B)\n"    # any relation a patient's record can fill
         "reach(P, A, B) <= lesion_organ_next(P, A, B)\n")
USE = "tiny_reach(P) <= reach(P, A, B)\n  tiny_old(P) <= known_age(P, A) & (A > 80)"


def _recursion(tmp_path, clause):
    root = write_tiny(tmp_path, lib=LIB + CHAIN + clause, trial=TRIAL.replace(
        "tiny_old(P) <= known_age(P, A) & (A > 80)", USE).replace("      - tiny_old(P)", "      - tiny_old(P) & tiny_reach(P)"))
    return root, [f for f in findings(root) if f[2] == "recursion"]


def test_right_recursion_is_refused_with_the_left_recursive_rewrite(tmp_path):
    root, found = _recursion(tmp_path, RIGHT)
    assert [(f[0], f[1]) for f in found] == [("lib/tiny.dl", line_of(root, "reach(P, C, B)", "lib/tiny.dl"))]
    assert "reach(P, C, B) is called after lesion_organ_next(P, A, C)" in found[0][3]
    assert "r(X, Y) <= r(X, Z) & edge(Z, Y)" in found[0][3]


def test_left_recursion_and_a_marked_acyclic_walk_pass(tmp_path):
    assert _recursion(tmp_path / "left", "reach(P, A, B) <= reach(P, A, C) & lesion_organ_next(P, C, B)\n")[1] == []
    marked = RIGHT.rstrip("\n") + "  # lint: recursion-ok (the walk only moves forward)\n"
    assert _recursion(tmp_path / "marked", marked)[1] == []


def test_needs_must_name_what_the_passing_side_reads(tmp_path):
    head = "    reading: Age in whole years >= 18.\n"
    assert head in TRIAL
    good = TRIAL.replace(head, head + "    needs: a birth date and dates.registration\n")
    assert findings(write_tiny(tmp_path / "good", trial=good)) == []
    bad = TRIAL.replace(head, head + "    needs: a birth date and dates.randomization\n")
    root = write_tiny(tmp_path / "bad", trial=bad)
    (found,) = [f for f in findings(root) if f[2] == "needs"]
    assert found[:3] == ("trials/tiny.yaml", line_of(root, "  - id: I1"), "needs")
    assert "I1: needs: names dates.randomization, which its holds rules do not read" in found[3]
    assert "dates.registration" in found[3]
