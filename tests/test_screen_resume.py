"""eligo screen --resume: a killed run, resumed, gives exactly the clean run's output.

The main test kills a real `eligo screen` process group with SIGKILL midway; the others interrupt
in-process and check what a resume refuses (changed input, changed options, no checkpoint).
"""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import AS_OF, ROOT, bench_module

from reasoner.errors import InputError
from reasoner.screen.run import Progress, Settings, run


def write_cohort(path, n, seed=11):
    """n synthetic records with an invalid line every 25 lines (they must not be lost either)."""
    lines = []
    for i, rec in enumerate(bench_module("cohort").generate(n, seed)):
        if i % 25 == 7:
            lines.append('{"schema_version": 1, "patient": {"id": "BAD-%d", "birth_date": "2999-01-01"}}' % i)
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def clean_run(tmp_path, cohort, **options):
    out, errors = tmp_path / "clean.jsonl", tmp_path / "clean-errors.jsonl"
    summary = run(Settings(input=str(cohort), as_of=AS_OF, trial_ids=["taormina"], out=str(out), errors=str(errors),
                           **options), stderr=io.StringIO())
    return summary, out.read_text(), errors.read_text()


def screen_command(cohort, out, errors, *extra):
    return [sys.executable, "-m", "reasoner", "screen", str(cohort), "--as-of", AS_OF.isoformat(), "--trial", "taormina",
            "--workers", "2", "--batch-size", "8", "--out", str(out), "--errors", str(errors), *extra]


def count_lines(path):
    try:
        with open(path, "rb") as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        return 0


def test_sigkill_midway_then_resume_completes_without_duplicates_or_losses(tmp_path):
    cohort = tmp_path / "cohort.jsonl"
    lines = write_cohort(cohort, 120)
    out, errors, funnel = tmp_path / "out.jsonl", tmp_path / "errors.jsonl", tmp_path / "funnel.csv"
    proc = subprocess.Popen(screen_command(cohort, out, errors), cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    partial = tmp_path / "out.jsonl.partial"          # rows stream here; out.jsonl appears when the run completes
    while count_lines(partial) < 24 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)   # the whole job: the main process and its workers
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed midway"
    written = count_lines(partial)
    assert 24 <= written < 120
    assert not out.exists()                           # a killed run never leaves a finished-looking output
    assert (tmp_path / "out.jsonl.checkpoint").exists()

    resumed = subprocess.run(screen_command(cohort, out, errors, "--resume", "--funnel", str(funnel)), cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 2, resumed.stderr      # 2: the cohort holds invalid records
    assert "by the interrupted run" in resumed.stderr
    summary, clean_out, clean_errors = clean_run(tmp_path, cohort)
    assert out.read_text() == clean_out
    assert errors.read_text() == clean_errors
    sources = [json.loads(line)["source"] for line in out.read_text().splitlines()]
    assert len(sources) == len(set(sources)) == summary.counts.judged
    rejected = [json.loads(line)["source"] for line in errors.read_text().splitlines()]
    assert len(rejected) == len(set(rejected)) == summary.counts.rejected == 5
    assert summary.counts.read == lines == len(sources) + len(rejected)
    assert funnel.read_text() == summary.funnel.csv_text()
    assert f"eligo screen: {lines} read" in resumed.stderr
    assert not (tmp_path / "out.jsonl.checkpoint").exists()


class Interrupt(Progress):
    """Stops the run (like Ctrl-C) after `batches` batches were written and checkpointed."""

    def __init__(self, batches):
        super().__init__(io.StringIO(), enabled=False)
        self.left = batches

    def update(self, n):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


def interrupted(tmp_path, cohort, batches=3, **options):
    settings = Settings(input=str(cohort), as_of=AS_OF, trial_ids=["taormina"], out=str(tmp_path / "out.jsonl"),
                        errors=str(tmp_path / "errors.csv"), batch_size=5, **options)
    with pytest.raises(KeyboardInterrupt):
        run(settings, stderr=io.StringIO(), progress=Interrupt(batches))
    return settings


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory):
    path = tmp_path_factory.mktemp("cohort") / "c.jsonl"
    write_cohort(path, 40, seed=5)
    return path


