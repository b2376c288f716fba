"""Caveats that do not change a verdict, and `eligo worklist` (issue 15)."""

import datetime as dt
import json

from reasoner.explain.caveats import DEFAULT_MAX_AGE, caveats
from reasoner.pipeline import judge, load_input
from tests.conftest import AS_OF, ROOT
from tests.test_cli import eligo

PATIENTS = ROOT / "facts" / "patients"
ELIGIBLE = PATIENTS / "eligible-taormina.yaml"
ECOG = "  - {scale: ecog, value: 1, date: 2026-11-16}\n"
REGISTRATION = dt.date(2026, 12, 1)   # the example's dates.registration


def with_ecog_dated(tmp_path, date):
    text = ELIGIBLE.read_text()
    assert ECOG in text
    path = tmp_path / f"ecog-{date}.yaml"
    path.write_text(text.replace(ECOG, ECOG.replace("2026-11-16", date)))
    return path


def test_old_ecog_without_a_protocol_window_is_a_caveat_not_a_verdict(tmp_path):
    limit = DEFAULT_MAX_AGE["performance"]
    old = with_ecog_dated(tmp_path, "2019-03-01")
    judgement = judge(load_input(old, AS_OF), ["taormina"])
    assert judgement.verdicts[0].verdict == "eligible"
    (caveat,) = caveats(judgement.record, judgement.verdicts)
    assert caveat.kind == "old_observation" and caveat.path == "performance_status[0]"
    assert caveat.criteria == ("taormina/I7",) and f"more than {limit}" in caveat.text
    assert "days old on the TAORMINA registration date 2026-12-01 (more than" in caveat.text
    # the limit, both sides, counted to the registration date (2026-12-01), not to --as-of
    # (2026-11-23): exactly `limit` days old then is no caveat, one day more is, though on --as-of
    # both are within the limit
    for days, expected in ((limit, 0), (limit + 1, 1)):
        dated = with_ecog_dated(tmp_path, dt.date.fromordinal(REGISTRATION.toordinal() - days).isoformat())
        judgement = judge(load_input(dated, AS_OF), ["taormina"])
        assert AS_OF.toordinal() - REGISTRATION.toordinal() + days <= limit
        assert len(caveats(judgement.record, judgement.verdicts)) == expected, days
    # settable
    judgement = judge(load_input(old, AS_OF), ["taormina"])
    assert caveats(judgement.record, judgement.verdicts, {"performance": 3000}) == []


def test_an_old_observation_counts_to_the_trial_s_own_date_or_to_as_of_without_one(tmp_path):
    limit = DEFAULT_MAX_AGE["performance"]
    dated = with_ecog_dated(tmp_path, dt.date.fromordinal(AS_OF.toordinal() - limit - 1).isoformat())
    text = dated.read_text()
    # TAORMINA's own registration date, before the shared one: within the limit there, no caveat
    own = tmp_path / "own.yaml"
    own.write_text(text.replace("  registration: 2026-12-01\n", "  registration: 2026-12-01\n"
                                "  by_trial: {taormina: {registration: 2026-11-22}}\n"))
    judgement = judge(load_input(own, AS_OF), ["taormina"])
    assert [c.kind for c in caveats(judgement.record, judgement.verdicts)] == ["past_date"]   # 2026-11-22 < --as-of
    # no registration date: counted to --as-of, the earliest it can be, and the caveat says so
    bare = tmp_path / "bare.yaml"
    bare.write_text(text.replace("  registration: 2026-12-01\n", ""))
    judgement = judge(load_input(bare, AS_OF), ["taormina"])
    (caveat,) = caveats(judgement.record, judgement.verdicts)
    assert f"is {limit + 1} days old on --as-of 2026-11-23 (the TAORMINA registration date is not recorded" in caveat.text


def test_a_trial_s_own_past_date_is_a_caveat(tmp_path):
    own = tmp_path / "own.yaml"
    own.write_text(ELIGIBLE.read_text().replace("  registration: 2026-12-01\n", "  registration: 2026-12-01\n"
                                                "  by_trial: {taormina: {registration: 2026-11-20}}\n"))
    judgement = judge(load_input(own, AS_OF), ["taormina"])
    assert [c.path for c in caveats(judgement.record, judgement.verdicts) if c.kind == "past_date"] == [
        "dates.by_trial.taormina.registration"]


