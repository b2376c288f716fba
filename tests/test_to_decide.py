"""`missing` names only inputs absent from the record; `to_decide` says, for every unknown
criterion, what would decide it (issue 15). Checked over every example and a synthetic cohort."""

import pytest
from hypothesis import given

from reasoner.explain.decide import to_decide
from reasoner.paths import data_root
from reasoner.pipeline import judge, load_input
from reasoner.record.edit import parse_path
from reasoner.record.read import parse_text, record_from_data
from tests.conftest import AS_OF, bench_module
from tests.record_strategies import valid_records, validate

EXAMPLES = sorted((data_root() / "facts" / "patients").glob("*.yaml"))


def present(data, path):
    """Whether the record data holds something at path (labs[0].uln, dates.treatment_start)."""
    node = data
    for token in parse_path(path):
        if isinstance(token, int):
            if not isinstance(node, list) or token >= len(node):
                return False
        elif not isinstance(node, dict) or token not in node:
            return False
        node = node[token]
    return True


def check_truthful(record, verdicts):
    needs = to_decide(record, verdicts)
    unknown = 0
    for tv in verdicts:
        for c in tv.unknown:
            unknown += 1
            partial = set(record.data.get("incomplete_sections", ()))
            for path in c.missing:
                assert path in partial or not present(record.data, path), \
                    f"{record.filename}: {tv.trial.id}/{c.id}: {path} is recorded"
            found = needs[(tv.trial.id, c.id)]
            assert found, f"{record.filename}: {tv.trial.id}/{c.id}: nothing says what would decide it"
            for need in found:
                assert need.text and need.inputs and need.decides
                assert not need.text.startswith("a decision from these inputs"), (tv.trial.id, c.id, need)
                # another evaluation date is never something to find out (time decides it)
                assert not need.text.startswith("evaluated as of"), (tv.trial.id, c.id, need)
    return unknown


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_missing_is_absent_and_to_decide_is_given(path):
    judgement = judge(load_input(path, AS_OF))
    check_truthful(judgement.record, judgement.verdicts)


def test_synthetic_cohort_missing_is_absent_and_to_decide_is_given():
    unknown = 0
    for i, data in enumerate(bench_module("cohort").generate(40, seed=11)):
        record = record_from_data(data, f"cohort[{i}]", AS_OF)
        unknown += check_truthful(record, judge(record).verdicts)
    assert unknown > 100   # the cohort leaves plenty undecided


def test_recorded_imaging_is_not_missing_and_pet_ct_is_asked_for():
    judgement = judge(load_input(data_root() / "facts/patients/indeterminate-taormina.yaml", AS_OF), ["taormina"])
    (i3,) = [c for c in judgement.verdicts[0].criteria if c.id == "I3"]
    assert i3.outcome == "unknown" and i3.missing == ()
    (need,) = to_decide(judgement.record, judgement.verdicts)[("taormina", "I3")]
    assert need.text == "an imaging study with modality pet-ct or fdg-pet-ct"
    assert need.inputs == ("imaging",) and need.time_bound and not need.absent
    assert need.recorded == ("imaging IMG1: ct on 2026-11-02, not pet-ct or fdg-pet-ct",
                             "imaging IMG2: bone_scan on 2026-11-02, not pet-ct or fdg-pet-ct")


def test_absent_section_is_missing_and_named_in_to_decide():
    source = data_root() / "facts/patients/eligible-taormina.yaml"
    data = parse_text(source.read_bytes(), str(source))
    del data["performance_status"]
    record = record_from_data(data, "no-ecog", AS_OF)
    judgement = judge(record, ["taormina"])
    (i7,) = [c for c in judgement.verdicts[0].criteria if c.id == "I7"]
    assert i7.outcome == "unknown" and i7.missing == ("performance_status",)
    texts = {n.text for n in to_decide(record, judgement.verdicts)[("taormina", "I7")]}
    assert texts == {"an ECOG/WHO performance status assessment with scale ecog or who"}


@given(valid_records())
def test_generated_records_missing_is_absent_and_to_decide_is_given(data):
    record = validate(data)
    assert record is not None
    check_truthful(record, judge(record).verdicts)


def test_needs_words_the_passing_side_once_and_the_derived_rest_stays():
    """OLIGAMI P16 with every lab outside the window: one derived fact (the first lab) cannot say
    "each of seven", so the criterion's `needs:` replaces the derived met side; the derived not-met
    side stays, and the JSON and text output no longer show it a second time."""
    from reasoner.logic.rulebook import rulebook
    from reasoner.render.result import result_document
    from reasoner.render.text import render_check

    source = data_root() / "facts/patients/eligible-oligami.yaml"
    data = parse_text(source.read_bytes(), str(source))
    data["dates"]["registration"] = "2026-09-30"
    record = record_from_data(data, "late-registration", AS_OF)
    judgement = judge(record, ["oligami"])
    needs = to_decide(record, judgement.verdicts)
    p16 = needs[("oligami", "P16")]
    written = rulebook().trials["oligami"].criterion("P16").needs
    assert p16[0].text == written and p16[0].side == "holds" and p16[0].actionable
    assert "lab" in " ".join(p16[0].inputs)
    assert [n.side for n in p16[1:]] and {n.side for n in p16[1:]} == {"lacks"}
    assert not [n for n in p16 if n.side == "holds" and n.text != written]
    document = result_document(record, judgement.book, judgement.verdicts, needs)
    (entry,) = [c for t in document["trials"] for c in t["criteria"] if c["id"] == "P16" and t["stage"] == "primary"]
    assert "needs" not in entry and entry["to_decide"][0]["need"] == written
    text = " ".join(render_check(document, judgement.book).split())
    assert text.count(" ".join(written.split())) == 1 and "needs:" not in text


def test_a_window_criterion_without_needs_derives_the_window():
    """TAORMINA I16 with the only negative test 15 days before treatment start: the derived met
    side names the window's dates (no hand-written `needs:` any more)."""
    source = data_root() / "facts/patients/eligible-taormina.yaml"
    data = parse_text(source.read_bytes(), str(source))
    data["reproductive"].update(childbearing_potential=True, contraception=True,
                                pregnancy_tests=[{"date": "2026-11-22", "result": "negative"}])
    record = record_from_data(data, "late-test", AS_OF)
    judgement = judge(record, ["taormina"])
    i16 = to_decide(record, judgement.verdicts)[("taormina", "I16")]
    met = [n for n in i16 if n.side == "holds"]
    assert [n.text for n in met] == ["a pregnancy test with result negative, dated on or after 2026-11-23 and on or before 2026-12-07"]
    assert met[0].recorded == ("pregnancy test preg1: negative on 2026-11-22, not on or after 2026-11-23 (1 day before)",)
