"""eligo screen: reading cohorts, accounting for every record, order, formats, errors, funnel."""

import copy
import csv
import io
import itertools
import json
import random

import pytest
import yaml
from click.testing import CliRunner
from conftest import AS_OF, EXAMPLE, ROOT

from reasoner.cli.main import main
from reasoner.errors import InputError, RuleConflict
from reasoner.logic.rulebook import rulebook
from reasoner.screen import cohort as screen_module
from reasoner.screen.backends import ordered
from reasoner.screen.cohort import Item, judge_item, open_items, parse_line
from reasoner.screen.funnel import Funnel, StageFunnel
from reasoner.screen.run import Progress, Settings, run


def example():
    return json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text()), default=str))


def patient(pid, **changes):
    data = example()
    data["patient"]["id"] = pid
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


def cohort_lines():
    """Six lines: eligible, indeterminate (no metastases section), ineligible (6 lesions),
    invalid (negative size), a blank line (skipped), not JSON, eligible again."""
    six = [dict(example()["metastases"][0], id=f"M{i}") for i in range(6)]
    bad = patient("P4")
    bad["metastases"][0]["size_mm"] = -5
    return [json.dumps(patient("P1")), json.dumps(patient("P2", metastases=None)), json.dumps(patient("P3", metastases=six)),
            json.dumps(bad), "", "this is not json", json.dumps(patient("P7"))]


@pytest.fixture
def cohort(tmp_path):
    path = tmp_path / "cohort.jsonl"
    path.write_text("\n".join(cohort_lines()) + "\n")
    return path


def screen_to(tmp_path, source, **options):
    out = tmp_path / options.pop("name", "out.jsonl")
    err = io.StringIO()
    settings = Settings(input=str(source), as_of=AS_OF, out=str(out), trial_ids=["taormina"], **options)
    summary = run(settings, stderr=err)
    return summary, out.read_text(), err.getvalue()


def test_every_line_is_accounted_for_in_input_order(tmp_path, cohort):
    summary, text, errors = screen_to(tmp_path, cohort, batch_size=2)
    rows = [json.loads(line) for line in text.splitlines()]
    assert [r["patient"] for r in rows] == ["P1", "P2", "P3", "P7"]
    assert [r["source"] for r in rows] == [f"{cohort}:{n}" for n in (1, 2, 3, 7)]
    assert [r["verdict"] for r in rows] == ["eligible", "indeterminate", "ineligible", "eligible"]
    assert rows[2]["failing"] == ["I3"] and rows[2]["unknown"] == []
    assert "I3" in rows[1]["unknown"] and rows[1]["failing"] == []
    assert all("missing" not in r for r in rows)      # plain screening computes no missing inputs
    assert rows[0]["trial"] == "taormina" and rows[0]["stage"] is None
    c = summary.counts
    assert (c.read, c.judged, c.invalid, c.failed) == (6, 4, 2, 0)   # the blank line is not a record
    assert c.read == c.judged + c.rejected
    lines = errors.splitlines()
    assert lines[0] == f"invalid {cohort}:4: metastases[0].size_mm: expected a number >= 0 and <= 1000, got -5"
    assert lines[1].startswith(f"invalid {cohort}:6: expected a JSON object")


def test_results_are_identical_whatever_the_number_of_workers(tmp_path, cohort):
    lines = cohort_lines() * 4
    big = tmp_path / "big.jsonl"
    big.write_text("\n".join(lines) + "\n")
    _s1, one, _e1 = screen_to(tmp_path, big, workers=1, batch_size=3, name="one.jsonl")
    _s2, two, _e2 = screen_to(tmp_path, big, workers=2, batch_size=2, name="two.jsonl")
    assert one == two
    assert len(one.splitlines()) == 16


