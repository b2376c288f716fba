"""The code tables of the FHIR importer: facts/reference/fhir-codes.yaml, plus the LOINC codes of
labs.yaml and the RxNorm codes of drugs.yaml. A coding is looked up by (system, code); a code not
in a table is reported by the importer, never guessed from its display text.

    python -m reasoner.fhir.codes --write-doc   # rewrite the code tables in docs/fhir-mapping.md
    python -m reasoner.fhir.codes --check-doc   # exit 1 if they are out of date (a test runs this)
"""

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from ..paths import reference_dir
from ..record.reference import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "fhir-mapping.md"
BEGIN, END = "<!-- BEGIN CODE TABLES (python -m reasoner.fhir.codes --write-doc) -->", "<!-- END CODE TABLES -->"


@dataclass(frozen=True)
class Hit:
    entry: object        # the table's value for the code
    system: str          # short system name (snomed, loinc, ...)
    code: str
    index: int           # position of the coding in CodeableConcept.coding


@lru_cache(maxsize=1)
def tables():
    with open(reference_dir() / "fhir-codes.yaml", encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    data["lab"] = {"loinc": {code: test for test, spec in reference().labs.items() for code in spec.get("loinc", [])}}
    data["drug"] = {"rxnorm": _rxnorm_index()}
    return data


def _rxnorm_index():
    with open(reference_dir() / "drugs.yaml", encoding="utf-8") as handle:
        drugs = yaml.safe_load(handle)["drugs"]
    index = {}
    for name, entry in drugs.items():
        for code in entry.get("rxnorm", []):
            if str(code) in index:
                raise ValueError(f"facts/reference/drugs.yaml: RxNorm {code} is listed for both {index[str(code)]} and {name}")
            index[str(code)] = name
    return index


def system_name(uri):
    return tables()["systems"].get(uri) if isinstance(uri, str) else None


def codings(concept):
    """The well-formed codings of a CodeableConcept (or of a single Coding), as (index, system, code, display)."""
    if not isinstance(concept, dict):
        return []
    items = concept.get("coding") if "coding" in concept else [concept]
    out = []
    for i, coding in enumerate(items if isinstance(items, list) else []):
        if isinstance(coding, dict) and isinstance(coding.get("code"), (str, int)):
            out.append((i, system_name(coding.get("system")), str(coding["code"]).strip(), coding.get("display")))
    return out


def lookup(table, concept):
    """The first coding of `concept` that `table` knows, as a Hit, or None."""
    entries = tables()[table]
    for index, system, code, _display in codings(concept):
        known = entries.get(system) or {}
        if code in known:
            return Hit(known[code], system, code, index)
        if system == "icd10":
            for prefix in sorted(known, key=len, reverse=True):
                if code.upper().startswith(prefix.upper()):
                    return Hit(known[prefix], system, code, index)
    return None


def describe(concept):
    """How an unmapped CodeableConcept is named in a warning: its codings, or its text."""
    parts = []
    for _i, system, code, display in codings(concept):
        raw = system or "unknown system"
        parts.append(f"{raw} {code}" + (f" '{display}'" if display else ""))
    if not parts and isinstance(concept, dict) and concept.get("text"):
        parts.append(f"text '{concept['text']}'")
    return ", ".join(parts) or "no code"


def _display(entry):
    if isinstance(entry, dict):
        shown = {k: v for k, v in entry.items() if k != "display"}
        meaning = ", ".join(f"{k}: {v}" for k, v in shown.items())
        return entry.get("display", ""), meaning
    return str(entry), ""


def render_tables():
    """Markdown listing every code the importer understands, table by table."""
    data, lines = tables(), []
    for table, by_system in data.items():
        if table in ("systems", "source"):
            continue
        lines += ["", f"### {table}", "", "| system | code | display | becomes |", "|---|---|---|---|"]
        for system, entries in by_system.items():
            for code, entry in entries.items():
                display, meaning = _display(entry)
                if table in ("lab", "drug"):
                    display, meaning = "", f"{'test' if table == 'lab' else 'drug'}: {entry}"
                lines.append(f"| {system} | `{code}` | {display} | {meaning} |")
    systems = ["", "### systems", "", "| system URI | name |", "|---|---|"]
    systems += [f"| {uri} | {name} |" for uri, name in data["systems"].items()]
    return "\n".join(systems + lines) + "\n"


def _doc_text(current):
    head, _, rest = current.partition(BEGIN)
    _old, _, tail = rest.partition(END)
    return head + BEGIN + "\n" + render_tables() + END + tail


def main(argv):
    current = DOC.read_text(encoding="utf-8")
    if BEGIN not in current or END not in current:
        print(f"{DOC}: the markers {BEGIN} ... {END} are missing", file=sys.stderr)
        return 1
    wanted = _doc_text(current)
    if "--check-doc" in argv:
        if wanted != current:
            print(f"{DOC} is out of date: run python -m reasoner.fhir.codes --write-doc", file=sys.stderr)
            return 1
        return 0
    if "--write-doc" in argv:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC}")
        return 0
    print(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