def test_resume_drops_a_half_written_batch_and_finishes(tmp_path, small_cohort):
    settings = interrupted(tmp_path, small_cohort)
    out, partial = tmp_path / "out.jsonl", tmp_path / "out.jsonl.partial"
    assert len(partial.read_text().splitlines()) == 14    # 3 batches of 5, one of them an invalid record
    assert not out.exists()
    with open(partial, "a") as handle:                    # a batch written, killed before its checkpoint
        handle.write('{"source": "half-written')
    settings.resume = True
    summary = run(settings, stderr=io.StringIO())
    assert summary.resumed == 15
    clean_summary, clean_out, _ = clean_run(tmp_path, small_cohort)
    assert out.read_text() == clean_out
    assert (tmp_path / "errors.csv").read_text().count("invalid") == 2
    assert summary.counts == clean_summary.counts
    assert summary.funnel.csv_text() == clean_summary.funnel.csv_text()


def test_resume_refuses_a_changed_input(tmp_path, small_cohort):
    cohort = tmp_path / "c.jsonl"
    cohort.write_bytes(small_cohort.read_bytes())
    settings = interrupted(tmp_path, cohort)
    text = cohort.read_text().splitlines()
    text[2] = text[2].replace("SYN-5-", "SYN-X-")
    cohort.write_text("\n".join(text) + "\n")
    settings.resume = True
    with pytest.raises(InputError, match="differ from those the interrupted run screened"):
        run(settings, stderr=io.StringIO())


def test_resume_refuses_other_options(tmp_path, small_cohort):
    settings = interrupted(tmp_path, small_cohort)
    settings.resume, settings.as_of = True, AS_OF.replace(day=1)
    with pytest.raises(InputError, match="the interrupted run used as_of = '2026-11-23'"):
        run(settings, stderr=io.StringIO())


def test_resume_without_a_checkpoint(tmp_path, small_cohort):
    out = tmp_path / "out.jsonl"
    settings = Settings(input=str(small_cohort), as_of=AS_OF, trial_ids=["taormina"], out=str(out), resume=True)
    summary = run(settings, stderr=io.StringIO())          # nothing to resume: a fresh run
    assert summary.resumed == 0 and summary.counts.read == 42
    with pytest.raises(InputError, match="no checkpoint"):  # finished output: refuse rather than redo
        run(settings, stderr=io.StringIO())
    assert len(out.read_text().splitlines()) == 40


DYING_WORKER = """
import io, os, sys, datetime as dt
import reasoner.screen.cohort as screen
real = screen.load_item
def load_item(item, *args):
    if item.index == 12:
        os._exit(3)   # the worker process dies, as when the kernel kills it for memory
    return real(item, *args)
screen.load_item = load_item
from reasoner.errors import EligoError
from reasoner.screen.run import Settings, run
try:
    run(Settings(input=sys.argv[1], as_of=dt.date(2026, 11, 23), trial_ids=["taormina"], out=sys.argv[2],
                 workers=2, batch_size=5), stderr=io.StringIO())
except EligoError as err:
    print(type(err).__name__, err.exit_code, err)
"""


def test_a_dead_worker_stops_the_run_with_a_message_and_resume_finishes_it(tmp_path, small_cohort):
    out = tmp_path / "out.jsonl"
    result = subprocess.run([sys.executable, "-c", DYING_WORKER, str(small_cohort), str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.stdout.startswith("WorkerLost 1 a worker process died"), result.stdout + result.stderr
    assert "rerun the same command with --resume" in result.stdout
    assert (tmp_path / "out.jsonl.checkpoint").exists()
    settings = Settings(input=str(small_cohort), as_of=AS_OF, trial_ids=["taormina"], out=str(out), workers=1,
                        batch_size=5, resume=True)
    summary = run(settings, stderr=io.StringIO())
    _clean, clean_out, _errors = clean_run(tmp_path, small_cohort)
    assert out.read_text() == clean_out and summary.counts.read == 42
