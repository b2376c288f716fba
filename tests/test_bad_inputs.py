"""The bad-input catalogue (docs/errors.md, tests/bad_inputs/): every case through the real CLI.

Each case must end with exit code 2 and exactly the documented message, no traceback, and a
bounded peak memory. The table in docs/errors.md is the specification: a row whose message
drifts from what Eligo prints fails here, so the documentation cannot rot.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.bad_input_runner import CASES_DIR, DEVICES, GENERATED, documented_cases, run_case

CASES = documented_cases()
PEAK_RSS_LIMIT_MB = 256      # every case measures 38-56 MB; a parse that expands input blows far past this


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    """The selected cases, two processes at a time (each is a separate `eligo` run of ~0.4 s)."""
    selected = [item.callspec.params["case"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_bad_input_is_one_clear_message_and_exit_2"]   # rule-test items have none
    base = tmp_path_factory.mktemp("bad_inputs")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case.command: pool.submit(run_case, case, base / str(i)) for i, case in enumerate(selected)}
        return {command: future.result() for command, future in futures.items()}


def _matches(documented, actual):
    """`…` in a documented message stands for a vocabulary list that grows with the reference files."""
    pattern = ".*".join(re.escape(part) for part in documented.split("…"))
    return re.fullmatch(pattern, actual) is not None


def test_the_catalogue_covers_what_the_issue_lists():
    commands = " ".join(case.command for case in CASES)
    for needle in ("malformed.yaml", "malformed.json", "wrong-type", "negative-size", "absurd-size", "unknown-unit",
                   "impossible-date", "future-date", "unknown-vertebra", "duplicate-lesion-id", "empty.yaml",
                   "binary.yaml", "a-directory.yaml", "missing.yaml", "latin1.yaml", "huge-20mb.yaml",
                   "deep-nesting", "alias-bomb.yaml", "--trial nope", "--as-of 23/11/2026"):
        assert needle in commands, needle
    assert len(CASES) >= 60


def test_every_case_file_is_documented_and_every_documented_file_exists():
    documented = {case.input for case in CASES}
    on_disk = {path.name for path in CASES_DIR.iterdir()}
    assert on_disk - documented == set(), "case files missing from docs/errors.md"
    assert documented - on_disk - set(GENERATED) - set(DEVICES) == set(), "documented cases without a file"
    assert not set(GENERATED) & on_disk, "generated cases must not be committed"


@pytest.mark.parametrize("case", CASES, ids=[case.command.split(" ", 2)[2].replace(" --as-of 2026-11-23", "") for case in CASES])
def test_bad_input_is_one_clear_message_and_exit_2(case, outcomes):
    run = outcomes[case.command]
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    if case.message.startswith("Error: "):          # a usage error, reported by click after its Usage lines
        assert _matches(case.message, lines[-1]), lines
    else:
        assert len(lines) == 1 and _matches("eligo: " + case.message, lines[0]), lines
        if case.input != "valid.yaml":                    # the option cases are about the option
            assert lines[0].startswith(f"eligo: {case.input}: ")
    assert run.max_rss_kb < PEAK_RSS_LIMIT_MB * 1024, f"peak memory {run.max_rss_kb // 1024} MB"


def test_the_valid_record_of_the_option_cases_is_valid(tmp_path):
    """So the option cases fail because of the option, not the record."""
    from tests.bad_input_runner import Case

    run = run_case(Case("valid", "eligo check valid.yaml --as-of 2026-11-23 --format json", ""), tmp_path)
    assert run.returncode == 0, run.stderr
    assert '"patient": "BAD-001"' in run.stdout
