"""A validated record -> normalized base facts, each with the record path it came from.

Also lists the gaps: inputs the record leaves out. A criterion that neither holds nor lacks is
unknown, and the gaps its rules could read are what it reports as missing. Dates become day
numbers (date.toordinal), lab values integers x 1000 in the canonical unit, booleans True/False.
"""

from dataclasses import dataclass, field

from .format import FINDINGS, SECTIONS_WITH_ITEMS, imaging_uses
from .predicates import BASE
from .reference import reference
from .validator import entries


@dataclass(frozen=True)
class Fact:
    pred: str
    args: tuple      # after the patient argument
    path: str        # record field path, e.g. metastases[2].size_mm


@dataclass(frozen=True)
class Gap:
    pred: str
    path: str        # record path that, filled in, would give the missing facts
    key: tuple = ()  # ((argument position, constant), ...): which facts of pred it concerns


# Looked up per fact and per gap (~180 a patient): computed once, not per call.
_ARITY = {name: pred.arity for name, pred in BASE.items()}
_POSITIONS = {name: {arg: i + 1 for i, arg in enumerate(pred.args)} for name, pred in BASE.items()}


@dataclass
class PatientFacts:
    gaps: list = field(default_factory=list)
    rows: list = field(default_factory=list)   # (pred, args, path) as added: the screening engine reads these

    @property
    def facts(self):
        """The facts as Fact objects, made on first use (a screened patient's ~110 never are)."""
        made = self.__dict__.get("_facts")
        if made is None or len(made) != len(self.rows):
            made = self.__dict__["_facts"] = [Fact(*row) for row in self.rows]
        return made

    def add(self, pred, path, *args):
        assert _ARITY.get(pred) == len(args) + 1, (pred, args)
        self.rows.append((pred, args, path))

    def gap(self, pred, path, **key):
        if self.gaps is None:   # not wanted (screening rows show no missing inputs)
            return
        positions = _POSITIONS[pred]
        self.gaps.append(Gap(pred, path, tuple(sorted((positions[k], v) for k, v in key.items())) if key else ()))

    def value(self, pred, path, container, key, *args, convert=None, **gap_key):
        """Fact pred(*args, value) from container[key], or a gap when the field is absent."""
        if key in container:
            value = container[key]
            args = (*args, convert(value) if convert else value)
            assert _ARITY.get(pred) == len(args) + 1, (pred, args)
            self.rows.append((pred, args, path))   # add(), inline: ~100 a patient
        elif self.gaps is not None:
            self.gap(pred, path, **gap_key)


def day(date):
    return date.toordinal()


def milli(value, factor=1.0):
    return int(round(value * factor * 1000))


def toxicity_name(name):
    """CTCAE terms compared as lower_case_with_underscores ("Peripheral neuropathy" too)."""
    return "_".join(str(name).lower().replace("-", " ").split())


def age_in_years(birth, on):
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def months_between(start, end):
    """Whole months from start to end (the same day-of-month completes a month, as birthdays
    complete years); negative when end lies before start."""
    if end < start:
        return -months_between(end, start)
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


TRIAL_DATES = ("registration", "secondary_registration", "treatment_start", "randomization")


class Since:
    """Whole years or months from a recorded date to each reference date a criterion may count
    to (docs/readings.md "Reference dates"): every trial date the record gives (dates.* and
    dates.by_trial.*.*) and --as-of, the earliest a trial date not recorded can be (eligibility
    is checked on or before it). One fact per distinct day, `<pred>(*ident, Day, N)`; a trial's
    rules pick the day (its own date, the shared one, or --as-of as a lower bound)."""

    def __init__(self, data, as_of):
        given = data.get("dates", {})
        days = [as_of] + [given[kind] for kind in TRIAL_DATES if kind in given]
        days += [when for own in given.get("by_trial", {}).values() for when in own.values()]
        self.days = sorted(set(days))

    def add(self, out, pred, path, when, measure, *ident):
        """pred(*ident, Day, N) for `when` (a date or None: a gap) to each reference day."""
        if when is None:
            out.gap(pred, path)
            return
        for on in self.days:
            out.add(pred, path, *ident, day(on), measure(when, on))


