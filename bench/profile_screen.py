"""Where a screened patient's CPU time goes, in one process (run by hand, not in CI).

Runs what `eligo screen --workers 1` runs for each batch — the worker's judge_batch (read the JSONL
line, validate, build facts, evaluate, verdicts, rows) and the parent's part (encode the rows,
count the funnel) — over a cohort file, without a pool, so the figures are per-patient costs with
no process overhead. Prints the time per patient per step (--steps) or a cProfile listing.

    python bench/profile_screen.py COHORT.jsonl [--limit 2000] [--profile] [--steps]
"""

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cohort import AS_OF  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cohort")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="print a cProfile listing (tottime)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)

    from reasoner.logic.rulebook import rulebook
    from reasoner.screen.cohort import batches, judge_batch, open_items, warm_up
    from reasoner.screen.funnel import Funnel
    from reasoner.screen.output import encode_rows

    warm_up()
    _total, items = open_items(args.cohort)
    items = [item for _n, item in zip(range(args.limit), items)]
    judge_batch(items[:5], AS_OF)           # first-use costs (indexes of reference facts) out of the figure
    funnel = Funnel(rulebook(), None)
    prof = cProfile.Profile() if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    n = 0
    for batch in batches(iter(items), args.batch_size):
        results = judge_batch(batch, AS_OF)
        rows = [row for result in results for row in result.rows]
        encode_rows(rows, "jsonl")
        for row in rows:
            funnel.add(row)
        n += len(results)
    if prof:
        prof.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{n} patients in one process: {1000 * cpu / n:.3f} ms CPU per patient ({1000 * wall / n:.3f} ms wall)"
          f"{' (profiler on)' if prof else ''}")
    if prof:
        buffer = io.StringIO()
        pstats.Stats(prof, stream=buffer).sort_stats("tottime").print_stats(args.top)
        print("\n".join(buffer.getvalue().splitlines()[4:]))


if __name__ == "__main__":
    main()
