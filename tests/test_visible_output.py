"""Output that cannot be forged or weaponised (issue 13, section 4): control characters, bidi
overrides and zero-width characters are shown escaped wherever a value reaches text (stdout,
stderr messages and warnings, reports, JSON), and CSV cells never start a spreadsheet formula."""

import csv
import io
import json
import shutil

import pytest
import record_strategies  # noqa: F401 - registers and loads the hypothesis profile (ci / thorough)
from click.testing import CliRunner
from conftest import AS_OF, ROOT
from hypothesis import given
from hypothesis import strategies as st

from reasoner.cli.main import main
from reasoner.errors import visible, visible_json
from reasoner.screen.output import csv_cell, csv_text, csv_value, read_csv

RECORD = ROOT / "facts" / "patients" / "ineligible-taormina.yaml"
BUNDLE = ROOT / "tests" / "data" / "fhir" / "mitre" / "ctm-service_patient_data.json"
# What a forged line would look like: another trial's verdict line of `eligo check`.
FORGED = "COSMO: ELIGIBLE"
HOSTILE = [
    ("newline", "\n", "\\n"),
    ("carriage return", "\r", "\\r"),
    ("ESC (terminal escape sequence)", "\x1b[2J", "\\x1b[2J"),
    ("bell", "\x07", "\\x07"),
    ("C1 control (NEL)", "\x85", "\\x85"),
    ("right-to-left override", "\u202e", "\\u202e"),
    ("left-to-right isolate", "\u2066", "\\u2066"),
    ("zero-width space", "\u200b", "\\u200b"),
    ("zero-width joiner", "\u200d", "\\u200d"),
    ("byte order mark", "\ufeff", "\\ufeff"),
    ("line separator", "\u2028", "\\u2028"),
    ("a tag character (outside the BMP)", "\U000e0041", "\\U000e0041"),
]


def eligo(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.mark.parametrize("name, raw, shown", HOSTILE)
def test_visible_escapes_each_hostile_character(name, raw, shown):
    assert visible(f"a{raw}b") == f"a{shown}b"
    assert visible(f"a{raw}b").isprintable()


@pytest.mark.parametrize("text", ["plain", "Zoë Ångström 李", "two  spaces", "a\\nb (a backslash, not a newline)", ""])
def test_visible_leaves_printable_text_alone(text):
    assert visible(text) == text


@pytest.mark.parametrize("name, raw, shown", HOSTILE + [("a lone surrogate", "\ud800", "")])
def test_visible_json_round_trips(name, raw, shown):
    value = {"id": f"P{raw}1", "list": [raw]}
    text = visible_json(json.dumps(value, ensure_ascii=False, indent=2))
    assert text.replace("\n", "").isprintable()
    assert json.loads(text) == value


# -- through the CLI ---------------------------------------------------------------------------------

def hostile_copy(tmp_path, name, source=RECORD):
    path = tmp_path / name
    shutil.copy(source, path)
    return path


@pytest.mark.parametrize("name, raw, shown", HOSTILE[:6])
def test_check_text_output_cannot_print_a_forged_verdict_line(tmp_path, name, raw, shown):
    path = hostile_copy(tmp_path, f"p{raw}{FORGED}.yaml")
    result = eligo("check", path, "--as-of", AS_OF, "--trial", "taormina")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert not any(line.startswith(FORGED) for line in lines)
    assert f"p{shown}{FORGED}.yaml" in lines[0]
    assert all(line.isprintable() for line in lines)


@pytest.mark.parametrize("name, raw, shown", HOSTILE)
def test_error_messages_stay_on_one_visible_line(tmp_path, name, raw, shown):
    missing = tmp_path / f"x{raw}{FORGED}.yaml"
    result = eligo("check", missing, "--as-of", AS_OF)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.rstrip("\n").isprintable()
    assert f"x{shown}{FORGED}.yaml" in result.stderr


def test_every_validation_problem_is_one_line_even_with_a_hostile_file_name(tmp_path):
    path = tmp_path / f"r\n{FORGED}.yaml"
    path.write_text("schema_version: 1\npatient: {id: P1, birth_date: 2999-01-01}\nconsent: {signed: maybe}\n")
    result = eligo("check", path, "--as-of", AS_OF)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) >= 2 and all(f"r\\n{FORGED}.yaml: " in line for line in lines)
    assert not any(line.startswith(FORGED) for line in lines)


def test_fhir_warnings_show_hostile_resource_ids_escaped(tmp_path):
    bundle = json.loads(BUNDLE.read_text())
    bundle["entry"].append({"resource": {"resourceType": "Device", "id": f"d1\n{FORGED}\x1b[2J\u202e"}})
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    for command in (["check", path, "--trial", "taormina"], ["import-fhir", path],
                    ["report", path, "--trial", "taormina", "--format", "json"]):
        result = eligo(*command, "--as-of", AS_OF)
        assert result.exit_code == 0, result.output
        assert f"warning: Device/d1\\n{FORGED}\\x1b[2J\\u202e: " in result.stderr
        assert all(line.isprintable() for line in result.stderr.splitlines())
        assert not any(line.startswith(FORGED) for line in result.stderr.splitlines())


