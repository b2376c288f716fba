"""--backend dask: the same worker function on a dask.distributed LocalCluster gives the local run's results."""

import io
import json

import pytest
from conftest import AS_OF, EXAMPLE

from reasoner.errors import InputError
from reasoner.screen.run import Settings, run

distributed = pytest.importorskip("distributed")   # the optional extra `eligo[dask]` (installed in CI)


def cohort(path):
    import yaml

    base = json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text()), default=str))
    lines = []
    for i in range(12):
        rec = json.loads(json.dumps(base))
        rec["patient"]["id"] = f"D{i}"
        if i % 3 == 1:
            del rec["metastases"]
        if i % 4 == 2:
            rec["performance_status"][0]["value"] = 3
        lines.append(json.dumps(rec))
    lines.insert(5, '{"schema_version": 1}')
    path.write_text("\n".join(lines) + "\n")
    return path


def screen(tmp_path, source, name, **options):
    out, errors = tmp_path / f"{name}.jsonl", tmp_path / f"{name}-errors.jsonl"
    summary = run(Settings(input=str(source), as_of=AS_OF, trial_ids=["taormina"], out=str(out), errors=str(errors),
                           batch_size=2, **options), stderr=io.StringIO())
    return summary, out.read_text(), errors.read_text()


def check_same_results(local, local_out, local_errors, remote, dask_out, dask_errors):
    assert dask_out == local_out and dask_errors == local_errors
    assert remote.counts == local.counts and (remote.counts.judged, remote.counts.invalid) == (12, 1)
    assert remote.funnel.csv_text() == local.funnel.csv_text()
    verdicts = {json.loads(line)["verdict"] for line in dask_out.splitlines()}
    assert verdicts == {"eligible", "ineligible", "indeterminate"}


def test_a_dask_scheduler_gives_the_local_results(tmp_path):
    source = cohort(tmp_path / "c.jsonl")
    local = screen(tmp_path, source, "local", workers=1)
    # Worker processes, as `dask worker` runs them; one thread each (docs/screening.md says why).
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = screen(tmp_path, source, "dask", backend="dask", scheduler=cluster.scheduler_address)
    check_same_results(*local, *remote)


def test_without_a_scheduler_a_local_dask_cluster_gives_the_local_results(tmp_path):
    source = cohort(tmp_path / "c.jsonl")
    local = screen(tmp_path, source, "local", workers=1)
    remote = screen(tmp_path, source, "dask", backend="dask", workers=2)
    check_same_results(*local, *remote)


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    source = cohort(tmp_path / "c.jsonl")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        screen(tmp_path, source, "x", backend="dask", scheduler="tcp://127.0.0.1:9")
