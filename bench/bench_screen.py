"""Benchmark of `eligo screen` (run by hand, not in CI): prints figures, asserts nothing about speed.

For each cohort size, in one run: CPU time per patient of a real `eligo screen` process, all five
trials (user + sys of the process and its workers), wall time and peak RSS (process + workers), each
the min / median of --repeat runs with the load average; the plain-Python TAORMINA baseline's CPU
time per patient on the same cohort in the same run, and Eligo's ratio to it; whether Eligo and the
baseline agree on every TAORMINA verdict and criterion, and whether the engines write identical rows.

    python bench/bench_screen.py [--sizes 1000 10000] [--large] [--workers 2] [--repeat 3]
                                 [--engines fast pydatalog] [--reference-max 1000] [--root OTHER_CHECKOUT]
                                 [--check-runs 10] [--no-check] [--profile N]

--large adds 100,000 patients (long). pyDatalog is run only up to --reference-max patients (it is
~10x slower), enough to compare the engines row for row. --root runs another checkout's code (e.g.
main, for before/after figures in one run); the baseline and the cohort stay this checkout's.

Every `eligo` process runs as an installed copy does, with Python's bytecode cache (an environment
PYTHONDONTWRITEBYTECODE is dropped for them). Last, the cold `eligo check` of one example: a new
process per run, after one warm-up run, min / median of --check-runs (default 10).
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
from cohort import AS_OF, write_jsonl  # noqa: E402

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


def eligo_screen(cohort, out, workers, trials=(), engine="pydatalog", root=ROOT):
    """One `eligo screen` process: (wall s, peak RSS bytes, CPU s of the process and its workers, summary)."""
    cmd = [sys.executable, "-m", "reasoner", "screen", str(cohort), "--as-of", AS_OF.isoformat(), "--engine", engine,
           "--workers", str(workers), "--out", str(out), "--errors", str(out) + ".errors.jsonl"]
    for trial in trials:
        cmd += ["--trial", trial]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=root, env=installed_env())
    rss = PeakRss(proc.pid)
    _out, err = proc.communicate()
    wall = time.perf_counter() - start
    peak = rss.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"eligo screen failed ({proc.returncode}): {err.decode()[-2000:]}")
    summary = err.decode().strip().splitlines()[-1]
    return wall, peak, cpu, f"{summary} (load average {load:.1f} -> {os.getloadavg()[0]:.1f})"


def baseline(cohort):
    """Plain-Python TAORMINA over the same JSONL file (JSON parsing included, as Eligo's):
    {source: (verdict, outcomes)} and CPU seconds of this process."""
    results, start = {}, time.process_time()
    with open(cohort, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                results[f"{cohort}:{number}"] = taormina(json.loads(line), AS_OF)
    return results, time.process_time() - start


def spread(values):
    return min(values), statistics.median(values)


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


def installed_env():
    """The environment with Python writing and reading its bytecode cache, as a user's install
    does: a PYTHONDONTWRITEBYTECODE set here would recompile every module of reasoner on each
    run (~0.1-0.15 s), a cost no installed copy pays after its first run."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def check_process_time(runs=10, root=ROOT):
    """(min, median) wall seconds of `eligo check` of one example as a whole process, over `runs`
    runs after one warm-up run (which writes the bytecode and rule caches)."""
    example = ROOT / "facts" / "patients" / "eligible-taormina.yaml"
    cmd = [sys.executable, "-m", "reasoner", "check", str(example), "--as-of", AS_OF.isoformat()]
    times = []
    for n in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, cwd=root, env=installed_env())
        if n:
            times.append(time.perf_counter() - start)
    return spread(times)