def test_a_crash_in_one_record_is_reported_and_the_run_goes_on(tmp_path, cohort, monkeypatch):
    real = screen_module.screening_rows

    def screening_rows(source, record, *args):
        if record.patient_id == "P3":
            raise RuleConflict("rules/trials/taormina.yaml:99: taormina/I3: the rules derive both holds and lacks")
        if record.patient_id == "P7":
            raise ZeroDivisionError("division by zero")
        return real(source, record, *args)

    monkeypatch.setattr(screen_module, "screening_rows", screening_rows)
    summary, text, errors = screen_to(tmp_path, cohort, errors=str(tmp_path / "errors.jsonl"))
    assert [json.loads(line)["patient"] for line in text.splitlines()] == ["P1", "P2"]
    assert (summary.counts.read, summary.counts.judged, summary.counts.invalid, summary.counts.failed) == (6, 2, 2, 2)
    reported = [json.loads(line) for line in (tmp_path / "errors.jsonl").read_text().splitlines()]
    assert [(e["source"].rsplit(":", 1)[1], e["status"], e["patient"]) for e in reported] == [
        ("3", "failed", "P3"), ("4", "invalid", None), ("6", "invalid", None), ("7", "failed", "P7")]
    assert reported[0]["reason"].startswith("RuleConflict: rules/trials/taormina.yaml:99")
    assert reported[3]["reason"] == "ZeroDivisionError: division by zero"
    assert errors == ""   # everything went to the errors file


def test_folder_input_reads_files_in_name_order(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "b.yaml").write_text(yaml.safe_dump(patient("PB")))
    (folder / "a.json").write_text(json.dumps(patient("PA")))
    (folder / "c.yaml").write_text("patient: [unclosed\n")
    (folder / "sub").mkdir()
    (folder / ".hidden.yaml").write_text("ignored: true\n")
    summary, text, errors = screen_to(tmp_path, folder)
    rows = [json.loads(line) for line in text.splitlines()]
    assert [(r["source"], r["patient"]) for r in rows] == [(f"{folder}/a.json", "PA"), (f"{folder}/b.yaml", "PB")]
    assert (summary.counts.read, summary.counts.judged, summary.counts.invalid) == (4, 2, 2)
    assert f"invalid {folder}/c.yaml: line 2 column 1: invalid YAML" in errors
    assert f"invalid {folder}/sub: is a directory" in errors


