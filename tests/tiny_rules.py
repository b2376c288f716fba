"""A tiny rules root (lib/, trials/, tests/) written to a tmp dir, for the authoring-tool tests.

TINY has two criteria: I1 age >= 18 (inclusion) and E1 age > 80 (exclusion, through the helpers
tiny_old / tiny_young). Its tests cover every boundary, so every safe mutant dies.
"""

from pathlib import Path

LIB = """\
# Shared helper of the tiny rule set.
known_age(P, A) <= planned(P, 'registration', R) & age_at(P, R, A)
"""

TRIAL = """\
trial:
  id: tiny
  name: TINY
  title: A two-criterion trial for testing the authoring tools
  registry: NONE
  version: "1"
  source: none
rules: |
  tiny_old(P) <= known_age(P, A) & (A > 80)
  tiny_young(P) <= known_age(P, A) & (A <= 80)
criteria:
  - id: I1
    kind: inclusion
    text: Age 18 or over.
    reading: Age in whole years >= 18.
    holds:
      - known_age(P, A) & (A >= 18)
    lacks:
      - known_age(P, A) & (A < 18)
  - id: E1
    kind: exclusion
    text: Over 80.
    reading: Age in whole years > 80 excludes.
    holds:
      - tiny_old(P)
    lacks:
      - tiny_young(P)
#: tiny_old(P): older than 80
#: tiny_young(P): 80 or younger
"""

CASES = {
    "adult": """\
  - name: adult of 56 is eligible
    ref: all criteria
    expect: {verdict: eligible}
""",
    "18": """\
  - name: 18th birthday passes I1
    ref: I1
    set: {patient.birth_date: 2008-06-01}
    expect: {criteria: {I1: pass}}
""",
    "17": """\
  - name: day before the 18th birthday fails I1
    ref: I1
    set: {patient.birth_date: 2008-06-02}
    expect: {verdict: ineligible, criteria: {I1: fail}}
""",
    "unknown": """\
  - name: no birth date leaves both unknown
    ref: I1, E1
    remove: [patient.birth_date]
    expect: {criteria: {I1: unknown, E1: unknown}, missing: {I1: [patient.birth_date]}}
""",
    "80": """\
  - name: 80 is not excluded
    ref: E1
    set: {patient.birth_date: 1946-06-01}
    expect: {criteria: {E1: pass}}
""",
    "81": """\
  - name: 81 is excluded
    ref: E1
    set: {patient.birth_date: 1945-06-01}
    expect: {criteria: {E1: fail}}
""",
}

HEADER = """\
trial: tiny
base: {schema_version: 1, patient: {id: T1, sex: female, birth_date: 1970-06-01}, dates: {registration: 2026-06-01}}
as_of: 2026-06-01
cases:
"""


def write_tiny(root, cases=tuple(CASES), trial=TRIAL, lib=LIB):
    """Write the rules root at root (a Path); cases: keys of CASES to include. Returns root."""
    root = Path(root)
    for folder in ("lib", "trials", "tests"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "lib" / "tiny.dl").write_text(lib)
    (root / "trials" / "tiny.yaml").write_text(trial)
    (root / "tests" / "tiny.yaml").write_text(HEADER + "".join(CASES[k] for k in cases))
    return root


def line_of(root, text, file="trials/tiny.yaml"):
    """1-based line of the first line containing text (for file:line assertions)."""
    for number, line in enumerate((Path(root) / file).read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {file}")
