"""Writes docs/patient-record.md from the record schema, so the reference cannot drift from the code.

    python -m reasoner.record.docgen            # rewrite docs/patient-record.md
    python -m reasoner.record.docgen --check    # exit 1 if it is out of date (a test runs this)
"""

import sys
from pathlib import Path

from .format import RECORD, SCHEMA_VERSION
from .validator import ENTRY, FIELD, Bool, Choice, Date, Enum, List, Map, Num, Obj, Str

DOC = Path(__file__).resolve().parents[2] / "docs" / "patient-record.md"

INTRO = """# Patient record format (schema_version {version})

A record is one YAML or JSON file describing one patient. `eligo check RECORD` validates it and
reports every problem as `file: field.path: expected ..., got ...` (exit code 2). `eligo schema`
prints the same format as JSON Schema (draft 2020-12) for tools that export records.

**Open world.** A field or section left out means *not recorded*: the criteria that need it become
`unknown` and name it as missing. An empty list (`other_malignancies: []`) means *known none*.
`null` is refused: leave the field out instead. Unknown fields are errors (nothing is silently
dropped). Dates are `YYYY-MM-DD` (nothing else: not `2026-1-5`, not a date with a time). A record
has `schema_version`; a file with `resourceType` instead is read as FHIR, and one with both or
neither is refused.

**YAML values are read as written** (reasoner/record/scalars.py), not by YAML 1.1's rules: numbers
only in decimal (`034` is 34, `1e3` is 1000; `0x1F`, `0o17`, `1:30`, `1_000`, `.inf` and `.nan`
stay text, so a number field refuses them), booleans only `true`/`false` (`yes`, `no`, `on`, `NO`
stay text: a true/false field refuses them, a text field keeps them), and keys are the text written
(`on:` is the key "on").

**Dates and `--as-of`.** `--as-of` is what was known on that day. Every date in the record is an
observation (a test, a study, an assessment, a treatment given, a judgment) except the planned
trial dates `dates.*`, which are plans and may lie after it. An observation dated after `--as-of`
was not known then: it is **set aside** — left out for the rules and listed in every output
(`eligo check` text and JSON `set_aside`, reports, screen rows). What goes is shown per field below:
*entry set aside* drops the whole entry the date belongs to (a lab result, an imaging study, a
regimen that started later, a receptor result, the consent); *field set aside* drops that date alone
(a regimen or trial that ended later was still going on that day). `patient.birth_date` is never
set aside: a later one is an error. `--strict-dates` refuses every such date instead (exit 2).
Each criterion counts ages and windows from its trial's reference date (`dates.*`), not from
`--as-of` (docs/readings.md, "Reference dates").

**Units.** Sizes are millimetres, percentages 0-100. Lab values take any UCUM unit that converts to
the test's canonical unit (facts/reference/labs.yaml: bilirubin mg/dL, enzymes U/L, albumin g/dL,
creatinine mg/dL, creatinine clearance mL/min, blood counts 10*9/L, LVEF %); `uln` and `lln` are in
the same unit as `value`. A unit that does not convert is an error, never a guess. Each test has
plausible bounds in its canonical unit (`bounds:` in labs.yaml, with the source of every factor):
a value, `uln` or `lln` outside them is refused naming the bounds and the unit, since it is a
slip or a wrong unit (a haemoglobin of 120 "g/dL" is 120 g/L).

**Ids and references.** Ids hold visible characters only (no line breaks, tabs, bidi or zero-width
characters). An id that refers to another part of the record must name something there, exactly
(case matters): `radiotherapy[].lesions` and `surgery[].lesions` a lesion of `metastases` or
`locoregional_lesions`, `imaging[].regimen` and `imaging[].uses[].regimen` a regimen of
`systemic_therapy` (checked when that section is recorded and not listed in
`incomplete_sections`); a refusal lists the ids that exist.

**One study, several uses.** An imaging study is recorded once. What it was for is either
`purpose` (and `regimen`), or, for a study serving several regimens, `uses`: a list of
`{{purpose, regimen}}` — e.g. the scan that showed progression on one line and is the baseline of the
next: `uses: [{{purpose: progression, regimen: L1}}, {{purpose: baseline, regimen: L2}}]`. A criterion
reading a purpose for a regimen (COSMO's baseline and progression scan of the current line) reads
the use for that regimen; `purpose` or `regimen` beside `uses` is refused.

**Vocabularies.** Organs: facts/reference/organs.yaml. Drugs (names or aliases):
facts/reference/drugs.yaml. Vertebral levels: C1-C7, T1-T12, L1-L5, S1-S5.

**Attestations** record an investigator's judgment for criteria that need one: `criterion:
TRIAL/ID` and `answer: yes|no`, where *yes* means the criterion's condition is met — for an
exclusion criterion (e.g. `taormina/E6`), *yes* means the excluding condition is present. Only a
criterion whose rules read an attestation takes one (computed from the rules; `eligo criteria
TRIAL`): any other is refused with the list of that trial's criteria that do.

Example: [facts/patients/eligible-taormina.yaml](../facts/patients/eligible-taormina.yaml).

## Fields

`[]` marks a list item; **required** fields must be present when their parent is.

| field | expected | meaning |
|---|---|---|
"""


def _expected(spec):
    if isinstance(spec, Enum):
        return "one of: " + ", ".join(f"`{v}`" for v in spec.values)
    if isinstance(spec, Bool):
        return "true / false"
    if isinstance(spec, Num):
        return spec.expected()
    if isinstance(spec, Date):
        if not spec.past:
            return "date YYYY-MM-DD (a plan: may lie after --as-of)"
        return "date YYYY-MM-DD" + {ENTRY: " (after --as-of: entry set aside)", FIELD: " (after --as-of: field set aside)",
                                    None: " (on or before --as-of)"}[spec.aside]
    if isinstance(spec, Str):
        return f"text (at most {spec.max_len} characters)"
    if isinstance(spec, List):
        keys = (spec.key,) if isinstance(spec.key, str) else spec.key or ()
        unique = ", " + " and ".join(f"`{k}`" for k in keys) + (" unique" if len(keys) == 1 else " unique together") if keys else ""
        values = " of: " + ", ".join(f"`{v}`" for v in spec.item.values) if isinstance(spec.item, Enum) else ""
        return f"list{values}{unique}"
    if isinstance(spec, (Obj, Map)):
        return "mapping"
    if isinstance(spec, Choice):
        return "see meaning"
    return type(spec).__name__


def _rows(spec, path, required=False):
    flag = " **required**" if required else ""
    if path:
        yield f"| `{path}` | {_expected(spec)}{flag} | {spec.doc} |"
    if isinstance(spec, Obj):
        for key, child in spec.fields.items():
            yield from _rows(child, f"{path}.{key}" if path else key, key in spec.required)
    elif isinstance(spec, List) and isinstance(spec.item, (Obj, Map)):
        yield from _rows_children(spec.item, f"{path}[]")
    elif isinstance(spec, Map):
        for key, doc in spec.key_docs.items():
            yield f"| `{path}.{key}` | {_expected(spec.item)} | {doc} |"


def _rows_children(spec, path):
    if isinstance(spec, Obj):
        for key, child in spec.fields.items():
            yield from _rows(child, f"{path}.{key}", key in spec.required)


def render():
    return INTRO.format(version=SCHEMA_VERSION) + "\n".join(_rows(RECORD, "")) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is out of date: run python -m reasoner.record.docgen", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