def facts_of(record, gaps=True):
    """All base facts and gaps of one validated record (gaps=False: facts only, gaps None)."""
    data, out = record.data, PatientFacts(gaps=[] if gaps else None)
    out.add("as_of", "--as-of", day(record.as_of))
    incomplete = set(data.get("incomplete_sections", ()))
    for section in SECTIONS_WITH_ITEMS:
        head, _, sub = section.partition(".")
        present = sub in data.get(head, {}) if sub else head in data
        partial = section in incomplete or (section == "other_trials" and "other_trials_since" in data)
        if present and not partial:   # a partial list is no evidence of absence
            out.add("recorded", section, section)
        else:
            out.gap("recorded", section, Section=section)
    since = Since(data, record.as_of)
    _patient(data.get("patient", {}), since, out)
    _dates(data, record.as_of, out)
    _diagnosis(data, out)
    _lesions(data, out)
    _therapy(data, out)
    _labs(data, out)
    _assays(data, out)
    _status(data, out)
    _history(data, out, since)
    _other_trials(data, out)
    return out


def _patient(patient, since, out):
    out.value("sex", "patient.sex", patient, "sex")
    since.add(out, "age_at", "patient.birth_date", patient.get("birth_date"), age_in_years)


def _dates(data, as_of, out):
    dates = data.get("dates", {})
    for kind in TRIAL_DATES:
        if kind in dates:
            out.add("planned", f"dates.{kind}", kind, day(dates[kind]))
            out.add("earliest_trial_day", f"dates.{kind}", kind, day(dates[kind]))
        else:
            out.gap("planned", f"dates.{kind}", Kind=kind)
            out.add("earliest_trial_day", "--as-of", kind, day(as_of))
    for trial, own in dates.get("by_trial", {}).items():
        for kind, when in own.items():
            out.add("trial_planned", f"dates.by_trial.{trial}.{kind}", trial, kind, day(when))


def _diagnosis(data, out):
    diag = data.get("diagnosis", {})
    out.value("confirmation", "diagnosis.confirmation", diag, "confirmation")
    out.value("invasive", "diagnosis.invasive", diag, "invasive")
    out.value("presentation", "diagnosis.presentation", diag, "presentation")
    out.value("metastatic_dx_day", "diagnosis.metastatic_diagnosis_date", diag, "metastatic_diagnosis_date", convert=day)
    receptors = data.get("receptors", {})
    for name in ("er", "pgr", "her2"):
        base = f"receptors.{name}"
        if name not in receptors:
            for pred in ("receptor", "receptor_source", "receptor_percent"):
                out.gap(pred, base, Receptor=name)
            continue
        entry = receptors[name]
        out.add("receptor", f"{base}.status", name, entry["status"])
        out.value("receptor_source", f"{base}.source", entry, "source", name, Receptor=name)
        out.value("receptor_percent", f"{base}.percent", entry, "percent", name, convert=float, Receptor=name)
    primary = data.get("primary_tumour", {})
    out.value("primary_side", "primary_tumour.side", primary, "side")
    out.value("primary_dx_day", "primary_tumour.diagnosis_date", primary, "diagnosis_date", convert=day)
    out.value("primary_controlled", "primary_tumour.controlled", primary, "controlled")
    out.value("primary_present", "primary_tumour.present", primary, "present")
    for i, rec in entries(data.get("recurrences", [])):
        path, rid = f"recurrences[{i}]", rec["id"]
        out.add("recurrence", path, rid, rec["type"])
        out.value("recurrence_day", f"{path}.date", rec, "date", rid, convert=day)
        out.value("recurrence_controlled", f"{path}.controlled", rec, "controlled", rid)
        out.value("recurrence_present", f"{path}.present", rec, "present", rid)


