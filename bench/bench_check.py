"""Benchmark of judging records one by one (run by hand, not in CI): prints figures, asserts nothing.

What `eligo check` does per patient, minus process start: validate the record and judge it with the
reference pyDatalog engine (rules loaded once), for N synthetic records in this process; then
`eligo check` of one example patient as a whole process (cold: a new process, with Python's
bytecode cache as an installed copy has it, after one warm-up run; min / median of --runs).

    python bench/bench_check.py [--records 1000] [--runs 9]
"""

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_screen import check_process_time  # noqa: E402
from cohort import AS_OF, generate  # noqa: E402


def judge_in_process(datas, trial_ids):
    """Seconds to validate and judge every record (engine already warm)."""
    from reasoner.pipeline import judge
    from reasoner.record.read import record_from_data

    start = time.perf_counter()
    for i, data in enumerate(datas):
        judge(record_from_data(data, f"synthetic-{i}", AS_OF), trial_ids)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    datas = [json.loads(json.dumps(d, default=str)) for d in generate(args.records, 1)]

    from reasoner.logic.engine import engine

    start = time.perf_counter()
    engine()
    print(f"rules loaded into pyDatalog once: {time.perf_counter() - start:.2f} s")
    for label, trial_ids in (("all five trials", None), ("TAORMINA only", ["taormina"])):
        seconds = judge_in_process(datas, trial_ids)
        print(f"{args.records} records in-process, validated and judged, {label}: {seconds:.1f} s, "
              f"{1000 * seconds / args.records:.1f} ms per record")
    low, mid = check_process_time(args.runs)
    print(f"eligo check of one patient, whole process (bytecode cached, after one warm-up run): {low:.3f} / {mid:.3f} s "
          f"(min / median of {args.runs})")


if __name__ == "__main__":
    main()
