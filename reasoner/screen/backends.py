"""Where batches are judged: in this process, on a local process pool, or on Dask distributed.

Every backend runs the same worker function (screen.judge_batch) and hands results back in input
order with a bounded number of batches in flight, so memory stays flat however large the cohort.
"""

import collections
import concurrent.futures
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from functools import partial

from ..errors import InputError
from .cohort import judge_batch, warm_up

BACKENDS = ("local", "dask")


class Done:
    """A finished 'future' for the in-process backend."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def ordered(submit, batches, in_flight):
    """Results of submit(batch) for each batch, in input order, at most in_flight pending."""
    pending = collections.deque()
    for batch in batches:
        pending.append(submit(batch))
        while len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def default_workers():
    """The CPUs this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def start_method():
    """fork when this process has no other thread (workers inherit the imported modules: ~1 s
    faster to start); spawn otherwise, since forking a threaded process can copy a held lock."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


PR_SET_PDEATHSIG = 1   # linux/prctl.h


def _die_with(parent):
    """Make this worker end when the screening process does, even when that one is SIGKILLed:
    the kernel's parent-death signal on Linux, else a thread that polls the parent's pid."""
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            armed = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    if os.getppid() != parent:      # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="eligo-parent-watch", daemon=True).start()


_forking_workers = False


def _quiet_child():
    """Right after a pool worker is forked, before any of its Python code runs: it would otherwise
    keep the main process's SIGINT/SIGTERM handler until _start_worker, and a signal in that gap
    raised Interrupted inside the worker's start-up (a traceback, a broken pool)."""
    if _forking_workers:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_quiet_child)


def _start_worker(parent, initializer, initargs):
    """Pool initializer. Ctrl-C reaches the whole process group: only the main process acts on it
    (and SIGTERM), so workers print no tracebacks; it stops them itself (stop_workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with(parent)
    initializer(*initargs)


def stop_workers(pool):
    """Kill the pool's processes at once (an interrupted or failed run): their batches are lost, the
    checkpoint says where to resume. ProcessPoolExecutor has no public way to do this."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, AttributeError, ValueError):
            process.kill()
    # Batches still queued for the killed workers: the queue's feeder thread may be blocked writing
    # one into a full pipe nobody reads, and shutdown() would wait for it forever (Python 3.11.2's
    # ProcessPoolExecutor joins that thread). Stop waiting for it; the process exits without it.
    with contextlib.suppress(AttributeError):
        pool._call_queue.cancel_join_thread()


@contextmanager
def process_pool(workers, work, initializer, initargs=()):
    """(submit, in_flight) for work(batch): one worker is this process; more are a pool of processes,
    each set up once by initializer(*initargs), ignoring Ctrl-C and SIGTERM (the main process stops
    them) and dying with the main process. Screening and `eligo diff` share it."""
    if workers == 1:
        initializer(*initargs)
        yield (lambda batch: Done(work(batch))), 1
        return
    method = start_method()
    if method == "fork":
        # Once here: forked workers inherit the loaded and compiled rules (each compiling its own
        # copy cost ~0.3 s of CPU per worker); their own set-up then finds them ready.
        initializer(*initargs)
    context = multiprocessing.get_context(method)
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                                                  initargs=(os.getpid(), initializer, initargs))
    global _forking_workers
    _forking_workers = True
    try:
        yield (lambda batch: pool.submit(work, batch)), 2 * workers
    except BaseException:
        stop_workers(pool)
        raise
    finally:
        _forking_workers = False
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def local(workers, as_of, trial_ids, engine_name, strict_dates=False, rules=None, with_missing=False):
    """(submit, in_flight) on this process or a local pool, each worker warmed up once."""
    work = partial(judge_batch, as_of=as_of, trial_ids=trial_ids, engine_name=engine_name, strict_dates=strict_dates,
                   rules=rules, with_missing=with_missing)
    with process_pool(workers, work, warm_up, (engine_name, rules, trial_ids)) as pool:
        yield pool


@contextmanager
def _workers_ignore_ctrl_c():
    """Processes started in this block inherit SIGINT ignored (Python then installs no KeyboardInterrupt
    handler in them): a terminal's Ctrl-C reaches the whole group, and only the main process acts on it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def dask(scheduler, workers, as_of, trial_ids, engine_name, strict_dates=False, rules=None, with_missing=False):
    """(submit, in_flight) on a Dask scheduler, or on a LocalCluster of `workers` processes without one."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--backend dask needs Dask: pip install 'eligo[dask]'") from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="10s")
        else:
            with _workers_ignore_ctrl_c():
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise InputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({err})") from None
    try:
        threads = sum(client.nthreads().values()) or 1
        yield (lambda batch: client.submit(judge_batch, batch, as_of, trial_ids, engine_name, strict_dates, rules, with_missing,
                                                   pure=False)), 2 * threads
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def backend(name, workers, as_of, trial_ids, scheduler, engine_name, strict_dates=False, rules=None, with_missing=False):
    """rules: a working copy of the rules (str path) every worker uses, or None for the installed rules."""
    if name == "dask":
        return dask(scheduler, workers, as_of, trial_ids, engine_name, strict_dates, rules, with_missing)
    return local(workers, as_of, trial_ids, engine_name, strict_dates, rules, with_missing)
