"""Run rule-test files against the rule set they belong to.

A test file in <root>/tests/ runs against the rules of <root> (lib/ and trials/ beside it); any
other file runs against the installed rules. pyDatalog keeps one program per thread, so a rule set
other than the installed one lives in a thread of its own (EngineThread) and never disturbs the
installed engine the rest of the process uses.
"""

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..paths import rules_dir
from .cases import case_files, load_cases, run_case


def is_rules_root(path):
    path = Path(path)
    return (path / "trials").is_dir() or (path / "lib").is_dir()


def rules_root_of(test_file):
    """The rules root a test file belongs to (<root>/tests/x.yaml), or None for the installed rules."""
    folder = Path(test_file).resolve().parent
    if folder.name == "tests" and is_rules_root(folder.parent):
        return folder.parent
    return None


def _installed(root):
    return root is None or Path(root).resolve() == rules_dir().resolve()


class LocalEngine:
    """The installed rules: the calling thread's own engine."""

    root = None

    def call(self, fn):
        from ..logic.engine import engine

        return fn(engine())


class EngineThread:
    """A thread holding an Engine for one rules root; call(fn) runs fn(engine) there."""

    def __init__(self, root):
        self.root = Path(root)
        self._jobs = queue.Queue()
        self._ready = queue.Queue()
        threading.Thread(target=self._serve, name=f"eligo-rules:{root}", daemon=True).start()
        error = self._ready.get()
        if error is not None:
            raise error

    def _serve(self):
        from ..logic.engine import Engine
        from ..logic.rulebook import build

        try:
            eng = Engine(build(self.root))
        except Exception as err:  # noqa: BLE001 - handed to the creating thread, which raises it
            self._ready.put(err)
            return
        self._ready.put(None)
        while True:
            fn, answer = self._jobs.get()
            try:
                answer.put((True, fn(eng)))
            except BaseException as err:  # noqa: BLE001 - re-raised in the calling thread
                answer.put((False, err))

    def call(self, fn):
        answer = queue.Queue()
        self._jobs.put((fn, answer))
        ok, value = answer.get()
        if not ok:
            raise value
        return value


_ENGINES = {}


def engine_for(root):
    """The engine holder for a rules root (None = installed rules), built once per process."""
    if _installed(root):
        return LocalEngine()
    key = str(Path(root).resolve())
    if key not in _ENGINES:
        _ENGINES[key] = EngineThread(key)
    return _ENGINES[key]


@dataclass
class FileRun:
    path: str
    results: list          # CaseResult, in file order
    reports: dict          # case name -> failure report text


def run_files(paths=None, rules=None, select=None):
    """Run every case of the test files under paths; rules overrides the rules root for all of them.

    select: a substring of case names to run (others are not run).
    """
    from .report import failure_report

    if rules is not None and not is_rules_root(rules):
        raise InputError(f"{rules}: not a rules folder (expected lib/ and trials/ inside)")
    if not paths and rules is not None:
        paths = [Path(rules) / "tests"]
    runs = []
    for path in case_files(paths):
        cases = [c for c in load_cases(path) if not select or select in c.name]
        holder = engine_for(rules if rules is not None else rules_root_of(path))

        def work(eng, cases=cases):
            results, reports = [], {}
            for case in cases:
                result = run_case(case, eng)
                results.append(result)
                if not result.passed:
                    reports[case.name] = failure_report(result, eng)
            return results, reports

        results, reports = holder.call(work)
        runs.append(FileRun(str(path), results, reports))
    return runs