LESION_FIELDS = (
    ("size_mm", "lesion_size_mm", float),
    ("measurable", "lesion_measurable", None),
    ("detected", "lesion_detected_day", day),
    ("detected_by", "lesion_detected_by", None),
    ("confirmed_by_pathology", "lesion_pathology", None),
    ("symptomatic", "lesion_symptomatic", None),
    ("amenable_to_local_therapy", "lesion_amenable", None),
    ("spinal_canal_compromise_pct", "lesion_canal_pct", float),
    ("bilsky_grade", "lesion_bilsky", None),
    ("cortical_defect_pct", "lesion_cortical_pct", float),
    ("progressing", "lesion_progressing", None),
    ("present", "lesion_present", None),
)


def _lesions(data, out):
    for i, site in entries(data.get("metastatic_sites", [])):
        out.add("metastatic_site", f"metastatic_sites[{i}].organ", site["organ"])
    for i, lesion in entries(data.get("metastases", [])):
        path, lid = f"metastases[{i}]", lesion["id"]
        out.add("lesion", path, lid, lesion["organ"])
        for key, pred, convert in LESION_FIELDS:
            out.value(pred, f"{path}.{key}", lesion, key, lid, convert=convert)
        for trial, flag in lesion.get("amenable_for", {}).items():
            out.add("lesion_amenable_for", f"{path}.amenable_for.{trial}", lid, trial, flag)
        if "adjacent_to" in lesion:
            out.add("lesion_adjacency_recorded", f"{path}.adjacent_to", lid)
            for j, organ in enumerate(lesion["adjacent_to"]):
                out.add("lesion_adjacent", f"{path}.adjacent_to[{j}]", lid, organ)
        else:
            out.gap("lesion_adjacency_recorded", f"{path}.adjacent_to")
            out.gap("lesion_adjacent", f"{path}.adjacent_to")
        _changes(lesion, path, lid, out, ("size", "suvmax", "lytic") if lesion["organ"] == "bone" else ("size", "suvmax"))
        site = lesion.get("site", {})
        if lesion["organ"] == "bone":
            for key, pred in (("bone", "lesion_bone"), ("side", "lesion_side"), ("part", "lesion_part")):
                out.value(pred, f"{path}.site.{key}", site, key, lid)
        for j, level in enumerate(site.get("vertebrae", [])):
            out.add("lesion_vertebra", f"{path}.site.vertebrae[{j}]", lid, level)
    for i, site in entries(data.get("locoregional_lesions", [])):
        path, lid = f"locoregional_lesions[{i}]", site["id"]
        out.add("locoregional_lesion", path, lid, site["region"])
        out.value("lesion_progressing", f"{path}.progressing", site, "progressing", lid)
        out.value("locoregional_amenable", f"{path}.amenable_to_local_therapy", site, "amenable_to_local_therapy", lid)
        for trial, flag in site.get("amenable_for", {}).items():
            out.add("lesion_amenable_for", f"{path}.amenable_for.{trial}", lid, trial, flag)
        _changes(site, path, lid, out, ("size", "suvmax"))


CHANGES = (("size", "size_mm"), ("suvmax", "suvmax"), ("lytic", "lytic_mm"))


def _changes(lesion, path, lid, out, measures):
    """lesion_change(L, Measure, Then, Now): a measure at the start of the current systemic
    therapy (baseline_<field>) and now (<field>), x 1000 so that 20% rises compare exactly."""
    for measure, key in CHANGES:
        if measure not in measures:
            continue
        missing = [k for k in ("baseline_" + key, key) if k not in lesion]
        for k in missing:
            out.gap("lesion_change", f"{path}.{k}", Measure=measure)
        if not missing:
            out.add("lesion_change", f"{path}.{key}", lid, measure, milli(lesion["baseline_" + key]), milli(lesion[key]))


