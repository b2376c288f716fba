"""pytest plugin (entry point `pytest11: eligo_rules`): rule-test YAML files become test items.

Collected: *.yaml files directly in a rules root's tests/ folder (<root>/tests/x.yaml beside
<root>/trials/), e.g. rules/tests/taormina.yaml; records under tests/records/ are not cases.
A case file named on the command line (`pytest my-cases.yaml`) is collected wherever it is.
Each case is one item, named by the case, reported at its file:line; a failure shows the same
report as `eligo test`.
"""

import re

import pytest

from ..errors import EligoError
from .cases import load_cases, run_case
from .report import failure_report
from .runner import engine_for, rules_root_of


def is_case_file(path):
    return path.suffix in (".yaml", ".yml") and rules_root_of(path) is not None


def _named_case_file(path, session):
    """A YAML file named on the command line with top-level `trial:` and `cases:` is collected too."""
    if path.suffix not in (".yaml", ".yml") or not session.isinitpath(path):
        return False
    try:
        head = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return bool(re.search(r"^trial:", head, re.M) and re.search(r"^cases:", head, re.M))


def pytest_collect_file(file_path, parent):
    if is_case_file(file_path) or _named_case_file(file_path, parent.session):
        return RuleTestFile.from_parent(parent, path=file_path)
    return None


class CaseFailed(Exception):
    """A case whose expectations the rules did not meet; carries the report text."""


class RuleTestFile(pytest.File):
    def collect(self):
        for case in load_cases(self.path):
            yield RuleCase.from_parent(self, name=case.name, case=case)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, EligoError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class RuleCase(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self):
        def work(eng):
            result = run_case(self.case, eng)
            return None if result.passed else failure_report(result, eng)

        report = engine_for(rules_root_of(self.path)).call(work)
        if report is not None:
            raise CaseFailed(report)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (CaseFailed, EligoError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, self.case.line - 1, f"{self.case.trial}: {self.case.name}"
