"""Outputs never destroy inputs (issue 13, section 3): the one guard, atomic writes, locks, and
report -o choosing its format by extension (issue 18). Unit tests of reasoner/render/files.py,
then each writing command through the CLI."""

import errno
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from conftest import AS_OF, ROOT

from reasoner.cli.main import main
from reasoner.errors import OutputError
from reasoner.render import files
from reasoner.render.files import check_outputs, output_locks, same_file, write_atomic

RECORD = ROOT / "facts" / "patients" / "ineligible-taormina.yaml"
BUNDLE = ROOT / "tests" / "data" / "fhir"


def eligo(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture
def record(tmp_path):
    path = tmp_path / "records" / "p1.yaml"
    path.parent.mkdir()
    shutil.copy(RECORD, path)
    return path


def a_bundle(tmp_path):
    source = BUNDLE / "mitre" / "ctm-service_patient_data.json"
    path = tmp_path / "bundle.json"
    shutil.copy(source, path)
    return path


# -- the guard ---------------------------------------------------------------------------------------

def test_same_file_by_path_symlink_and_hard_link(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("x")
    (tmp_path / "sub").mkdir()
    os.symlink(a, tmp_path / "link.yaml")
    os.link(a, tmp_path / "hard.yaml")
    assert same_file(a, tmp_path / "sub" / ".." / "a.yaml")
    assert same_file(a, tmp_path / "link.yaml")
    assert same_file(a, tmp_path / "hard.yaml")
    assert not same_file(a, tmp_path / "b.yaml")          # does not exist yet: another file
    (tmp_path / "b.yaml").write_text("x")
    assert not same_file(a, tmp_path / "b.yaml")          # same content, another file


@pytest.mark.parametrize("name, outputs, inputs, folders, message", [
    ("an output that is the input", [("-o", "in.yaml")], [("record", "in.yaml")], [], "is the input"),
    ("an output through a symlink", [("-o", "link.yaml")], [("record", "in.yaml")], [], "is the input"),
    ("an output that is a hard link", [("-o", "hard.yaml")], [("record", "in.yaml")], [], "is the input"),
    ("inside the input folder", [("--out", "folder/r.jsonl")], [], [("the input", "folder")], "inside the input folder"),
    ("inside it, deeper", [("--out", "folder/sub/r.jsonl")], [], [("the input", "folder")], "inside the input folder"),
    ("inside it through a symlinked folder", [("--out", "alias/r.jsonl")], [], [("the input", "folder")],
     "inside the input folder"),
    ("the input folder itself", [("--out", "folder")], [], [("the input", "folder")], "inside the input folder"),
    ("two outputs the same", [("--out", "r.csv"), ("--funnel", "r.csv")], [], [], "is also --out"),
    ("two outputs, one a symlink of the other", [("--out", "r.csv"), ("--errors", "rlink.csv")], [], [], "is also --out"),
])
def test_the_guard_refuses(tmp_path, monkeypatch, name, outputs, inputs, folders, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.yaml").write_text("x")
    os.symlink("in.yaml", "link.yaml")
    os.link("in.yaml", "hard.yaml")
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    os.symlink("folder", "alias")
    (tmp_path / "r.csv").write_text("")
    os.symlink("r.csv", "rlink.csv")
    with pytest.raises(OutputError, match=message) as caught:
        check_outputs(outputs, inputs, folders)
    named = str(caught.value)
    assert outputs[-1][1] in named       # both paths are named
    assert (inputs or folders or outputs)[0][1] in named


@pytest.mark.parametrize("outputs, inputs, folders", [
    ([("-o", "out.yaml")], [("record", "in.yaml")], []),
    ([("--out", "folder-next/r.jsonl")], [], [("the input", "folder")]),      # a sibling with a shared prefix
    ([("--out", "r.jsonl"), ("--errors", "e.jsonl")], [], []),
    ([("-o", "-")], [("record", "-")], []),                                  # stdout and stdin are not files
])
def test_the_guard_allows(tmp_path, monkeypatch, outputs, inputs, folders):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.yaml").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder-next").mkdir()
    check_outputs(outputs, inputs, folders)


# -- atomic writes -----------------------------------------------------------------------------------

def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_atomic_replaces_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "r.html"
    path.write_text("old")
    write_atomic(path, "new")
    assert path.read_text() == "new" and leftovers(tmp_path) == []
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_a_full_disk_keeps_the_old_file_and_names_it(tmp_path, monkeypatch, where):
    path = tmp_path / "r.html"
    path.write_text("old report")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if where == "write":
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def fileno(self):
                return self.handle.fileno()

            def write(self, data):
                self.handle.write(data[: len(data) // 2])   # half of it reached the disk
                full()

            def flush(self):
                pass

        monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    elif where == "fsync":
        monkeypatch.setattr(files.os, "fsync", full)
    else:
        monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(OutputError, match=f"{path}: cannot write the report \\(No space left on device\\)"):
        write_atomic(path, "new report " * 1000, "report")
    assert path.read_text() == "old report"
    assert leftovers(tmp_path) == []


def test_dev_full_is_a_clean_error(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with pytest.raises(OutputError, match="/dev/full: cannot write the report \\(No space left on device\\)"):
        write_atomic("/dev/full", "x" * 100000, "report")


def test_a_device_is_written_in_place_never_replaced(tmp_path):
    write_atomic("/dev/null", "anything")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_writing_through_a_symlink_updates_its_target(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    os.symlink(target, tmp_path / "link.json")
    write_atomic(tmp_path / "link.json", "new")
    assert os.path.islink(tmp_path / "link.json") and target.read_text() == "new"


# -- locks -------------------------------------------------------------------------------------------

def test_a_second_lock_on_the_same_output_refuses_and_the_lock_file_goes_away(tmp_path):
    out = tmp_path / "r.jsonl"
    with output_locks([("--out", out)]):
        assert (tmp_path / "r.jsonl.lock").exists()
        with pytest.raises(OutputError, match="another eligo run is writing it"), \
                output_locks([("--out", tmp_path / "." / "r.jsonl")]):
            pass
    assert not (tmp_path / "r.jsonl.lock").exists()
    with output_locks([("--out", out)]):     # free again
        pass


def test_a_stale_lock_file_of_a_killed_run_does_not_block(tmp_path):
    (tmp_path / "r.jsonl.lock").write_text("")     # left by a SIGKILLed run: nobody holds its flock
    with output_locks([("--out", tmp_path / "r.jsonl")]):
        pass


HOLDER = """
import sys, time
from reasoner.render.files import output_locks
with output_locks([("-o", sys.argv[1])]):
    print("held", flush=True)
    time.sleep(30)
"""


def test_two_processes_writing_one_report_one_refuses(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("the first run's report")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        second = subprocess.run([sys.executable, "-m", "reasoner", "report", str(RECORD), "--trial", "taormina",
                                 "--as-of", AS_OF.isoformat(), "-o", str(out)], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == 2, second.stderr
    assert f"-o {out}: another eligo run is writing it" in second.stderr and "Traceback" not in second.stderr
    assert out.read_text() == "the first run's report"


# -- through the CLI: report -------------------------------------------------------------------------

def test_report_onto_its_own_record_is_refused(record):
    before = record.read_bytes()
    result = eligo("report", record, "--as-of", AS_OF, "-o", record)
    assert result.exit_code == 2
    assert f"-o {record}: is the input {record}" in result.output
    assert record.read_bytes() == before


def test_report_onto_a_hard_link_of_its_record_is_refused(record, tmp_path):
    os.link(record, tmp_path / "alias.json")
    result = eligo("report", record, "--as-of", AS_OF, "-o", tmp_path / "alias.json")
    assert result.exit_code == 2 and "is the input" in result.output


def test_report_into_the_folder_holding_the_records_is_refused(record, tmp_path):
    json_record = record.with_suffix(".json")
    import yaml
    json_record.write_text(json.dumps(yaml.safe_load(record.read_text()), default=str))
    before = json_record.read_bytes()
    result = eligo("report", json_record, "--as-of", AS_OF, "--format", "json", "-o", f"{record.parent}/")
    assert result.exit_code == 2
    assert f"is the folder holding the input {json_record}" in result.output
    assert json_record.read_bytes() == before
    sub = record.parent / "reports"                  # a folder below the records' is fine
    result = eligo("report", record, "--trial", "taormina", "--as-of", AS_OF, "-o", f"{sub}/")
    assert result.exit_code == 0 and (sub / "p1.html").exists()


@pytest.mark.parametrize("suffix, fmt, start", [(".json", "json", "{"), (".md", "md", "# "), (".html", "html", "<!DOCTYPE"),
                                                 (".HTM", "html", "<!DOCTYPE"), (".txt", "html", "<!DOCTYPE")])
def test_report_format_follows_the_file_extension(tmp_path, suffix, fmt, start):
    out = tmp_path / f"r{suffix}"
    result = eligo("report", RECORD, "--trial", "taormina", "--as-of", AS_OF, "-o", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith(start)
    if fmt == "json":
        assert json.loads(text)["command"].endswith("--format json")


@pytest.mark.parametrize("suffix, fmt", [(".json", "html"), (".md", "json"), (".html", "md")])
def test_report_refuses_a_format_that_contradicts_the_extension(tmp_path, suffix, fmt):
    out = tmp_path / f"r{suffix}"
    result = eligo("report", RECORD, "--trial", "taormina", "--as-of", AS_OF, "--format", fmt, "-o", out)
    assert result.exit_code == 2
    assert f"-o {out}: a {suffix} file, but --format {fmt}" in result.output
    assert not out.exists()


def test_report_format_matching_the_extension_is_accepted(tmp_path):
    out = tmp_path / "r.json"
    result = eligo("report", RECORD, "--trial", "taormina", "--as-of", AS_OF, "--format", "json", "-o", out)
    assert result.exit_code == 0 and json.loads(out.read_text())


def test_report_on_a_full_disk_exits_2_naming_the_file(tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_text("old")
    monkeypatch.setattr(files.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    result = eligo("report", RECORD, "--trial", "taormina", "--as-of", AS_OF, "-o", out)
    assert result.exit_code == 2
    assert f"eligo: -o {out}: cannot write the report (No space left on device)" in result.output
    assert "internal error" not in result.output and out.read_text() == "old"


def test_report_to_dev_full_through_a_process():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    result = subprocess.run([sys.executable, "-m", "reasoner", "report", str(RECORD), "--trial", "taormina", "--as-of",
                             AS_OF.isoformat(), "-o", "/dev/full"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "-o /dev/full: cannot write the report (No space left on device)" in result.stderr
    assert "Traceback" not in result.stderr


# -- through the CLI: import-fhir, screen, test ------------------------------------------------------

def test_import_fhir_onto_the_bundle_is_refused(tmp_path):
    bundle = a_bundle(tmp_path)
    before = bundle.read_bytes()
    for target in (bundle, tmp_path / "." / "bundle.json"):
        result = eligo("import-fhir", bundle, "--as-of", AS_OF, "-o", target)
        assert result.exit_code == 2 and "is the input" in result.output, result.output
    assert bundle.read_bytes() == before


def test_import_fhir_writes_atomically_and_reports_a_full_disk(tmp_path, monkeypatch):
    bundle = a_bundle(tmp_path)
    out = tmp_path / "record.yaml"
    assert eligo("import-fhir", bundle, "--as-of", AS_OF, "-o", out).exit_code == 0
    first = out.read_text()
    assert first.startswith("# Imported from") and leftovers(tmp_path) == []
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    result = eligo("import-fhir", bundle, "--as-of", AS_OF, "-o", out)
    assert result.exit_code == 2 and f"-o {out}: cannot write the record (No space left on device)" in result.output
    assert out.read_text() == first


@pytest.fixture
def folder_cohort(tmp_path):
    folder = tmp_path / "cohort"
    folder.mkdir()
    for name in ("eligible-taormina", "ineligible-taormina"):
        shutil.copy(ROOT / "facts" / "patients" / f"{name}.yaml", folder / f"{name}.yaml")
    return folder


@pytest.mark.parametrize("options, message", [
    (lambda f, t: ["--out", f / "rows.jsonl"], "--out {f}/rows.jsonl: is inside the input folder {f}"),
    (lambda f, t: ["--errors", f / "errors.csv"], "--errors {f}/errors.csv: is inside the input folder"),
    (lambda f, t: ["--funnel", f / "funnel.csv"], "--funnel {f}/funnel.csv: is inside the input folder"),
    (lambda f, t: ["--out", t / "r.csv", "--funnel", t / "r.csv"], "--funnel {t}/r.csv: is also --out {t}/r.csv"),
    (lambda f, t: ["--errors", t / "e.csv", "--funnel", t / "e.csv"], "--funnel {t}/e.csv: is also --errors"),
    (lambda f, t: ["--out", t / "r.jsonl", "--errors", t / "r.jsonl.checkpoint"], "is also --out's checkpoint"),
])
def test_screen_outputs_never_land_on_inputs_or_each_other(folder_cohort, tmp_path, options, message):
    before = sorted(p.name for p in folder_cohort.iterdir())
    result = eligo("screen", folder_cohort, "--workers", 1, "--as-of", AS_OF, *options(folder_cohort, tmp_path))
    assert result.exit_code == 2, result.output
    assert message.format(f=folder_cohort, t=tmp_path) in result.output
    assert sorted(p.name for p in folder_cohort.iterdir()) == before


def test_screen_funnel_onto_the_jsonl_input_is_refused(tmp_path):
    cohort = tmp_path / "c.jsonl"
    cohort.write_text(json.dumps({"schema_version": 1}) + "\n")
    os.link(cohort, tmp_path / "same.csv")
    for flag in ("--funnel", "--errors", "--out"):
        result = eligo("screen", cohort, "--workers", 1, flag, tmp_path / "same.csv")
        assert result.exit_code == 2 and f"{flag} {tmp_path / 'same.csv'}: is the input {cohort}" in result.output


def test_screen_output_replaces_an_old_one_only_when_complete(folder_cohort, tmp_path):
    out, funnel = tmp_path / "rows.csv", tmp_path / "funnel.csv"
    out.write_text("old rows\n")
    result = eligo("screen", folder_cohort, "--workers", 1, "--as-of", AS_OF, "--trial", "taormina", "--out", out,
                   "--funnel", funnel)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("source,patient,trial") and funnel.read_text().startswith("trial,stage")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort", "funnel.csv", "rows.csv"]   # no partial, lock, tmp


def test_screen_funnel_on_a_full_disk_exits_2(folder_cohort, tmp_path, monkeypatch):
    monkeypatch.setattr(files.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    result = eligo("screen", folder_cohort, "--workers", 1, "--as-of", AS_OF, "--trial", "taormina",
                   "--funnel", tmp_path / "f.csv")
    assert result.exit_code == 2
    assert f"--funnel {tmp_path / 'f.csv'}: cannot write the funnel (No space left on device)" in result.output


def test_rule_test_coverage_json_never_overwrites_a_test_file(tmp_path):
    case = ROOT / "rules" / "tests" / "cosmo.yaml"
    before = case.read_bytes()
    result = eligo("test", case, "--coverage-json", case)
    assert result.exit_code == 2 and f"--coverage-json {case}: is the input {case}" in result.output
    assert case.read_bytes() == before
    result = eligo("test", ROOT / "rules" / "tests", "--coverage-json", ROOT / "rules" / "tests" / "cov.json")
    assert result.exit_code == 2 and "is inside the input folder" in result.output


def test_screen_two_real_runs_on_one_output(tmp_path):
    """The second run, started while the first holds --out, refuses; the first completes untouched."""
    from conftest import bench_module
    cohort = tmp_path / "c.jsonl"
    cohort.write_text("".join(json.dumps(r) + "\n" for r in bench_module("cohort").generate(150, 3)))
    out = tmp_path / "rows.jsonl"
    command = [sys.executable, "-m", "reasoner", "screen", str(cohort), "--as-of", AS_OF.isoformat(), "--trial",
               "taormina", "--workers", "1", "--batch-size", "5", "--engine", "pydatalog", "--out", str(out)]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    partial = tmp_path / "rows.jsonl.partial"
    while not (partial.exists() and partial.stat().st_size) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    still_running = first.poll() is None
    first_err = first.communicate(timeout=300)[1]
    assert still_running, "the first run ended before the second one started"
    assert second.returncode == 2 and f"--out {out}: another eligo run is writing it" in second.stderr
    assert first.returncode == 0, first_err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 150 and len({r["source"] for r in rows}) == 150


def test_devices_as_outputs_are_written_directly_without_side_files(folder_cohort, tmp_path):
    before = sorted(os.listdir("/dev"))
    result = eligo("screen", folder_cohort, "--workers", 1, "--as-of", AS_OF, "--trial", "taormina", "--out", "/dev/null",
                   "--errors", "/dev/null", "--funnel", "/dev/null")
    assert result.exit_code == 0, result.output
    assert eligo("report", RECORD, "--trial", "taormina", "--as-of", AS_OF, "-o", "/dev/null").exit_code == 0
    assert sorted(os.listdir("/dev")) == before          # no /dev/null.partial, .checkpoint or .lock
    result = eligo("screen", folder_cohort, "--workers", 1, "--out", "/dev/null", "--resume")
    assert result.exit_code == 2 and "is not a regular file, so there is nothing to resume" in result.output


def test_report_file_names_made_from_hostile_record_names_are_visible(tmp_path):
    records = tmp_path / "in"
    records.mkdir()
    shutil.copy(RECORD, records / "p\x1b[31m\u202e.yaml")
    result = eligo("report", records / "p\x1b[31m\u202e.yaml", "--trial", "taormina", "--as-of", AS_OF, "-o",
                   f"{tmp_path}/out/")
    assert result.exit_code == 0, result.output
    assert os.listdir(tmp_path / "out") == ["p\\x1b[31m\\u202e.html"]


@pytest.mark.parametrize("fail_at", [1, 3])
def test_screen_full_disk_while_streaming_exits_2_and_stays_resumable(tmp_path, monkeypatch, fail_at):
    """ENOSPC at the first sync (the header) or midway: exit 2 naming the partial file, no internal
    error; the older output is untouched; after "freeing space", --resume (or, before the first
    checkpoint, a plain rerun) finishes the run."""
    from conftest import bench_module
    cohort = tmp_path / "c.jsonl"
    cohort.write_text("".join(json.dumps(r) + "\n" for r in bench_module("cohort").generate(30, 5)))
    out = tmp_path / "rows.csv"
    out.write_text("older rows\n")
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    args = ["screen", cohort, "--workers", 1, "--batch-size", 5, "--trial", "taormina", "--as-of", AS_OF, "--out", out]
    result = eligo(*args)
    assert result.exit_code == 2, result.output
    assert f"eligo: {out}.partial: cannot write the output (No space left on device)" in result.output
    assert "internal error" not in result.output and out.read_text() == "older rows\n"
    monkeypatch.setattr(os, "fsync", real_fsync)
    checkpointed = (tmp_path / "rows.csv.checkpoint").exists()
    assert checkpointed == (fail_at > 1)       # the first sync precedes the first checkpoint
    result = eligo(*args, *(["--resume"] if checkpointed else []))
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 31


@pytest.mark.parametrize("command", [["check", str(RECORD)], ["report", str(RECORD), "--trial", "taormina"],
                                     ["explain", str(RECORD), "--trial", "taormina"]])
def test_a_full_disk_behind_stdout_is_exit_2_not_an_internal_error(command):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "reasoner", *command, "--as-of", AS_OF.isoformat()], cwd=ROOT,
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "eligo: standard output: cannot write (No space left on device)\n"
