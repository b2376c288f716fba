"""The parsed rule set is cached by content hash; a bad cache is rebuilt, never trusted blindly."""

import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = "from reasoner.logic.rulebook import rulebook; b = rulebook(); print(b.sha256, len(b.clauses))"


def probe(cache):
    env = dict(os.environ, ELIGO_CACHE=str(cache))
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_cache_is_written_reused_and_survives_corruption(tmp_path):
    first = probe(tmp_path)
    files = list(tmp_path.glob("rulebook-*.pickle"))
    assert len(files) == 1 and first.split()[0] in files[0].name
    assert probe(tmp_path) == first
    files[0].write_bytes(b"not a pickle")
    assert probe(tmp_path) == first


def test_cache_can_be_switched_off(tmp_path):
    env = dict(os.environ, ELIGO_CACHE="off")
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env)
    assert run.returncode == 0 and run.stdout.split()[1].isdigit()


def test_a_cached_check_does_not_import_the_graph_library(tmp_path):
    """networkx costs ~0.15 s to import; `eligo check` needs it only to test stratification, which
    is done once and cached with the parsed rules."""
    check = ("import sys; from reasoner.cli.main import run; "
             "sys.argv = ['eligo', 'check', 'facts/patients/eligible-taormina.yaml', '--as-of', '2026-11-23'];\n"
             "try:\n    run()\nexcept SystemExit as end:\n    assert end.code == 0, end.code\n"
             "print('networkx' in sys.modules, file=sys.stderr)")
    env = dict(os.environ, ELIGO_CACHE=str(tmp_path))
    for expected in ("True", "False"):     # first run builds the cache (and checks), second reads it
        run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT, env=env)
        assert run.returncode == 0, run.stderr
        assert run.stderr.strip().splitlines()[-1] == expected


def test_what_each_criterion_reads_is_cached_with_the_rules_and_equals_a_fresh_walk(tmp_path):
    """Rulebook.criterion_reads (caveats, missing inputs, trial dates) is computed once with the catalogue
    and pickled; read back, it must be what walking the criterion's rules gives."""
    probe_reads = ("from reasoner.logic.rulebook import rulebook, dependencies; b = rulebook(); "
                   "cached = dict(b.__dict__.get('_criterion_reads', {})); "
                   "crits = [c for t in b.trials.values() for c in t.criteria]; "
                   "assert len(cached) == len(crits), (len(cached), len(crits)); "
                   "assert all(cached[(c.trial, c.id)] == frozenset(dependencies(b, c.clauses)) for c in crits); "
                   "print(len(cached))")
    env = dict(os.environ, ELIGO_CACHE=str(tmp_path))
    for _ in range(2):   # written, then read back
        run = subprocess.run([sys.executable, "-c", probe_reads], capture_output=True, text=True, cwd=ROOT, env=env)
        assert run.returncode == 0, run.stderr
        assert int(run.stdout) > 100
