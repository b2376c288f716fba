"""Snapshot tests of the explanation tree: one per example record and trial (see tests/regen_golden.py)."""

import pytest

from tests.regen_golden import COMMAND, GOLDEN, cases, render

CASES = cases()


@pytest.mark.parametrize("path,trial,golden", CASES, ids=[g.stem for _p, _t, g in CASES])
def test_tree_matches_its_golden(path, trial, golden):
    assert golden.exists(), f"no snapshot {golden.name}; create it with `{COMMAND}` and review it"
    expected = golden.read_text(encoding="utf-8")
    actual = render(path, trial)
    assert actual == expected, f"{golden.name} differs; if the change is intended, run `{COMMAND}` and review the diff"


def test_each_verdict_of_each_encoded_example_has_a_snapshot():
    """Every example trial gets goldens; TAORMINA has all three kinds of verdict."""
    names = {g.name for _p, _t, g in CASES}
    for kind in ("eligible", "ineligible", "indeterminate"):
        assert f"{kind}-taormina--taormina.txt" in names
    assert {p.name for p in GOLDEN.glob("*.txt")} == names, f"stale snapshots; run `{COMMAND}`"