def _therapy(data, out):
    for i, study in entries(data.get("imaging", [])):
        path = f"imaging[{i}]"
        out.add("imaging", path, study["id"], study["modality"], day(study["date"]))
        _imaging_uses(study, path, out)
        if "confirmation" in {purpose for purpose, _ in imaging_uses(study)}:   # the field means something only there
            out.value("imaging_confirmed", f"{path}.confirmed", study, "confirmed", study["id"])
        for reg in data.get("systemic_therapy", []):
            if "start" in reg and study["date"] >= reg["start"]:
                out.add("regimen_imaging_months", f"{path}.date", reg["id"], study["id"], months_between(reg["start"], study["date"]))
        for key in ("region", "contrast", "response"):
            out.value(f"imaging_{key}", f"{path}.{key}", study, key, study["id"])
    for i, reg in entries(data.get("systemic_therapy", [])):
        path, rid = f"systemic_therapy[{i}]", reg["id"]
        for j, drug in enumerate(reg["drugs"]):
            out.add("regimen_drug", f"{path}.drugs[{j}]", rid, drug)
        out.value("regimen_protocol", f"{path}.protocol", reg, "protocol", rid)
        out.value("regimen_courses_planned", f"{path}.courses_planned", reg, "courses_planned", rid, convert=int)
        if "planned_start" in reg:   # not started: none of the facts of a given regimen apply
            out.add("regimen_planned", f"{path}.planned_start", rid, reg["setting"], day(reg["planned_start"]))
            continue
        out.add("regimen", path, rid, reg["setting"], day(reg["start"]))
        out.value("regimen_courses_given", f"{path}.courses_given", reg, "courses_given", rid, convert=int)
        out.value("regimen_end", f"{path}.end", reg, "end", rid, convert=day)
        out.value("regimen_ongoing", f"{path}.ongoing", reg, "ongoing", rid)
        for which in ("best", "last"):
            key = f"{which}_response"
            if key in reg:
                out.add("regimen_response", f"{path}.{key}", rid, which, reg[key])
            else:
                out.gap("regimen_response", f"{path}.{key}", Which=which)
        out.value("regimen_evaluations", f"{path}.evaluations", reg, "evaluations", rid, convert=int)
        out.value("regimen_stop", f"{path}.stop_reason", reg, "stop_reason", rid)
        _months_to_metastasis(data, out, "regimen_end_months_to_metastasis", f"{path}.end", reg.get("end"), rid)
    for i, course in entries(data.get("radiotherapy", [])):
        path, cid = f"radiotherapy[{i}]", course["id"]
        out.add("radiotherapy", path, cid)
        out.value("radiotherapy_day", f"{path}.date", course, "date", cid, convert=day)
        out.value("radiotherapy_intent", f"{path}.intent", course, "intent", cid)
        if "lesions" in course:
            out.add("radiotherapy_lesions_recorded", f"{path}.lesions", cid)
        else:
            out.gap("radiotherapy_lesions_recorded", f"{path}.lesions")
        for j, lesion in enumerate(course.get("lesions", [])):
            out.add("radiotherapy_lesion", f"{path}.lesions[{j}]", cid, lesion)
    for i, op in entries(data.get("surgery", [])):
        path, sid = f"surgery[{i}]", op["id"]
        out.add("surgery", path, sid, op["procedure"])
        out.value("surgery_day", f"{path}.date", op, "date", sid, convert=day)
        for key, pred in (("target", "surgery_target"), ("intent", "surgery_intent"), ("side", "surgery_side")):
            out.value(pred, f"{path}.{key}", op, key, sid)
        for j, lesion in enumerate(op.get("lesions", [])):
            out.add("surgery_lesion", f"{path}.lesions[{j}]", sid, lesion)
        _months_to_metastasis(data, out, "surgery_months_to_metastasis", f"{path}.date", op.get("date"), sid)


