"""Benchmark of explanations (run by hand, not in CI): prints figures, asserts nothing about speed.

For each example record in facts/patients/: the time to explain it against every trial, and the
slowest of the five one-trial explains (`eligo explain RECORD --trial ID`, the documented use)
  - warm: in one process whose engine is already built (median of --repeat runs of explain()
    followed by condense(), what `eligo explain` shows by default), with the full and condensed
    graphs' sizes, and the verdict evaluation alone (engine.evaluate) for comparison;
  - cold: a whole `eligo explain RECORD --trial A --trial B ... --format json` process (median of
    --cold runs), next to a whole `eligo check` process.

    python bench/bench_explain.py [--repeat 20] [--cold 3]      # --cold 0: warm figures only
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-23"


def median_ms(fn, runs):
    """(median wall ms, median CPU ms) of fn; CPU counts this process and its finished children,
    so figures stay comparable on a loaded machine."""
    walls, cpus = [], []
    if runs < 1:
        return float("nan"), float("nan")
    for _ in range(runs):
        start, cpu = time.perf_counter(), _cpu()
        fn()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((_cpu() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def _cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--cold", type=int, default=3)
    args = parser.parse_args()

    import datetime as dt

    from reasoner.explain.condense import condense
    from reasoner.explain.graph import explain
    from reasoner.logic.engine import engine
    from reasoner.logic.rulebook import rulebook
    from reasoner.pipeline import load_input

    trials = list(rulebook().trials)
    eligo = str(Path(sys.executable).with_name("eligo"))
    trial_args = [a for t in trials for a in ("--trial", t)]
    print(f"trials: {', '.join(trials)}; as of {AS_OF}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("times in ms, wall / CPU (median)")
    print(f"{'record':34} {'nodes':>11} {'warm explain':>14} {'warm evaluate':>14} {'cold explain':>14} {'cold check':>14}"
          f"  {'slowest one-trial explain (CPU)':>32}")
    for path in sorted((ROOT / "facts" / "patients").glob("*.yaml")):
        record = load_input(path, dt.date.fromisoformat(AS_OF))
        graph = explain(record)            # builds the engine and caches on first use
        small = condense(graph)
        warm = median_ms(lambda r=record: condense(explain(r)), args.repeat)
        evaluate = median_ms(lambda r=record: engine().evaluate(r), args.repeat)
        rel = str(path.relative_to(ROOT))
        explain_cmd = [eligo, "explain", rel, *trial_args, "--as-of", AS_OF, "--format", "json"]
        check_cmd = [eligo, "check", rel, "--as-of", AS_OF, "--format", "json"]
        cold = median_ms(lambda c=explain_cmd: subprocess.run(c, cwd=ROOT, check=True, capture_output=True), args.cold)
        check = median_ms(lambda c=check_cmd: subprocess.run(c, cwd=ROOT, check=True, capture_output=True), args.cold)
        cells = " ".join(f"{w:7.0f}/{c:<6.0f}" for w, c in (warm, evaluate, cold, check))
        # `eligo explain RECORD --trial ID`, the documented use: the slowest trial for this record
        per_trial = {tid: median_ms(lambda r=record, t=tid: condense(explain(r, [t])), args.repeat)[1] for tid in trials}
        slowest = max(per_trial, key=per_trial.get)
        print(f"{path.name:34} {graph.number_of_nodes():5d}/{small.number_of_nodes():<5d} {cells}"
              f"  {per_trial[slowest]:22.0f} ({slowest})")


if __name__ == "__main__":
    main()
