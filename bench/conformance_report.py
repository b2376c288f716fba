"""Per-case report of the datalog-conformance core suites (run by hand): pass / fail / outside
Eligo's reading, for the fast engine and for pyDatalog (each case in a child process, stopped after
--timeout seconds). CI runs the fast engine's part as tests/test_conformance.py.

    python bench/conformance_report.py [--large] [--engines fast pydatalog] [--timeout 30]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also the cases over 1 MB of YAML (slow to load)")
    parser.add_argument("--engines", nargs="+", default=["fast", "pydatalog"], choices=["fast", "pydatalog"])
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    if args.large:
        os.environ["ELIGO_CONFORMANCE_LARGE"] = "1"
    from datalog_conformance.runner import YamlTestRunner
    from test_conformance import CASES, OUTSIDE

    from reasoner.logic.conformance import FastEvaluator, PyDatalogEvaluator

    slow = PyDatalogEvaluator()
    slow.timeout = args.timeout
    evaluators = {"fast": FastEvaluator(), "pydatalog": slow}
    totals = {engine: {} for engine in args.engines}
    for param in CASES:
        case = param.values[0]
        shown = []
        for engine in args.engines:
            start = time.perf_counter()
            try:
                YamlTestRunner(evaluators[engine]).run_test_case(case)
                status = "pass"
            except Exception as err:  # noqa: BLE001 - every outcome is reported
                status = "outside" if case.name in OUTSIDE else f"FAIL ({type(err).__name__}: {str(err)[:120]})"
            totals[engine][status.split(" ")[0]] = totals[engine].get(status.split(" ")[0], 0) + 1
            shown.append(f"{engine} {status} {time.perf_counter() - start:.2f} s")
        print(f"{param.id}: " + "; ".join(shown), flush=True)
    for engine, counts in totals.items():
        print(f"{engine}: " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