def profile(n, engine):
    """Where one worker's time goes: judge_batch (what a pool worker runs: reading, validating and
    judging each line, rows) over n synthetic patients in this process, with cProfile."""
    from reasoner.screen.cohort import batches, judge_batch, open_items, warm_up

    with tempfile.TemporaryDirectory() as folder:
        cohort = Path(folder) / "profile.jsonl"
        write_jsonl(cohort, n, 99)
        warm_up(engine)
        _total, items = open_items(str(cohort))
        items = list(items)
        judge_batch(items[:5], AS_OF, engine_name=engine)
        prof = cProfile.Profile()
        start = time.perf_counter()
        prof.enable()
        for batch in batches(iter(items), 50):
            judge_batch(batch, AS_OF, engine_name=engine)
        prof.disable()
        took = time.perf_counter() - start
    print(f"\nprofile [{engine}]: {n} patients in one process, {1000 * took / n:.1f} ms per patient (profiler on)")
    buffer = io.StringIO()
    pstats.Stats(prof, stream=buffer).sort_stats("tottime").print_stats(12)
    print("\n".join(buffer.getvalue().splitlines()[6:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--large", action="store_true", help="also 100,000 patients (long)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and engine (min / median shown)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="folder to keep cohorts and results in (default: a temporary one)")
    parser.add_argument("--engines", nargs="+", default=["fast", "pydatalog"], choices=["pydatalog", "fast"])
    parser.add_argument("--reference-max", type=int, default=1000, help="largest size pyDatalog is run at")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose `eligo screen` is measured")
    parser.add_argument("--no-check", action="store_true", help="skip the cold `eligo check` timing")
    parser.add_argument("--check-runs", type=int, default=10, help="runs of the cold `eligo check` timing (>= 5)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also profile judging N patients")
    args = parser.parse_args(argv)
    if args.check_runs < 5:
        parser.error("--check-runs: at least 5 (a min / median of fewer runs is noise on a shared machine)")
    from reasoner.logic.rulebook import build, rulebook

    trials = list(rulebook().trials)
    sizes = sorted(set(args.sizes + ([100_000] if args.large else [])))
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="eligo-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"trials: {', '.join(trials)}; workers: {args.workers}; cpus: {os.cpu_count()}; code: {args.root}; "
          f"load average {os.getloadavg()[0]:.1f}; files in {folder}")
    walls = {}
    for n in sizes:
        cohort = folder / f"cohort-{n}.jsonl"
        write_jsonl(cohort, n, args.seed)
        base_cpu = []
        for _ in range(args.repeat):
            base, seconds = baseline(cohort)
            base_cpu.append(1000 * seconds / n)
        low, mid = spread(base_cpu)
        print(f"\n{n} patients; baseline (plain Python, TAORMINA only, 1 process): {low:.3f} / {mid:.3f} ms CPU per "
              f"patient (min / median of {args.repeat}; load average {os.getloadavg()[0]:.1f})")
        outputs, rule_sets = {}, {}
        for engine in args.engines:
            if engine == "pydatalog" and n > args.reference_max:
                continue
            out = folder / f"results-{n}-{engine}.jsonl"
            before = build().sha256
            runs = []
            for _ in range(args.repeat if engine == "fast" else 1):
                wall, peak, cpu, summary = eligo_screen(cohort, out, args.workers, engine=engine, root=args.root)
                runs.append((1000 * cpu / n, wall, peak))
                print(f"    {summary}")
            rule_sets[engine] = {before, build().sha256}
            cpu_low, cpu_mid = spread([r[0] for r in runs])
            wall_low, wall_mid = spread([r[1] for r in runs])
            walls[(engine, n)] = wall_low
            outputs[engine] = out
            print(f"  [{engine}] {n} patients x {len(trials)} trials, {args.workers} workers, min / median of {len(runs)}: "
                  f"{cpu_low:.3f} / {cpu_mid:.3f} ms CPU per patient = {cpu_low / low:.1f}x / {cpu_mid / mid:.1f}x the "
                  f"baseline; wall {wall_low:.1f} / {wall_mid:.1f} s ({n / wall_low:.0f} patients/s); peak RSS "
                  f"{max(r[2] for r in runs) / 2**20:.0f} MB (process + workers)")
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
    for engine in args.engines:
        measured = sorted(n for e, n in walls if e == engine)
        if len(measured) > 1:
            small, large = walls[(engine, measured[0])], walls[(engine, measured[-1])]
            print(f"\nscaling [{engine}]: wall({measured[-1]}) / wall({measured[0]}) = {large / small:.2f} "
                  f"(size ratio {measured[-1] / measured[0]:.0f})")
    if not args.no_check:
        low, mid = check_process_time(args.check_runs, args.root)
        print(f"eligo check of one patient, whole process (bytecode cached, after one warm-up run): {low:.3f} / "
              f"{mid:.3f} s wall (min / median of {args.check_runs}; load average {os.getloadavg()[0]:.1f})")
    for engine in args.engines if args.profile else ():
        profile(args.profile, engine)


if __name__ == "__main__":
    main()
