"""The benchmark's plain-Python TAORMINA (bench/baseline_taormina.py) is only a fair baseline if
it implements the same readings: on a synthetic cohort it must agree with Eligo on every criterion."""

import json

from conftest import AS_OF, bench_module

from reasoner.logic.fastlog import fast_engine
from reasoner.logic.rulebook import rulebook
from reasoner.pipeline import judge
from reasoner.record.read import record_from_data


def test_the_baseline_agrees_with_eligo_on_every_taormina_criterion():
    baseline = bench_module("baseline_taormina")
    differences, compared = [], 0
    for i, data in enumerate(bench_module("cohort").generate(300, seed=5)):
        data = json.loads(json.dumps(data, default=str))      # as the benchmark reads its JSONL
        base_verdict, base = baseline.taormina(data, AS_OF)
        verdict = judge(record_from_data(data, f"synthetic-{i}", AS_OF), ["taormina"], fast_engine()).verdicts[0]
        ours = {c.id: c.outcome for c in verdict.criteria}
        if verdict.verdict != base_verdict:
            differences.append(f"synthetic-{i}: verdict {verdict.verdict} vs baseline {base_verdict}")
        differences += [f"synthetic-{i} {cid}: {ours[cid]} vs baseline {base[cid]}" for cid in ours if ours[cid] != base[cid]]
        compared += len(ours)
    assert not differences, "\n".join(differences[:20])
    assert compared == 300 * len(rulebook().trial("taormina").criteria)
