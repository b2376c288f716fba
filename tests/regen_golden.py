"""Golden (snapshot) trees of `eligo explain` for every example record and each trial it names.

Cases: facts/patients/*.yaml x the trials in their `# expect <trial>: <verdict>` header lines,
evaluated as of tests/conftest.py's AS_OF. Snapshots: tests/golden/explain/<record>--<trial>.txt.
Regenerate all of them (after an intended change to rules, wording or examples) from the repo root:

    python -m tests.regen_golden

and review the diff before committing it.
"""

import dataclasses
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "explain"
EXPECT = re.compile(r"^# expect ([a-z0-9_]+)(?:/[a-z]+)?: (?:eligible|ineligible|indeterminate)\s*$", re.M)
COMMAND = "python -m tests.regen_golden"


def cases():
    """[(record path, trial id, golden path)] for every example and each trial it expects."""
    out = []
    for path in sorted((ROOT / "facts" / "patients").glob("*.yaml")):
        for trial in sorted(set(EXPECT.findall(path.read_text(encoding="utf-8")))):
            out.append((path, trial, GOLDEN / f"{path.stem}--{trial}.txt"))
    return out


def render(path, trial):
    """The tree a user gets from `eligo explain <path> --trial <trial> --as-of AS_OF` in the repo root
    (condensed, as by default)."""
    from reasoner.explain.condense import condense
    from reasoner.explain.graph import explain
    from reasoner.pipeline import load_input
    from reasoner.render.tree import render_tree
    from tests.conftest import AS_OF

    record = dataclasses.replace(load_input(path, AS_OF), filename=str(path.relative_to(ROOT)))
    return render_tree(condense(explain(record, [trial])))


def main():
    GOLDEN.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for path, trial, golden in cases():
        text = render(path, trial)
        wanted.add(golden)
        if not golden.exists() or golden.read_text(encoding="utf-8") != text:
            golden.write_text(text, encoding="utf-8")
            print(f"wrote {golden.relative_to(ROOT)}")
    for stale in sorted(set(GOLDEN.glob("*.txt")) - wanted):
        stale.unlink()
        print(f"removed {stale.relative_to(ROOT)} (no such example any more)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