def _imaging_uses(study, path, out):
    """imaging_purpose and imaging_regimen per use, and imaging_use where a use has both; a
    study given as purpose/regimen has one use, at those paths."""
    sid = study["id"]
    paths = [f"{path}.uses[{j}]" for j in range(len(study["uses"]))] if "uses" in study else [path]
    purposes = regimens = 0
    for where, (purpose, regimen) in zip(paths, imaging_uses(study)):
        if purpose is not None:
            out.add("imaging_purpose", f"{where}.purpose", sid, purpose)
            purposes += 1
        if regimen is not None:
            out.add("imaging_regimen", f"{where}.regimen", sid, regimen)
            regimens += 1
        if purpose is not None and regimen is not None:
            out.add("imaging_use", where if "uses" in study else f"{path}.purpose", sid, purpose, regimen)
    if not purposes:
        out.gap("imaging_purpose", f"{path}.purpose")
        out.gap("imaging_use", f"{path}.purpose")
    if not regimens:
        out.gap("imaging_regimen", f"{path}.regimen")
        out.gap("imaging_use", f"{path}.regimen")


def _months_to_metastasis(data, out, pred, path, when, ident):
    """Whole months from a treatment date to the metastatic diagnosis (a disease-free interval)."""
    metastatic = data.get("diagnosis", {}).get("metastatic_diagnosis_date")
    if when is None:
        out.gap(pred, path)
    elif metastatic is None:
        out.gap(pred, "diagnosis.metastatic_diagnosis_date")
    else:
        out.add(pred, path, ident, months_between(when, metastatic))


def _labs(data, out):
    for i, lab in entries(data.get("labs", [])):
        path, lid, factor = f"labs[{i}]", f"lab{i + 1}", lab["factor"]
        out.add("lab", path, lid, lab["test"], milli(lab["value"], factor), day(lab["date"]))
        out.value("lab_uln", f"{path}.uln", lab, "uln", lid, convert=lambda v, f=factor: milli(v, f))
        out.value("lab_lln", f"{path}.lln", lab, "lln", lid, convert=lambda v, f=factor: milli(v, f))
        # Multiples of the ULN compare value and ULN in their shared unit: converting each and
        # rounding separately could move a value of exactly 3.0 x ULN to either side.
        out.value("lab_uln_pair", f"{path}.uln", lab, "uln", lid, round(lab["value"] * 10**6), convert=lambda v: round(v * 10**6))


def _assays(data, out):
    for i, assay in entries(data.get("assays", [])):
        path, aid = f"assays[{i}]", f"assay{i + 1}"
        out.add("assay", path, aid, assay["test"], assay["result"], day(assay["date"]))
        out.value("assay_laboratory", f"{path}.laboratory", assay, "laboratory", aid)
    if "assays" not in data:
        out.gap("assay", "assays")


def _status(data, out):
    for i, ps in entries(data.get("performance_status", [])):
        out.add("performance", f"performance_status[{i}]", f"ps{i + 1}", ps["scale"], int(ps["value"]), day(ps["date"]))
    repro = data.get("reproductive", {})
    for key in ("childbearing_potential", "pregnant", "breastfeeding", "contraception"):
        out.value(key, f"reproductive.{key}", repro, key)
    out.value("last_delivery_day", "reproductive.last_delivery", repro, "last_delivery", convert=day)
    if "pregnancy_tests" not in repro:
        out.gap("pregnancy_test", "reproductive.pregnancy_tests")
    for i, test in entries(repro.get("pregnancy_tests", [])):
        out.add("pregnancy_test", f"reproductive.pregnancy_tests[{i}]", f"preg{i + 1}", test["result"], day(test["date"]))
    findings = data.get("findings", {})
    for key in FINDINGS:
        if key in findings:
            out.add("finding", f"findings.{key}", key, findings[key])
        else:
            out.gap("finding", f"findings.{key}", Key=key)
    out.value("life_expectancy_months", "assessment.life_expectancy_months", data.get("assessment", {}),
              "life_expectancy_months", convert=float)
    out.value("life_expectancy_over", "assessment.life_expectancy_more_than_months", data.get("assessment", {}),
              "life_expectancy_more_than_months", convert=float)
    out.value("child_pugh", "assessment.child_pugh_class", data.get("assessment", {}), "child_pugh_class")
    consent = data.get("consent", {})
    out.value("consent_signed", "consent.signed", consent, "signed")
    out.value("consent_day", "consent.date", consent, "date", convert=day)
    if "attestations" not in data:
        out.gap("attested", "attestations")
    for i, att in entries(data.get("attestations", [])):
        trial, crit = att["criterion"].split("/")
        out.add("attested", f"attestations[{i}]", trial, crit, att["answer"])


