"""Shared fixtures: build records from Python data and judge them in-process."""

import copy
import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from reasoner.pipeline import judge
from reasoner.record.read import record_from_data

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 23)
EXAMPLE = ROOT / "facts" / "patients" / "eligible-taormina.yaml"


@pytest.fixture
def eligible():
    """A fresh copy of the bundled eligible TAORMINA patient, to modify per test."""
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def outcomes(data, trial="taormina", as_of=AS_OF):
    """{criterion id: outcome} plus the verdict, for one trial (first stage)."""
    record = record_from_data(data, "test.yaml", as_of)
    verdict = [v for v in judge(record, [trial]).verdicts][0]
    result = {c.id: c.outcome for c in verdict.criteria}
    result["verdict"] = verdict.verdict
    result["missing"] = {c.id: c.missing for c in verdict.criteria if c.missing}
    return result


def bench_module(name):
    """A module of bench/ (not a package: its scripts run by path), e.g. the cohort generator."""
    key = f"eligo_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[key] = module
    return sys.modules[key]
