"""Screening runs that end cleanly (issue 13, section 5): SIGINT (once or twice) and SIGTERM stop
`eligo screen` within seconds, with no worker traceback, a resumable checkpoint and no worker left
behind; workers also die when the main process is SIGKILLed; a folder --resume notices an edited
record. Real processes, polled with deadlines (no fixed sleeps)."""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import AS_OF, ROOT, bench_module

from reasoner.errors import InputError
from reasoner.screen.run import Settings, run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def group_members(pgid):
    """Live (not zombie) processes whose process group is pgid."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def wait_for(condition, seconds, step=0.02):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def done(checkpoint):
    """Records the checkpoint says are written (it is replaced atomically, so always whole)."""
    try:
        return json.loads(checkpoint.read_text())["done"]
    except (OSError, ValueError):
        return 0


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    path = tmp_path_factory.mktemp("signals") / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in bench_module("cohort").generate(3000, 21)))
    return path


def start(cohort, out, engine="pydatalog"):
    command = [sys.executable, "-m", "reasoner", "screen", str(cohort), "--as-of", AS_OF.isoformat(), "--trial",
               "taormina", "--workers", "2", "--batch-size", "5", "--engine", engine, "--out", str(out)]
    proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    checkpoint = out.parent / (out.name + ".checkpoint")
    started = wait_for(lambda: proc.poll() is not None or (done(checkpoint) > 0 and len(group_members(proc.pid)) >= 3),
                       120)
    assert started and proc.poll() is None, "the run ended before it could be signalled"
    return proc


@pytest.mark.parametrize("signals, code", [
    ((signal.SIGINT,), 130),
    ((signal.SIGINT, signal.SIGINT), 130),          # Ctrl-C twice, quickly
    ((signal.SIGTERM,), 143),
])
@pytest.mark.parametrize("to_group", [True, False], ids=["to the group (a terminal's Ctrl-C)", "to the main process"])
def test_a_signal_stops_the_run_cleanly_and_resumably(tmp_path, cohort, signals, code, to_group):
    out = tmp_path / "rows.jsonl"
    out.write_text("an older complete output\n")
    proc = start(cohort, out)
    sent = time.monotonic()
    for signum in signals:
        (os.killpg if to_group else os.kill)(proc.pid, signum)
    try:
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - sent < 10      # measured: 0.2-0.5 s idle; slack for a loaded CI machine
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert f"eligo: interrupted by {signal.Signals(signals[0]).name}" in stderr
    assert "--resume" in stderr
    assert wait_for(lambda: group_members(proc.pid) == [], 10), "worker processes outlived the run"
    assert (tmp_path / "rows.jsonl.checkpoint").exists()
    assert out.read_text() == "an older complete output\n"      # the old output is untouched until the end
    assert not (tmp_path / "rows.jsonl.lock").exists()
    state = json.loads((tmp_path / "rows.jsonl.checkpoint").read_text())
    assert 0 < state["done"] < 3000


def test_workers_die_with_a_sigkilled_main_process(tmp_path, cohort):
    out = tmp_path / "rows.jsonl"
    proc = start(cohort, out)
    workers = [pid for pid in group_members(proc.pid) if pid != proc.pid]
    assert workers
    os.kill(proc.pid, signal.SIGKILL)                 # the main process only, as the OOM killer would
    proc.wait(timeout=10)
    try:
        assert wait_for(lambda: group_members(proc.pid) == [], 10), "workers outlived their SIGKILLed parent"
    finally:
        for pid in group_members(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_an_interrupted_run_resumes_to_the_clean_result(tmp_path, cohort):
    small = tmp_path / "small.jsonl"
    small.write_text("".join(cohort.read_text().splitlines(keepends=True)[:200]))
    out = tmp_path / "rows.jsonl"
    proc = start(small, out, engine="fast")
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode == 130 and (tmp_path / "rows.jsonl.checkpoint").exists()
    resumed = subprocess.run([sys.executable, "-m", "reasoner", "screen", str(small), "--as-of", AS_OF.isoformat(),
                              "--trial", "taormina", "--workers", "2", "--batch-size", "5", "--out", str(out),
                              "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    clean = tmp_path / "clean.jsonl"
    run(Settings(input=str(small), as_of=AS_OF, trial_ids=["taormina"], out=str(clean)), stderr=io.StringIO())
    assert out.read_text() == clean.read_text()


# -- folder --resume notices an edited record --------------------------------------------------------

class Stop(Exception):
    pass


def interrupted_folder_run(folder, out, batches=2):
    from reasoner.screen.run import Progress

    class Interrupt(Progress):
        def __init__(self):
            super().__init__(io.StringIO(), enabled=False)
            self.left = batches

        def update(self, n):
            self.left -= 1
            if self.left == 0:
                raise KeyboardInterrupt

    settings = Settings(input=str(folder), as_of=AS_OF, trial_ids=["taormina"], out=str(out), batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        run(settings, stderr=io.StringIO(), progress=Interrupt())
    settings.resume = True
    return settings


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "cohort"
    path.mkdir()
    for name in sorted((ROOT / "facts" / "patients").glob("*taormina*.yaml")) * 2:
        index = len(list(path.iterdir()))
        shutil.copy(name, path / f"{index:02d}-{name.name}")
    return path


@pytest.mark.parametrize("edit", [
    lambda p: p.write_text(p.read_text().replace("birth_date: 19", "birth_date: 18")),          # a value changed
    lambda p: p.write_text(p.read_text() + "\n"),                                                  # one byte added
    lambda p: (p.unlink(), os.symlink(p.parent / "05-ineligible-taormina.yaml", p)),               # another file
])
def test_folder_resume_refuses_an_edited_record(tmp_path, folder, edit):
    out = tmp_path / "rows.jsonl"
    settings = interrupted_folder_run(folder, out)
    edit(folder / "00-eligible-taormina.yaml")       # already screened by the interrupted run
    with pytest.raises(InputError, match="differ from those the interrupted run screened"):
        run(settings, stderr=io.StringIO())


def test_folder_resume_accepts_an_unchanged_folder_and_a_touched_file(tmp_path, folder):
    out = tmp_path / "rows.jsonl"
    settings = interrupted_folder_run(folder, out)
    os.utime(folder / "00-eligible-taormina.yaml")   # same content, new mtime: not a change
    summary = run(settings, stderr=io.StringIO())
    assert summary.resumed == 4 and summary.counts.read == 6
    clean = tmp_path / "clean.jsonl"
    run(Settings(input=str(folder), as_of=AS_OF, trial_ids=["taormina"], out=str(clean)), stderr=io.StringIO())
    assert out.read_text() == clean.read_text()


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="no fork hooks")
def test_a_pool_worker_ignores_signals_from_the_moment_it_is_forked(monkeypatch):
    """Between a worker's fork and its initializer it would keep the main process's handler (which
    raises Interrupted): the fork hook sets both signals ignored before any of its code runs."""
    from reasoner.screen import backends

    def stop(signum, _frame):
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for forking, expected in ((True, 0), (False, 1)):
            monkeypatch.setattr(backends, "_forking_workers", forking)
            pid = os.fork()
            if pid == 0:      # the child: report whether both signals are ignored, and leave at once
                ignored = all(signal.getsignal(s) == signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM))
                os._exit(0 if ignored else 1)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == expected, forking
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