def test_import_fhir_header_cannot_inject_yaml(tmp_path):
    path = hostile_copy(tmp_path, "b\npatient: {id: FORGED}\n#.json", BUNDLE)
    result = eligo("import-fhir", path, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    import yaml
    assert yaml.safe_load(result.stdout)["patient"]["id"] != "FORGED"
    assert result.stdout.splitlines()[0] == f"# Imported from {tmp_path}/b\\npatient: {{id: FORGED}}\\n#.json by eligo " \
                                            f"import-fhir ({result.stderr.count('warning:')} warnings)."


@pytest.mark.parametrize("fmt", ["html", "md", "json"])
def test_reports_show_a_bidi_override_in_the_file_name_escaped(tmp_path, fmt):
    path = hostile_copy(tmp_path, "p\u202elmth.exe\u200b.yaml")
    result = eligo("report", path, "--trial", "taormina", "--as-of", AS_OF, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "\u202e" not in result.stdout and "\u200b" not in result.stdout
    if fmt == "json":
        assert json.loads(result.stdout)["input"] == str(path)       # the value itself is kept exactly
    else:
        assert "\\u202e" in result.stdout and "\\u200b" in result.stdout


def test_check_json_keeps_the_value_but_not_the_raw_character(tmp_path):
    path = hostile_copy(tmp_path, "p\u202e1.yaml")
    result = eligo("check", path, "--trial", "taormina", "--as-of", AS_OF, "--format", "json")
    assert "\u202e" not in result.stdout and "\\u202e" in result.stdout
    assert json.loads(result.stdout)["input"] == str(path)


def test_screen_errors_and_warnings_on_stderr_are_visible(tmp_path):
    folder = tmp_path / "cohort"
    folder.mkdir()
    (folder / f"bad\n{FORGED}\u202e.yaml").write_text("schema_version: 1\npatient: {id: P1, birth_date: 2999-01-01}\n")
    shutil.copy(RECORD, folder / "good.yaml")
    result = eligo("screen", folder, "--workers", 1, "--trial", "taormina", "--as-of", AS_OF)
    assert result.exit_code == 2
    assert f"invalid {folder}/bad\\n{FORGED}\\u202e.yaml: " in result.stderr
    assert all(line.isprintable() for line in result.stderr.splitlines())
    assert len(result.stdout.splitlines()) == 1     # the good record's row


# -- CSV formula injection ---------------------------------------------------------------------------

CELLS = ["=1+2", "=HYPERLINK(\"http://x\",\"y\")", "+41 22", "-3", "@SUM(A1)", "\tx", "\rx", "\x00x", "'", "'=1", "''",
         "", "plain", "a=b", "3", "Zoë", "=\n=", " =1"]


@pytest.mark.parametrize("value", CELLS)
def test_csv_cells_never_start_a_formula_and_read_back_exactly(value):
    cell = csv_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\x00"))
    assert csv_value(cell) == value
    text = csv_text([{"a": value, "b": 7}], ("a", "b"))
    assert read_csv(text) == [{"a": value, "b": "7"}]
    raw = list(csv.reader(io.StringIO(text)))[1]
    assert not raw[0].startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("value, cell", [("=1+2", "'=1+2"), ("-3", "'-3"), ("plain", "plain"), ("'x", "''x"), (5, 5)])
def test_csv_cell_prefixes_one_quote_only_where_needed(value, cell):
    assert csv_cell(value) == cell


def test_screen_csv_outputs_are_neutralised_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "=HYPERLINK(1)"
    folder.mkdir()
    shutil.copy(RECORD, folder / "good.yaml")
    (folder / "bad.yaml").write_text("schema_version: 1\npatient: {id: P1, birth_date: 2999-01-01}\n")
    result = eligo("screen", "=HYPERLINK(1)", "--workers", 1, "--trial", "taormina", "--as-of", AS_OF,
                   "--out", "rows.csv", "--errors", "errors.csv", "--funnel", "funnel.csv")
    assert result.exit_code == 2, result.output
    for name, source in (("rows.csv", "=HYPERLINK(1)/good.yaml"), ("errors.csv", "=HYPERLINK(1)/bad.yaml")):
        text = (tmp_path / name).read_text()
        raw = list(csv.reader(io.StringIO(text)))
        assert raw[1][0] == "'" + source                         # what a spreadsheet sees: text
        assert read_csv(text)[0]["source"] == source             # what Eligo's reader gives back
    funnel = list(csv.DictReader((tmp_path / "funnel.csv").open()))
    assert funnel[0]["entering"] == "1" and funnel[0]["trial"] == "taormina"   # numbers stay numbers


# -- properties (the profile of tests/record_strategies.py: 60 examples in CI, 1000 when thorough) -----

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


@given(ANY_TEXT)
def test_any_text_is_shown_on_one_printable_line(text):
    shown = visible(text)
    assert shown.isprintable()
    assert shown == text or not text.isprintable()          # printable text is never changed


@given(ANY_TEXT)
def test_any_text_survives_json_output_exactly(text):
    out = visible_json(json.dumps({"v": text}, ensure_ascii=False))
    assert out.isprintable() and json.loads(out) == {"v": text}


@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20), min_size=1, max_size=4))
def test_any_csv_row_reads_back_exactly_and_never_starts_a_formula(values):
    columns = tuple(f"c{i}" for i in range(len(values)))
    text = csv_text([dict(zip(columns, values))], columns)
    assert read_csv(text) == [dict(zip(columns, values))]
    for cell in list(csv.reader(io.StringIO(text, newline="")))[1]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