def _history(data, out, since):
    for i, mal in entries(data.get("other_malignancies", [])):
        path, mid = f"other_malignancies[{i}]", mal["id"]
        out.add("other_malignancy", path, mid, mal["category"])
        out.value("malignancy_dx_day", f"{path}.diagnosis_date", mal, "diagnosis_date", mid, convert=day)
        since.add(out, "malignancy_years_at", f"{path}.diagnosis_date", mal.get("diagnosis_date"), age_in_years, mid)
        out.value("malignancy_status", f"{path}.status", mal, "status", mid)
        out.value("malignancy_requires_therapy", f"{path}.requires_therapy", mal, "requires_therapy", mid)
        out.value("malignancy_radically_treated", f"{path}.radically_treated", mal, "radically_treated", mid)
        out.value("malignancy_treatment_end_day", f"{path}.treatment_end", mal, "treatment_end", mid, convert=day)
        since.add(out, "malignancy_treatment_years_at", f"{path}.treatment_end", mal.get("treatment_end"), age_in_years, mid)
        if "treatments" in mal:
            out.add("malignancy_treatments_recorded", f"{path}.treatments", mid)
        else:
            out.gap("malignancy_treatments_recorded", f"{path}.treatments")
        for j, mod in enumerate(mal.get("treatments", [])):
            out.add("malignancy_treatment", f"{path}.treatments[{j}]", mid, mod)
    for i, com in entries(data.get("comorbidities", [])):
        path, cid = f"comorbidities[{i}]", f"c{i + 1}"
        out.add("comorbidity", path, cid, com["condition"])
        out.value("comorbidity_status", f"{path}.status", com, "status", cid)
        since.add(out, "comorbidity_months_at", f"{path}.date", com.get("date"), months_between, cid)
        out.value("comorbidity_nyha", f"{path}.nyha_class", com, "nyha_class", cid, convert=int)
    for i, tox in entries(data.get("toxicities", [])):
        path, tid = f"toxicities[{i}]", f"t{i + 1}"
        out.add("toxicity", path, tid, toxicity_name(tox["name"]), int(tox["grade"]))
        out.value("toxicity_stable", f"{path}.stable", tox, "stable", tid)


def _other_trials(data, out):
    out.value("other_trials_since", "other_trials_since", data, "other_trials_since", convert=day)
    for i, trial in entries(data.get("other_trials", [])):
        path, tid = f"other_trials[{i}]", trial["id"]
        out.add("other_trial", path, tid)
        out.value("other_trial_start", f"{path}.start", trial, "start", tid, convert=day)
        out.value("other_trial_end", f"{path}.end", trial, "end", tid, convert=day)
        out.value("other_trial_ongoing", f"{path}.ongoing", trial, "ongoing", tid)


def reference_facts():
    """Facts from facts/reference/, the same for every patient (asserted once per engine)."""
    ref, facts = reference(), []
    for organ, flags in ref.organs.items():
        for cls, on in flags.items():
            if on:
                facts.append(Fact("organ_class", (organ, cls), f"facts/reference/organs.yaml: {organ}"))
    levels = ref.vertebrae
    for upper, lower in zip(levels, levels[1:]):
        facts.append(Fact("vertebra_next", (upper, lower), "facts/reference/vertebrae.yaml: order"))
    for drug, cls in ref.drugs.items():
        facts.append(Fact("drug_class", (drug, cls), f"facts/reference/drugs.yaml: {drug}"))
    return facts
