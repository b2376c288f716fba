"""Record values are data, never code.

A value full of Datalog or Python syntax is stored as one constant, shown verbatim, and changes
nothing else: the verdicts of an injected record equal those of the clean one. YAML is loaded
safely: a tag that would build a Python object is refused with exit code 2 and runs nothing.
(HTML escaping of record values is tested with the HTML report renderer.)
"""

import copy
import json
import subprocess
import sys

import pytest
import yaml

from reasoner.logic.engine import engine
from reasoner.pipeline import judge
from reasoner.record.read import record_from_data
from tests.conftest import AS_OF, EXAMPLE, ROOT

INJECTIONS = (
    "x') & ~eligible(P",
    "P) <= crit_holds(P, 'taormina', 'I1'",
    "__import__('os').system('touch pwned')",
    "eval(compile('1', '', 'eval'))",
    "'; DROP TABLE patients; --",
    "quote \" and ' and `back`",
    "line one\nline two",
    "{0} %s %(x)s ${HOME} $(id)",
    "<script>alert(1)</script>",
    "~has_lesion_class(P, 'cns')",
)


def clean():
    return yaml.safe_load(EXAMPLE.read_text())


def inject(data, text):
    """Every free-text field and id of the example record set to (a unique variant of) text; ids
    take it on one line (an id with a line break is refused: test_a_newline_in_an_id_is_refused)."""
    data = copy.deepcopy(data)
    free, text = text, " ".join(text.splitlines())
    data["patient"]["id"] = text
    data["patient"]["name"] = free
    data["diagnosis"]["histology"] = free
    for i, lesion in enumerate(data["metastases"]):
        lesion["id"] = f"{text}{i}"[:60]
        lesion.setdefault("site", {})["description"] = free
    for i, regimen in enumerate(data["systemic_therapy"]):
        regimen["id"] = f"R{i}{text}"[:60]
    for i, study in enumerate(data["imaging"]):
        study["id"] = f"I{i}{text}"[:60]
        study["findings"] = free
    for i, op in enumerate(data["surgery"]):
        op["id"] = f"S{i}{text}"[:60]
    for comorbidity in data["comorbidities"]:
        comorbidity["detail"] = free
    for attestation in data["attestations"]:
        attestation["by"] = free
        attestation["note"] = free
    return data


def summary(record):
    return [(v.trial.id, v.stage, v.verdict, [(c.id, c.outcome, c.missing) for c in v.criteria])
            for v in judge(record).verdicts]


def eligo(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "reasoner", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("text", INJECTIONS)
def test_injected_values_change_no_verdict(text):
    before = summary(record_from_data(clean(), "p.yaml", AS_OF))
    after = summary(record_from_data(inject(clean(), text), "p.yaml", AS_OF))
    assert after == before
    assert any(verdict == "eligible" for _t, _s, verdict, _c in before)   # the comparison has teeth


@pytest.mark.parametrize("text", INJECTIONS)
def test_injected_values_are_stored_as_one_constant(text):
    record = record_from_data(inject(clean(), text), "p.yaml", AS_OF)
    lesion_id = record.data["metastases"][0]["id"]
    one_line = " ".join(text.splitlines())
    assert lesion_id == f"{one_line}0"[:60] and record.patient_id == one_line
    assert record.data["diagnosis"]["histology"] == text
    with engine().patient(record) as session:
        rows = session.query("lesion", [None, lesion_id, None])
    assert [row[1:] for row in rows] == [(lesion_id, "bone")]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_the_cli_shows_injected_values_verbatim(tmp_path, fmt):
    text = INJECTIONS[0]
    data = inject(clean(), text)
    path = tmp_path / f"p.{fmt}"
    path.write_text(json.dumps(data, default=str) if fmt == "json" else yaml.safe_dump(data, allow_unicode=True))
    as_of = ["--as-of", AS_OF.isoformat()]
    document = eligo("check", str(path), *as_of, "--format", "json")
    assert document.returncode == 0, document.stderr
    assert json.loads(document.stdout)["patient"] == text
    clean_run = eligo("check", str(EXAMPLE), *as_of, "--format", "json")
    # the same verdicts; to_decide names items by their ids, so only its shape is compared
    injected, plain = json.loads(document.stdout)["trials"], json.loads(clean_run.stdout)["trials"]
    assert [[len(c.pop("to_decide")) for c in t["criteria"]] for t in injected] == \
        [[len(c.pop("to_decide")) for c in t["criteria"]] for t in plain]
    assert injected == plain
    text_run = eligo("check", str(path), *as_of)
    assert f"Patient {text}, evaluated" in text_run.stdout
    tree = eligo("explain", str(path), "--trial", "taormina", *as_of)
    assert tree.returncode == 0, tree.stderr
    assert f"lesion {text}0 in bone" in tree.stdout


def test_a_newline_in_an_id_is_refused(tmp_path):
    """An id prints in verdict lines: with a line break it could print a line that looks like
    another trial's verdict (issue 13). Refused, quoted escaped on one line."""
    data = clean()
    data["patient"]["id"] = "two\ntaormina: eligible"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data, default=str))
    run = eligo("check", str(path), "--as-of", AS_OF.isoformat(), "--format", "json")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == (f"eligo: {path}: patient.id: expected an id of visible characters (no line breaks, tabs, bidi or "
                          'zero-width characters), got "two\\ntaormina: eligible"\n')


@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system [\"touch {marker}\"]",
    "!!python/object/new:subprocess.Popen [[\"touch\", \"{marker}\"]]",
    "!!python/name:os.system",
    "!!python/module:os",
])
def test_yaml_cannot_build_python_objects(tmp_path, tag):
    marker = tmp_path / "pwned"
    path = tmp_path / "p.yaml"
    path.write_text("schema_version: 1\npatient: {id: P1}\ndiagnosis: " + tag.format(marker=marker) + "\n")
    run = eligo("check", str(path), "--as-of", AS_OF.isoformat())
    assert run.returncode == 2
    assert "is not allowed in records" in run.stderr and "Traceback" not in run.stderr
    assert not marker.exists()
