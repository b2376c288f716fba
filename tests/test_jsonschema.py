"""`eligo schema`: the record format as JSON Schema 2020-12, generated from the one definition."""

import copy
import datetime as dt
import json

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT

from reasoner.cli.main import main
from reasoner.record.format import RECORD
from reasoner.record.jsonschema import record_schema
from reasoner.record.validator import Choice, List, Map, Obj

EXAMPLES = sorted((ROOT / "facts" / "patients").glob("*.yaml"))
RULE_TEST_RECORDS = sorted((ROOT / "rules" / "tests" / "records").glob("*.yaml"))


def _as_json(value):
    """A record as an exporter would send it in JSON: dates as text."""
    if isinstance(value, dict):
        return {str(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return value


@pytest.fixture(scope="module")
def validator():
    schema = record_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_cli_prints_the_schema():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == record_schema()
    assert json.loads(result.output)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", EXAMPLES + RULE_TEST_RECORDS, ids=lambda p: p.name)
def test_every_example_record_validates(validator, path):
    record = _as_json(yaml.safe_load(path.read_text()))
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(record)]
    assert errors == []


def _example():
    return _as_json(yaml.safe_load((ROOT / "facts" / "patients" / "eligible-taormina.yaml").read_text()))


@pytest.mark.parametrize("change, where", [
    (lambda r: r["metastases"][0].__setitem__("size_mm", "big"), ["metastases", 0, "size_mm"]),
    (lambda r: r["metastases"][0].__setitem__("size_mm", -1), ["metastases", 0, "size_mm"]),
    (lambda r: r["metastases"][0].__setitem__("organ", "spleenish"), ["metastases", 0, "organ"]),
    (lambda r: r["patient"].__setitem__("birth_date", "23/11/1960"), ["patient", "birth_date"]),
    (lambda r: r["patient"].__setitem__("favourite_colour", "blue"), ["patient"]),
    (lambda r: r.pop("schema_version"), []),
    (lambda r: r.__setitem__("schema_version", 99), ["schema_version"]),
    (lambda r: r.__setitem__("findings", {"made_up_finding": True}), ["findings"]),
])
def test_a_bad_record_does_not_validate(validator, change, where):
    record = copy.deepcopy(_example())
    assert list(validator.iter_errors(record)) == []
    change(record)
    errors = list(validator.iter_errors(record))
    assert errors and any(list(e.absolute_path) == where for e in errors)


def _specs(spec):
    yield spec
    children = []
    if isinstance(spec, Obj):
        children = spec.fields.values()
    elif isinstance(spec, (Map, List)):
        children = [spec.item]
    for child in children:
        yield from _specs(child)


def test_every_field_of_the_format_is_in_the_schema():
    """A field added to the format appears in the schema (nothing is generated from a second list)."""
    schema = record_schema()
    for name, spec in RECORD.fields.items():
        assert name in schema["properties"], name
        if isinstance(spec, Obj):
            assert set(spec.fields) == set(schema["properties"][name]["properties"])
    assert sum(isinstance(s, Choice) for s in _specs(RECORD)) >= 5