def test_csv_rows_and_csv_errors(tmp_path, cohort):
    _summary, text, _errors = screen_to(tmp_path, cohort, name="out.csv", fmt="csv", errors=str(tmp_path / "e.csv"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["source", "patient", "trial", "stage", "verdict", "failing", "unknown", "set_aside"]
    assert rows[1]["unknown"].split(";")[:2] == ["I1", "I3"] and rows[1]["stage"] == ""
    assert rows[2]["failing"] == "I3"
    errors = list(csv.DictReader(io.StringIO((tmp_path / "e.csv").read_text())))
    assert [e["status"] for e in errors] == ["invalid", "invalid"]


def test_a_line_over_the_size_limit_is_rejected_without_stopping(tmp_path, monkeypatch):
    monkeypatch.setattr(screen_module, "MAX_BYTES", 4000)
    path = tmp_path / "c.jsonl"
    huge = json.dumps(patient("HUGE", toxicities=[{"name": "x" * 50, "grade": 1}] * 200))
    path.write_text(huge + "\n" + json.dumps(patient("P2")) + "\n")
    summary, text, errors = screen_to(tmp_path, path)
    assert [json.loads(line)["patient"] for line in text.splitlines()] == ["P2"]
    assert errors.startswith(f"invalid {path}:1: line longer than")
    assert summary.counts.read == 2


@pytest.mark.parametrize("raw, expected", [
    (b"[1, 2]", "expected a JSON object (one record per line), got '[1, 2]'"),
    (b'{"a": 1,}', "column 9: invalid JSON"),
    (b'{"a": "\xff"}', "not UTF-8 text (byte 7)"),
    (b'{"a": "\x00"}', "binary data"),
    (b'{"a": ' * 50 + b"1" + b"}" * 50, "nested too deeply"),
    (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
])
def test_bad_lines_get_one_clear_message(raw, expected):
    with pytest.raises(InputError) as err:
        parse_line(raw, "c.jsonl:3")
    assert str(err.value).startswith("c.jsonl:3: ") and expected in str(err.value)


def test_a_validation_crash_is_a_failed_record_not_a_crash(monkeypatch):
    def boom(data, name, as_of, sha256="", strict_dates=False):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(screen_module, "validate", boom)
    result = judge_item(Item(0, "c.jsonl:1", line=json.dumps(patient("P1")).encode()), AS_OF)
    assert result.status == "failed" and result.reason.startswith("validation crashed: RecursionError")


def test_reading_and_batching_are_lazy():
    """An endless input still gives its first results: nothing waits for the whole cohort."""
    submitted = []

    class Future:
        def __init__(self, batch):
            self.batch = batch

        def result(self):
            return self.batch

    def submit(batch):
        submitted.append(batch)
        pending = len(submitted) - len(taken)
        assert pending <= 3, "more batches in flight than allowed"
        return Future(batch)

    endless = (Item(i, f"x:{i}") for i in itertools.count())
    taken = []
    for batch in ordered(submit, screen_module.batches(endless, 5), in_flight=3):
        taken.append(batch)
        if len(taken) == 4:
            break
    assert [b[0].index for b in taken] == [0, 5, 10, 15]
    assert len(submitted) <= 7


def test_stdin_input_through_the_cli(tmp_path):
    text = "\n".join(cohort_lines()[:3]) + "\n"
    result = CliRunner().invoke(main, ["screen", "-", "--trial", "taormina", "--as-of", AS_OF.isoformat(),
                                       "--workers", "1", "--format", "csv"], input=text)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["source"] for r in rows] == ["<stdin>:1", "<stdin>:2", "<stdin>:3"]
    assert "TAORMINA (taormina): 3 judged patients" in result.stderr
    assert "eligo screen: 3 read = 3 judged + 0 rejected" in result.stderr
    assert "\r" not in result.stderr   # no progress bar when stderr is not a terminal


def test_cli_exit_codes_summary_and_funnel_file(tmp_path, cohort):
    out, funnel = tmp_path / "r.jsonl", tmp_path / "funnel.csv"
    result = CliRunner().invoke(main, ["screen", str(cohort), "--trial", "taormina", "--as-of", AS_OF.isoformat(),
                                       "--workers", "1", "--out", str(out), "--funnel", str(funnel)])
    assert result.exit_code == 2   # some records were invalid (each one reported)
    assert "eligo screen: 6 read = 4 judged + 2 rejected (2 invalid, 0 failed in evaluation)" in result.stderr
    assert result.stdout.startswith("TAORMINA (taormina): 4 judged patients")
    assert "eligible 2, indeterminate 1, ineligible 1" in result.stdout
    rows = list(csv.DictReader(funnel.open()))
    assert [r["criterion"] for r in rows][:3] == ["I1", "I2", "I3"]
    i3 = rows[2]
    assert (i3["entering"], i3["failed"], i3["unknown"], i3["remaining"], i3["decided"]) == ("4", "1", "1", "3", "2")
    assert not (tmp_path / "r.jsonl.checkpoint").exists()


@pytest.mark.parametrize("args, message", [
    (["--resume"], "--resume needs --out"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --backend dask"),
    (["--trial", "nosuch"], "unknown trial 'nosuch'"),
    (["--as-of", "2026-13-01"], "expected a date YYYY-MM-DD"),
    (["--workers", "0"], "0 is not in the range"),
])
def test_usage_errors_exit_2(cohort, args, message):
    result = CliRunner().invoke(main, ["screen", str(cohort), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.jsonl", "no such file or folder"),
    (lambda p: EXAMPLE, "a single record file"),
])
def test_bad_input_paths_exit_2(tmp_path, make, message):
    result = CliRunner().invoke(main, ["screen", str(make(tmp_path)), "--workers", "1"])
    assert result.exit_code == 2 and message in result.output


def test_output_may_not_overwrite_the_input(cohort):
    result = CliRunner().invoke(main, ["screen", str(cohort), "--out", str(cohort), "--workers", "1"])
    assert result.exit_code == 2 and "is the input" in result.output
    assert len(cohort.read_text().splitlines()) == 7


def test_funnel_counts_in_protocol_order():
    f = StageFunnel("t", None, [("I1", "inclusion"), ("I2", "inclusion"), ("E1", "exclusion")])
    f.add([], [])                 # eligible
    f.add(["I1"], ["I2"])         # fails at the first step: never reaches I2
    f.add([], ["I1"])             # unknown at I1, stays in
    f.add(["E1"], ["I2"])         # unknown at I2, fails at E1
    rows = list(f.rows())
    assert [(r["entering"], r["failed"], r["unknown"], r["remaining"], r["decided"]) for r in rows] == [
        (4, 1, 1, 3, 2), (3, 0, 1, 3, 1), (3, 1, 0, 2, 1)]
    assert (f.eligible, f.remaining, f.patients) == (1, 2, 4)


def stepwise_funnel(steps, rows):
    """The funnel counted step by step, as the docs define it: the oracle for StageFunnel's counts."""
    n = len(steps)
    entering, failed, unknown, decided = [0] * n, [0] * n, [0] * n, [0] * n
    for fail, unk in rows:
        certain = True
        for i, (cid, _kind) in enumerate(steps):
            entering[i] += 1
            if cid in fail:
                failed[i] += 1
                break
            if cid in unk:
                unknown[i] += 1
                certain = False
            if certain:
                decided[i] += 1
    return {"patients": len(rows), "entering": entering, "failed": failed, "unknown": unknown, "decided": decided}


def test_funnel_counts_equal_a_step_by_step_count_and_survive_a_restore():
    rng = random.Random(4)
    steps = [(f"I{i}", "inclusion") for i in range(1, 9)] + [("E1", "exclusion")]
    ids = [cid for cid, _kind in steps] + ["X9"]   # X9: not a step of this stage (ignored)
    rows = [(rng.sample(ids, rng.choice([0, 0, 1, 2])), rng.sample(ids, rng.choice([0, 1, 2, 3]))) for _ in range(400)]
    f = StageFunnel("t", None, steps)
    for fail, unk in rows[:150]:
        f.add(fail, unk)
    resumed = StageFunnel("t", None, steps)
    resumed.restore(json.loads(json.dumps(f.state())))
    for fail, unk in rows[150:]:
        resumed.add(fail, unk)
    assert resumed.state() == stepwise_funnel(steps, rows)
    assert {resumed.eligible, resumed.remaining} <= set(range(401)) and resumed.patients == 400
    empty = StageFunnel("t", None, [])
    empty.add(["I1"], [])
    assert (empty.eligible, empty.remaining, list(empty.rows())) == (1, 1, [])


def test_funnel_state_round_trips():
    book = rulebook()
    a = Funnel(book, ["taormina"])
    a.add({"trial": "taormina", "stage": None, "failing": ["I3"], "unknown": ["I1"]})
    b = Funnel(book, ["taormina"])
    b.restore(json.loads(json.dumps(a.state())))
    assert b.csv_text() == a.csv_text() and b.table() == a.table()


def test_progress_shows_patients_per_second_on_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream, total=10, enabled=True)
    progress.update(5)
    assert "5/10 patients" in stream.getvalue() and "patients/s" in stream.getvalue()
    quiet = io.StringIO()
    Progress(quiet, total=10).update(5)   # StringIO is not a terminal
    assert quiet.getvalue() == ""


def test_open_items_numbers_lines_and_skips_blank_ones():
    total, items = open_items("-", stdin=io.BytesIO(b'{"a": 1}\n\n  \n{"b": 2}'))
    items = list(items)
    assert total is None
    assert [(i.index, i.source) for i in items] == [(0, "<stdin>:1"), (1, "<stdin>:4")]
    assert items[1].line == b'{"b": 2}'


@pytest.mark.parametrize("engine_name", ["pydatalog", "fast"])
def test_the_worker_reuses_one_engine(monkeypatch, engine_name):
    from reasoner.logic import engine as engine_module
    from reasoner.logic import fastlog

    module, name = (engine_module, "Engine") if engine_name == "pydatalog" else (fastlog, "FastEngine")
    built = []
    real = getattr(module, name)

    class Counting(real):
        def __init__(self, book):
            built.append(1)
            super().__init__(book)

    monkeypatch.setattr(module, name, Counting)
    monkeypatch.setattr(engine_module, "_LOCAL", type(engine_module._LOCAL)())
    monkeypatch.setattr(fastlog, "_ENGINES", {})
    batch = [Item(i, f"x:{i}", line=json.dumps(patient(f"P{i}")).encode()) for i in range(3)]
    results = screen_module.judge_batch(batch, AS_OF, ["taormina"], engine_name)
    results += screen_module.judge_batch(copy.deepcopy(batch), AS_OF, ["taormina"], engine_name)
    assert [r.status for r in results] == ["judged"] * 6
    assert built == [1]


def test_fhir_files_in_a_folder_are_imported_and_their_warnings_name_the_source(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    fhir = ROOT / "tests" / "data" / "fhir" / "mcode-examples" / "MedicationStatement-mCODECancerRelatedMedicationStatementExample01.json"
    (folder / "bundle.json").write_bytes(fhir.read_bytes())
    summary, text, errors = screen_to(tmp_path, folder)
    assert summary.counts.judged == 1 and len(text.splitlines()) == 1
    assert errors.startswith(f"warning {folder}/bundle.json: MedicationStatement/")
