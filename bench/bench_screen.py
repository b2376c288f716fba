"""Benchmark of `eligo screen` (run by hand, not in CI): prints figures, asserts nothing about speed.

For each cohort size: patients/s and wall time of a real `eligo screen` process (all trials),
peak RSS of that process and its workers, then the plain-Python TAORMINA baseline on the same
cohort in the same run (ratio), and whether Eligo and the baseline agree on every TAORMINA verdict
and criterion. Also: scaling between the sizes, and `eligo check` of one patient as a process.

    python bench/bench_screen.py --sizes 1000 10000 [--workers 2] [--engines pydatalog fast] [--profile 200]

Each engine (pyDatalog, and fastlog's compiled evaluator of the same rules) is run on the same
cohort; their result files must be byte-identical, which the benchmark checks.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baseline_taormina import taormina  # noqa: E402
from cohort import AS_OF, generate, write_jsonl  # noqa: E402

ROOT = HERE.parent


class PeakRss:
    """Polls the resident memory of a process and all its descendants (Linux /proc)."""

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self):
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            parent = frontier.pop()
            for child, ppid in parents.items():
                if ppid == parent and child not in tree:
                    tree.add(child)
                    frontier.append(child)
        return tree

    def _rss(self, pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(self._rss(pid) for pid in self._tree()))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def eligo_screen(cohort, out, workers, trials=(), engine="pydatalog"):
    cmd = [sys.executable, "-m", "reasoner", "screen", str(cohort), "--as-of", AS_OF.isoformat(), "--engine", engine,
           "--workers", str(workers), "--out", str(out), "--errors", str(out) + ".errors.jsonl"]
    for trial in trials:
        cmd += ["--trial", trial]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    rss = PeakRss(proc.pid)
    _out, err = proc.communicate()
    wall = time.perf_counter() - start
    peak = rss.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"eligo screen failed ({proc.returncode}): {err.decode()[-2000:]}")
    summary = err.decode().strip().splitlines()[-1]
    return wall, peak, f"{summary}\n    CPU {cpu:.1f} s (process + workers); load average {load:.1f} -> {os.getloadavg()[0]:.1f}"


def baseline(cohort):
    """Plain-Python TAORMINA over the same JSONL file: {source: (verdict, outcomes)} and seconds."""
    results, start = {}, time.perf_counter()
    with open(cohort, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                results[f"{cohort}:{number}"] = taormina(json.loads(line), AS_OF)
    return results, time.perf_counter() - start


def eligo_taormina(out):
    """{source: (verdict, {criterion: outcome})} from the result rows (pass = neither failing nor unknown)."""
    from reasoner.logic.rulebook import rulebook

    ids = [c.id for c in rulebook().trial("taormina").criteria]
    results = {}
    with open(out, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["trial"] == "taormina":
                outcomes = {cid: "fail" if cid in row["failing"] else "unknown" if cid in row["unknown"] else "pass"
                            for cid in ids}
                results[row["source"]] = (row["verdict"], outcomes)
    return results


def agreement(eligo, base):
    verdicts = criteria = 0
    differences = {}
    for source, (verdict, outcomes) in base.items():
        if source not in eligo:
            differences.setdefault(("missing in Eligo's output", "", ""), []).append(source)
            continue
        e_verdict, e_outcomes = eligo[source]
        verdicts += e_verdict == verdict
        for cid, outcome in outcomes.items():
            if e_outcomes.get(cid) == outcome:
                criteria += 1
            else:
                differences.setdefault((cid, e_outcomes.get(cid), outcome), []).append(source)
    return verdicts, criteria, differences


def check_process_time(runs=3):
    example = ROOT / "facts" / "patients" / "eligible-taormina.yaml"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reasoner", "check", str(example), "--as-of", AS_OF.isoformat()],
                       stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile(n, engine):
    """Where one worker's time goes: validation + judging n synthetic patients in this process."""
    from reasoner.pipeline import judge
    from reasoner.record.read import record_from_data
    from reasoner.screen.cohort import evaluator

    records = list(generate(n, seed=99))
    judge(record_from_data(records[0], "warm", AS_OF), None, evaluator(engine))
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    for i, rec in enumerate(records):
        judge(record_from_data(rec, f"p{i}", AS_OF), None, evaluator(engine))
    prof.disable()
    took = time.perf_counter() - start
    print(f"\nprofile [{engine}]: {n} patients in one process, {1000 * took / n:.1f} ms per patient (profiler on)")
    buffer = io.StringIO()
    pstats.Stats(prof, stream=buffer).sort_stats("tottime").print_stats(12)
    print("\n".join(buffer.getvalue().splitlines()[6:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="folder to keep cohorts and results in (default: a temporary one)")
    parser.add_argument("--engines", nargs="+", default=["pydatalog", "fast"], choices=["pydatalog", "fast"])
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also profile judging N patients")
    args = parser.parse_args(argv)
    from reasoner.logic.rulebook import build, rulebook

    trials = list(rulebook().trials)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="eligo-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"trials: {', '.join(trials)}; workers: {args.workers}; cpus: {os.cpu_count()}; files in {folder}")
    walls = {}
    for n in args.sizes:
        cohort = folder / f"cohort-{n}.jsonl"
        write_jsonl(cohort, n, args.seed)
        base, base_wall = baseline(cohort)
        print(f"\n{n} patients; baseline (plain Python TAORMINA, 1 process): {base_wall:.2f} s, {n / base_wall:.0f} patients/s")
        outputs, rule_sets = {}, {}
        for engine in args.engines:
            out = folder / f"results-{n}-{engine}.jsonl"
            before = build().sha256
            wall, peak, summary = eligo_screen(cohort, out, args.workers, engine=engine)
            rule_sets[engine] = {before, build().sha256}
            walls[(engine, n)] = wall
            outputs[engine] = out
            print(f"  [{engine}] {n} patients x {len(trials)} trial(s), {args.workers} workers: {wall:.1f} s wall, "
                  f"{n / wall:.1f} patients/s, peak RSS {peak / 2**20:.0f} MB (process + workers)")
            print(f"    {summary}")
            if len(trials) > 1:
                out = folder / f"results-{n}-{engine}-taormina.jsonl"
                wall, _peak, _summary = eligo_screen(cohort, out, args.workers, ["taormina"], engine)
                print(f"    TAORMINA only: {wall:.1f} s wall, {n / wall:.1f} patients/s")
            print(f"    Eligo TAORMINA wall / baseline wall = {wall / base_wall:.0f}x")
            verdicts, criteria, differences = agreement(eligo_taormina(out), base)
            print(f"    agreement with the baseline on TAORMINA: {verdicts}/{len(base)} verdicts, "
                  f"{criteria}/{len(base) * 27} criterion outcomes")
            for (cid, e, b), sources in sorted(differences.items(), key=lambda kv: -len(kv[1])):
                print(f"      {cid}: Eligo {e} vs baseline {b}: {len(sources)} patients, e.g. {sources[0]}")
        if len(outputs) > 1:
            texts = {engine: path.read_bytes() for engine, path in outputs.items()}
            same = len(set(texts.values())) == 1
            rows = texts[args.engines[0]].count(b"\n")
            print(f"  engines agree on every row (all trials): {'yes' if same else 'NO'} ({rows} rows compared)")
            if len(set().union(*rule_sets.values())) > 1:
                print("  (the rule files changed during these runs, so the engines judged different rules)")
    sizes = sorted(args.sizes)
    if len(sizes) > 1:
        for engine in args.engines:
            small, large = walls[(engine, sizes[0])], walls[(engine, sizes[-1])]
            print(f"\nscaling [{engine}]: time({sizes[-1]}) / time({sizes[0]}) = {large / small:.2f} "
                  f"(size ratio {sizes[-1] / sizes[0]:.0f})")
    print(f"eligo check of one patient, whole process: {check_process_time():.2f} s (median of 3)")
    for engine in args.engines if args.profile else ():
        profile(args.profile, engine)


if __name__ == "__main__":
    main()
