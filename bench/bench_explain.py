"""Benchmark of explanations (run by hand, not in CI): prints figures, asserts nothing about speed.

For each example record in facts/patients/: the time to explain it against every trial
  - warm: in one process whose engine is already built (median of --repeat runs of explain()),
    with the graph's size, and the verdict evaluation alone (engine.evaluate) for comparison;
  - cold: a whole `eligo explain RECORD --trial A --trial B ... --format json` process (median of
    --cold runs), next to a whole `eligo check` process.

    python bench/bench_explain.py [--repeat 20] [--cold 3]
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-23"


def median_ms(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--cold", type=int, default=3)
    args = parser.parse_args()

    import datetime as dt

    from reasoner.engine import engine
    from reasoner.explain import explain
    from reasoner.pipeline import load_input
    from reasoner.rulebook import rulebook

    trials = list(rulebook().trials)
    eligo = str(Path(sys.executable).with_name("eligo"))
    trial_args = [a for t in trials for a in ("--trial", t)]
    print(f"trials: {', '.join(trials)}; as of {AS_OF}")
    print(f"{'record':34} {'nodes':>6} {'warm explain':>13} {'warm evaluate':>14} {'cold explain':>13} {'cold check':>11}")
    for path in sorted((ROOT / "facts" / "patients").glob("*.yaml")):
        record = load_input(path, dt.date.fromisoformat(AS_OF))
        graph = explain(record)            # builds the engine and caches on first use
        warm = median_ms(lambda r=record: explain(r), args.repeat)
        evaluate = median_ms(lambda r=record: engine().evaluate(r), args.repeat)
        rel = str(path.relative_to(ROOT))
        explain_cmd = [eligo, "explain", rel, *trial_args, "--as-of", AS_OF, "--format", "json"]
        check_cmd = [eligo, "check", rel, "--as-of", AS_OF, "--format", "json"]
        cold = median_ms(lambda c=explain_cmd: subprocess.run(c, cwd=ROOT, check=True, capture_output=True), args.cold)
        check = median_ms(lambda c=check_cmd: subprocess.run(c, cwd=ROOT, check=True, capture_output=True), args.cold)
        print(f"{path.name:34} {graph.number_of_nodes():6d} {warm:10.1f} ms {evaluate:11.1f} ms "
              f"{cold:10.0f} ms {check:8.0f} ms")


if __name__ == "__main__":
    main()