def test_caveats_in_check_output_and_bad_max_age(tmp_path):
    old = with_ecog_dated(tmp_path, "2019-03-01")
    run = eligo("check", str(old), "--trial", "taormina", "--as-of", "2026-11-23", "--format", "json")
    document = json.loads(run.stdout)
    assert document["trials"][0]["verdict"] == "eligible"
    assert [c["kind"] for c in document["caveats"]] == ["old_observation"]
    text = eligo("check", str(old), "--trial", "taormina", "--as-of", "2026-11-23").stdout
    assert "caveat: performance_status[0]: performance status of 2019-03-01" in text
    bad = eligo("check", str(old), "--as-of", "2026-11-23", "--max-age", "ecog=3")
    assert bad.returncode == 2 and "expected KIND=DAYS" in bad.stderr


def test_past_planned_date_is_a_caveat():
    judgement = judge(load_input(ELIGIBLE, AS_OF), ["taormina"])
    later = judge(load_input(ELIGIBLE, AS_OF.replace(year=2027)), ["taormina"])
    assert not [c for c in caveats(judgement.record, judgement.verdicts) if c.kind == "past_date"]
    past = [c.path for c in caveats(later.record, later.verdicts) if c.kind == "past_date"]
    assert "dates.registration" in past


def test_worklist_names_a_pet_ct_first_for_taormina():
    run = eligo("worklist", str(PATIENTS / "indeterminate-taormina.yaml"), "--trial", "taormina", "--as-of", "2026-11-23")
    assert run.returncode == 0, run.stderr
    collect = [line for line in run.stdout.splitlines() if line.strip().startswith("collect:")]
    assert collect[0] == "  collect: an imaging study with modality pet-ct or fdg-pet-ct  [imaging]"
    everything = eligo("worklist", str(PATIENTS / "indeterminate-taormina.yaml"), "--as-of", "2026-11-23",
                       "--format", "json")
    (patient,) = json.loads(everything.stdout)["patients"]
    taormina = [c["need"] for c in patient["collect"] if any(v.startswith("TAORMINA") for v in c["would_decide"])]
    assert taormina[0] == "an imaging study with modality pet-ct or fdg-pet-ct"
    # ineligible verdicts split: NCT04158843 rests on history (fixed), OLIGAMI primary on a lab window
    assert {t["trial"] for t in patient["ineligible_fixed"]} >= {"COSMO", "NCT04158843"}


def test_worklist_tallies_a_cohort(tmp_path):
    run = eligo("worklist", str(PATIENTS), "--as-of", "2026-11-23", "--format", "json")
    document = json.loads(run.stdout)
    assert len(document["patients"]) == 15 and document["skipped"] == 0
    tally = document["tally"]
    total = sum(p["indeterminate_verdicts"] for p in document["patients"])
    assert tally["indeterminate_verdicts"] == total > 0
    counts = [row["would_decide"] for row in tally["collect"]]
    assert counts == sorted(counts, reverse=True) and all(0 < c <= total for c in counts)
    imaging = next(row for row in tally["collect"] if row["inputs"] == "imaging")
    assert imaging["would_decide"] >= 1
    text = eligo("worklist", str(PATIENTS), "--as-of", "2026-11-23").stdout
    assert "indeterminate verdicts" in text and "imaging: would decide" in text
    csv = eligo("worklist", str(PATIENTS / "indeterminate-taormina.yaml"), "--as-of", "2026-11-23", "--format", "csv")
    assert csv.stdout.splitlines()[0] == "patient,input,kind,need,inputs,verdicts"
    bad = tmp_path / "cohort.jsonl"
    bad.write_text("{\"not\": \"a record\"}\n")
    run = eligo("worklist", str(bad), "--as-of", "2026-11-23", "--format", "json")
    assert json.loads(run.stdout)["skipped"] == 1 and "skipped" in run.stderr


def test_one_shared_proof_search_gives_what_each_gives_alone():
    """`eligo check` asks to_decide and caveats of one patient session and proof search
    (needs_and_caveats); for every example (with old observations: the caveats have something to
    say) both must equal what each computes with its own session."""
    from reasoner.explain.caveats import needs_and_caveats
    from reasoner.explain.decide import to_decide

    limits = {"performance": 1, "lab": 1, "imaging": 1, "pregnancy_test": 1}
    said = 0
    for path in sorted(PATIENTS.glob("*.yaml")):
        judgement = judge(load_input(path, AS_OF))
        needs, notes = needs_and_caveats(judgement.record, judgement.verdicts, limits)
        assert needs == to_decide(judgement.record, judgement.verdicts), path.name
        assert notes == caveats(judgement.record, judgement.verdicts, limits), path.name
        said += bool(needs) + bool(notes)
    assert said >= 20
