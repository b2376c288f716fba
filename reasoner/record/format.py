"""The patient record format (docs/patient-record.md describes it for people).

Open world: a field or section left out means "not recorded" and makes the criteria that need it
unknown; an empty list means "known none". Each spec's `doc` is the one-line meaning shown in docs.
"""

import math

from .reference import reference
from .units import UnitError, factor
from .validator import FIELD, Bool, Choice, Date, Enum, List, Map, Num, Obj, SourceInt, Str, describe

SCHEMA_VERSION = 1

RESPONSES = ("cr", "pr", "sd", "pd", "ne")
MODALITIES = ("pet-ct", "fdg-pet-ct", "ct", "mri", "bone_scan", "x-ray", "ultrasound")
BONES = ("vertebra", "femur", "humerus", "sternum", "rib", "pelvis", "skull", "scapula", "clavicle",
         "tibia", "fibula", "radius", "ulna", "other")

FINDINGS = {
    "malignant_pleural_effusion": "malignant pleural effusion present",
    "malignant_ascites": "malignant ascites present",
    "spinal_cord_compression": "metastatic spinal cord compression or spinal cord involvement",
    "spine_instability": "spinal instability from metastasis",
    "neurological_deficit_from_compression": "neurological deficit resulting from compression",
    "progressive_neurological_deficit": "progressive neurological deficit",
    "ct_contraindicated": "cannot undergo CT (e.g. contrast allergy that cannot be managed)",
    "mri_contraindicated": "cannot undergo MRI (e.g. incompatible implant, claustrophobia)",
    "uncontrolled_bone_pain": "severe bone pain uncontrolled with drugs",
    "palliative_radiotherapy_indicated": "palliative radiotherapy indicated for symptoms (pain, bleeding, obstruction, fracture)",
    "hiv_infection": "infection with HIV",
    "hbs_antigen_positive": "HBs antigen positive",
    "fever_38": "fever of 38 degrees Celsius or more",
    "active_infection": "infection requiring treatment",
    "continuous_steroids": "takes systemic steroids continuously",
    "immunosuppressants": "takes immunosuppressive drugs continuously",
}

COMORBIDITIES = (
    "cirrhosis", "hepatitis", "psychiatric_illness", "mental_disorder", "unstable_angina",
    "myocardial_infarction", "hypertension", "diabetes", "heart_failure", "cardiomyopathy",
    "arrhythmia", "atrial_fibrillation", "paroxysmal_svt", "interstitial_pneumonia", "pulmonary_fibrosis", "emphysema",
    "liver_dysfunction", "infectious_disease", "neurological_condition",
    "cardiovascular_disease", "pulmonary_disease", "renal_disease", "other",
)


def _vertebra(value):
    if isinstance(value, str) and value.strip().upper() in reference().vertebrae:
        return value.strip().upper(), None
    return None, "a vertebral level C1..C7, T1..T12, L1..L5 or S1..S5"


def _organ(value):
    if isinstance(value, str) and value.strip().lower() in reference().organs:
        return value.strip().lower(), None
    return None, "an organ from facts/reference/organs.yaml (" + ", ".join(reference().organs) + ")"


def _drug(value):
    name = reference().canonical_drug(value) if isinstance(value, str) else None
    if name:
        return name, None
    return None, "a drug listed in facts/reference/drugs.yaml (add it there with its class)"


def _lab_test(value):
    if isinstance(value, str) and value.strip().lower() in reference().labs:
        return value.strip().lower(), None
    return None, "a lab test from facts/reference/labs.yaml (" + ", ".join(reference().labs) + ")"


def _convert_lab(lab, path, ctx):
    """Check the unit converts to the test's canonical unit and each number lies within the test's
    plausible bounds after conversion (facts/reference/labs.yaml): outside them, the unit or the
    value is wrong, and a verdict on it would be too. Keep the factor with the lab."""
    if "test" not in lab or "unit" not in lab:
        return lab
    try:
        lab["factor"] = factor(lab["unit"], lab["test"])
    except UnitError as err:
        ctx.problem(f"{path}.unit", str(err), None, show=False)
        return lab
    spec = reference().labs[lab["test"]]
    low, high = spec["bounds"]
    for key in ("value", "uln", "lln"):
        if key in lab and not low <= _converted(lab[key], lab["factor"]) <= high:
            after = "" if lab["factor"] == 1.0 else f" (after converting from {lab['unit']})"
            ctx.problem(f"{path}.{key}", f"{lab['test']} between {low:g} and {high:g} {spec['unit']}{after}, the plausible "
                                         "range (check the value and its unit)", lab[key])
    return lab


def _converted(value, factor):
    """value x factor, or infinity when that overflows (it is then out of any bounds)."""
    try:
        return value * factor
    except OverflowError:
        return math.inf


CRITERION_EXPECTED = "a known criterion as TRIAL/ID, e.g. taormina/I12 (see `eligo criteria TRIAL`)"


def _criterion_ref(value):
    """TRIAL/ID in shape; whether the criterion exists and reads attestations is _check_attestation's."""
    if isinstance(value, str) and value.count("/") == 1 and all(part.strip() for part in value.split("/")):
        tid, cid = (part.strip() for part in value.split("/"))
        return f"{tid}/{cid}", None
    return None, CRITERION_EXPECTED


def _check_attestation(att, path, ctx):
    """An attestation must name a criterion whose rules read one: any other is accepted by nothing
    and would be silently ignored. ctx.criteria is the rules' catalogue (the pipeline passes it)."""
    if ctx.criteria is None or "criterion" not in att:
        return att
    tid, cid = att["criterion"].split("/")
    criteria = ctx.criteria.get(tid, {})
    if cid not in criteria:
        ctx.problem(f"{path}.criterion", CRITERION_EXPECTED, att["criterion"])
    elif not criteria[cid]:
        takers = [c for c, takes in criteria.items() if takes]
        listed = f"{tid} takes attestations for " + ", ".join(takers) if takers else f"{tid} takes none"
        ctx.problem(f"{path}.criterion", f"a criterion whose rules read an attestation ({listed}; "
                                         f"{cid} is decided from the record alone)", att["criterion"])
    return att


TRIAL_EXPECTED = "a known trial id (see `eligo trials`), e.g. oligami"


def _trial_ref(value):
    """A trial id in shape; whether the trial exists is _check_trial_refs' (it needs the rules' catalogue)."""
    if isinstance(value, str) and value.strip():
        return value.strip().lower(), None
    return None, TRIAL_EXPECTED


def _check_trial_refs(record, ctx):
    """A protocol regimen must name a trial Eligo knows, or the criteria reading it would see nothing."""
    if ctx.criteria is None:
        return
    for i, regimen in enumerate(record.get("systemic_therapy", [])):
        if "protocol" in regimen and regimen["protocol"] not in ctx.criteria:
            ctx.problem(f"systemic_therapy[{i}].protocol", TRIAL_EXPECTED, regimen["protocol"])


TRIAL_DATE_FIELDS = {
    "registration": Date(past=False, doc="planned registration (OLIGAMI: primary registration)"),
    "secondary_registration": Date(past=False, doc="planned OLIGAMI secondary registration"),
    "treatment_start": Date(past=False, doc="planned start of trial treatment"),
    "randomization": Date(past=False, doc="planned randomisation"),
}


def _check_trial_dates(dates, path, ctx):
    """A trial's own date must name a trial Eligo knows and a kind of date its criteria count
    from: any other would be ignored. ctx.trial_dates ({trial: kinds}, from the rules) comes with
    the catalogue; without them (record-level checks) only the shape is checked."""
    own = dates.get("by_trial", {})
    known = ctx.criteria
    kinds_read = getattr(ctx, "trial_dates", None)
    for key in list(own):
        trial, why = _trial_ref(key)
        where = f"{path}.by_trial.{key}"
        if trial is None or (known is not None and trial not in known):
            listed = f" ({', '.join(sorted(known))})" if known else ""
            ctx.problem(where, (why or TRIAL_EXPECTED) + listed, key, show=False)
            continue
        if not own[key]:
            ctx.problem(where, "at least one date (leave the trial out when it has none of its own)", None, show=False)
        if kinds_read is not None:
            read = kinds_read.get(trial, ())
            for kind in own[key]:
                if kind not in read:
                    ctx.problem(f"{where}.{kind}", f"a date {trial}'s criteria count from "
                                f"({', '.join(read) if read else 'none'})", own[key][kind])
        if trial != key:
            own[trial] = own.pop(key)
    return dates


def _check_site(site, path, ctx):
    if site.get("bone") == "vertebra" and not site.get("vertebrae"):
        ctx.problem(f"{path}.vertebrae", "the vertebral levels of a vertebral lesion (e.g. [T7, T8])", None, show=False)
    if site.get("vertebrae") and site.get("bone") not in (None, "vertebra"):
        ctx.problem(f"{path}.bone", "vertebra when vertebrae are given", site.get("bone"))
    if site.get("vertebrae") and "bone" not in site:
        site["bone"] = "vertebra"
    return site


def _check_lesion(lesion, path, ctx):
    if "site" in lesion and "bone" in lesion["site"] and lesion.get("organ") not in (None, "bone"):
        ctx.problem(f"{path}.organ", "bone when site.bone is given", lesion.get("organ"))
    return _check_amenable_for(lesion, path, ctx)


def _check_amenable_for(lesion, path, ctx):
    """Per-trial feasibility must name trials Eligo knows: a flag for an unknown trial would be ignored."""
    flags = lesion.get("amenable_for", {})
    for key in list(flags):
        trial, why = _trial_ref(key)
        if trial is None or (ctx.criteria is not None and trial not in ctx.criteria):
            ctx.problem(f"{path}.amenable_for.{key}", why or TRIAL_EXPECTED, key, show=False)
        elif trial != key:
            flags[trial] = flags.pop(key)
    return lesion


def _check_ps(entry, path, ctx):
    scale, value = entry.get("scale"), entry.get("value")
    if value is None:
        return entry
    if scale in ("ecog", "who") and value > 5:
        ctx.problem(f"{path}.value", f"an {scale.upper()} grade 0-5", value)
    if scale == "karnofsky" and value % 10:
        ctx.problem(f"{path}.value", "a Karnofsky score in steps of 10", value)
    return entry


def _check_period(period, path, ctx):
    """A period (start, end, ongoing): end after start, and not both ended and ongoing (with both,
    leaving either out would flip a criterion: the contradiction must not reach the rules)."""
    if "start" in period and "end" in period and period["end"] < period["start"]:
        ctx.problem(f"{path}.end", f"a date on or after start {period['start'].isoformat()}", period["end"].isoformat())
    if period.get("ongoing") is True and "end" in period:
        ctx.problem(f"{path}.ongoing", "false or left out when end is given (end is the last day; leave it out while ongoing)", True)
    return period


NOT_STARTED = ("end", "ongoing", "best_response", "last_response", "evaluations", "stop_reason", "courses_given")


PURPOSES = ("staging", "baseline", "response", "progression", "confirmation", "other")

IMAGING_USE = Obj({
    "purpose": Enum(*PURPOSES, doc="what the study is for this regimen"),
    "regimen": Str(60, ident=True, doc="id of the systemic regimen (in systemic_therapy)"),
}, required=("purpose", "regimen"), doc="one use of a study: its purpose for one regimen")


def _check_imaging(study, path, ctx):
    """One way to say what a study was for: purpose/regimen (one use) or uses (several); both
    would leave open which one is meant."""
    if "uses" in study:
        for key in ("purpose", "regimen"):
            if key in study:
                ctx.problem(f"{path}.{key}", "no purpose or regimen beside uses (put every use in uses)", study[key])
        if not study["uses"] and not any(p.path.startswith(f"{path}.uses") for p in ctx.problems):
            ctx.problem(f"{path}.uses", "at least one use (leave uses out when the purpose is not recorded)", [], show=False)
    return study


def imaging_uses(study):
    """(purpose or None, regimen or None) of each use a study records: uses, or purpose/regimen."""
    if "uses" in study:
        return [(use["purpose"], use["regimen"]) for use in study["uses"]]
    if "purpose" in study or "regimen" in study:
        return [(study.get("purpose"), study.get("regimen"))]
    return []


def _check_regimen(regimen, path, ctx):
    """A regimen is given (start) or planned (planned_start), never both; a planned one has no
    course, response or end yet (saying so would contradict the plan)."""
    if ("start" in regimen) == ("planned_start" in regimen):
        ctx.problem(f"{path}.start", "exactly one of start (given) and planned_start (planned, not yet started)",
                    "both" if "start" in regimen else None, show="start" in regimen)
    if "planned_start" in regimen:
        for key in NOT_STARTED:
            if key in regimen:
                ctx.problem(f"{path}.{key}", f"no {key} for a regimen not yet started (planned_start given)", regimen[key])
    return _check_period(regimen, path, ctx)


def _check_assessment(assessment, path, ctx):
    """An estimate at or below the judged lower bound contradicts it: refused, not resolved by a rule."""
    months, more_than = assessment.get("life_expectancy_months"), assessment.get("life_expectancy_more_than_months")
    if months is not None and more_than is not None and months <= more_than:
        ctx.problem(f"{path}.life_expectancy_months", f"more than life_expectancy_more_than_months ({more_than}), "
                    "or only one of the two", months)
    return assessment


# Sections that hold lists of items: absent = not recorded, [] = known none.
SECTIONS_WITH_ITEMS = (
    "recurrences", "metastases", "locoregional_lesions", "imaging", "systemic_therapy", "radiotherapy", "surgery", "labs",
    "performance_status", "other_malignancies", "comorbidities", "toxicities", "attestations",
    "reproductive.pregnancy_tests", "other_trials", "assays",
)


def _list_section(value):
    if isinstance(value, str) and value in SECTIONS_WITH_ITEMS:
        return value, None
    return None, "a list section (" + ", ".join(SECTIONS_WITH_ITEMS) + ")"


def _check_record(record, path, ctx):
    """A complete lesion list must account for every metastatic site's organ."""
    if "metastases" in record and "metastases" not in record.get("incomplete_sections", ()):
        organs = {lesion.get("organ") for lesion in record["metastases"]}
        for i, site in enumerate(record.get("metastatic_sites", [])):
            if "organ" in site and site["organ"] not in organs:
                ctx.problem(f"metastatic_sites[{i}].organ", "an organ with a lesion in metastases "
                            "(a given lesion list is complete)", site["organ"])
    _check_references(record, ctx)
    _check_trial_refs(record, ctx)
    return record


def _check_references(record, ctx):
    """Ids that refer to another part of the record must name something there, exactly (ids are
    case-sensitive: m3 is not M3), or criteria reading them would silently see nothing. A reference
    into a list section is checked when that section is recorded and complete; not recorded, what
    it names is unknown, as the section is. Lesion ids are one name space (metastases and
    locoregional sites). An entry set aside as dated after --as-of still counts as existing (it is
    listed as set aside: a link to it then reads as nothing)."""
    # Entries already reported for a missing id are still checked here: compare only real ids.
    metastatic = [lesion["id"] for lesion in record.get("metastases", []) if "id" in lesion]
    for i, site in enumerate(record.get("locoregional_lesions", [])):
        if site.get("id") in metastatic:
            ctx.problem(f"locoregional_lesions[{i}].id", "an id not used by a metastasis", site["id"])
    incomplete = record.get("incomplete_sections", ())

    def existing(section, ids):
        return ids + sorted(i for s, i in ctx.aside_ids if s == section and i not in ids)
    if "metastases" in record and "metastases" not in incomplete:
        lesions = existing("metastases", metastatic) + existing(
            "locoregional_lesions", [site["id"] for site in record.get("locoregional_lesions", []) if "id" in site])
        for section in ("radiotherapy", "surgery"):
            for i, entry in enumerate(record.get(section, [])):
                for j, ref in enumerate(entry.get("lesions", [])):
                    if ref not in lesions:
                        ctx.problem(f"{section}[{i}].lesions[{j}]", "the id of a lesion in metastases or locoregional_lesions "
                                    f"({_ids(lesions)}; ids are case-sensitive)", ref)
    if "systemic_therapy" in record and "systemic_therapy" not in incomplete:
        regimens = existing("systemic_therapy", [reg["id"] for reg in record["systemic_therapy"] if "id" in reg])
        for i, study in enumerate(record.get("imaging", [])):
            refs = [(f"imaging[{i}].regimen", study["regimen"])] if "regimen" in study else []
            refs += [(f"imaging[{i}].uses[{j}].regimen", use["regimen"]) for j, use in enumerate(study.get("uses", []))
                     if "regimen" in use]
            for where, ref in refs:
                if ref not in regimens:
                    ctx.problem(where, f"the id of a regimen in systemic_therapy ({_ids(regimens)}; "
                                       "ids are case-sensitive)", ref)


def _ids(ids, shown=12):
    """The ids that exist, as a message lists them (the first `shown`, then how many more)."""
    if not ids:
        return "none recorded"
    more = f", and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(describe(i) for i in ids[:shown]) + more


AMENABLE_FOR_DOC = ("per trial id, whether that trial's local therapy is feasible for this lesion, e.g. {oligami: true, "
                    "cosmo: false}, where protocols ask different questions (OLIGAMI: radiation or surgery; TAORMINA: "
                    "SABR; COSMO: resection, radiotherapy or RFA; NCT04158843: radical resection or radiotherapy); "
                    "a trial not named reads amenable_to_local_therapy")

RECEPTOR = Obj({
    "status": Enum("positive", "negative", "low", "equivocal", "pending", "not_determinable", "unknown",
                   doc="test result (HER2-low counts as negative for HER2): `pending` = not yet tested or result awaited; "
                       "`not_determinable` = tested, no status could be assigned; `unknown` = not known which of the two"),
    "source": Enum("primary", "metastasis", doc="which tissue was tested"),
    "date": Date(doc="date of the test"),
    "percent": Num(0, 100, doc="share of stained nuclei (ER/PgR), %"),
}, required=("status",), doc="one receptor result")

SITE = Obj({
    "bone": Enum(*BONES, doc="which bone, for bone lesions"),
    "vertebrae": List(Choice(_vertebra), doc="vertebral levels involved (C1..S5); one lesion may span several"),
    "side": Enum("left", "right", "midline", doc="body side of the lesion"),
    "part": Enum("head", "neck", "trochanter", "shaft", "proximal", "distal", "other", doc="part of a long bone"),
    "description": Str(doc="free-text site, e.g. 'liver segment VII'"),
}, post=_check_site, doc="exact site of a lesion")

LESION = Obj({
    "id": Str(60, ident=True, doc="lesion id, unique in the record (e.g. M1)"),
    "organ": Choice(_organ, doc="organ from facts/reference/organs.yaml"),
    "site": SITE,
    "size_mm": Num(0, 1000, doc="largest diameter, mm"),
    "measurable": Bool(doc="measurable/evaluable by RECIST 1.1"),
    "detected": Date(doc="date first detected"),
    "detected_by": Enum(*MODALITIES, doc="imaging modality that detected or confirmed it"),
    "confirmed_by_pathology": Bool(doc="biopsy-proven metastasis"),
    "symptomatic": Bool(doc="causes symptoms"),
    "amenable_to_local_therapy": Bool(doc="ablative local therapy (SABR, surgery, RFA) can be delivered"),
    "amenable_for": Map(None, Bool(), doc=AMENABLE_FOR_DOC),
    "adjacent_to": List(Enum("stomach", "small_bowel", "large_bowel", "spinal_cord", "other"),
                        doc="organs at risk the lesion abuts; [] = abuts none"),
    "spinal_canal_compromise_pct": Num(0, 100, doc="spinal canal compromise, %"),
    "bilsky_grade": Enum("0", "1a", "1b", "1c", "2", "3", doc="epidural spinal cord compression grade"),
    "cortical_defect_pct": Num(0, 100, doc="share of the bone cortex destroyed (long bones), %"),
    "progressing": Bool(doc="progressing on the imaging that shows progression, compared with the start of the current "
                            "systemic therapy"),
    "baseline_size_mm": Num(0, 1000, doc="largest diameter at the start of the current systemic therapy, mm"),
    "suvmax": Num(0, 200, doc="SUVmax on the latest FDG-PET-CT"),
    "baseline_suvmax": Num(0, 200, doc="SUVmax at the start of the current systemic therapy"),
    "lytic_mm": Num(0, 1000, doc="size of the lytic component now (bone lesions), mm"),
    "baseline_lytic_mm": Num(0, 1000, doc="size of the lytic component at the start of the current systemic therapy, mm"),
    "present": Bool(doc="still visible on the latest imaging (false once it has disappeared, e.g. complete response)"),
}, required=("id", "organ"), post=_check_lesion, doc="one metastatic lesion")

METASTATIC_SITE = Obj({
    "organ": Choice(_organ, doc="organ from facts/reference/organs.yaml"),
    "site": SITE,
    "detected": Date(doc="date the site was first diagnosed"),
}, required=("organ",), doc="an organ with metastasis, lesions not counted (as FHIR/mCODE records it)")

LOCOREGIONAL = Obj({
    "id": Str(60, ident=True, doc="lesion id, unique in the record (across metastases too), e.g. LR1"),
    "region": Enum("breast", "chest_wall", "axillary_nodes", "supraclavicular_nodes", "internal_mammary_nodes",
                   doc="where: the primary tumour or a local recurrence (breast, chest wall), or regional lymph nodes"),
    "description": Str(doc="free text"),
    "size_mm": Num(0, 1000, doc="largest diameter now, mm"),
    "baseline_size_mm": Num(0, 1000, doc="largest diameter at the start of the current systemic therapy, mm"),
    "suvmax": Num(0, 200, doc="SUVmax on the latest FDG-PET-CT"),
    "baseline_suvmax": Num(0, 200, doc="SUVmax at the start of the current systemic therapy"),
    "progressing": Bool(doc="progressing on the imaging that shows progression, compared with the start of the current systemic therapy"),
    "amenable_to_local_therapy": Bool(doc="ablative local therapy (SABR, surgery, RFA) can be delivered"),
    "amenable_for": Map(None, Bool(), doc=AMENABLE_FOR_DOC),
}, required=("id", "region"), post=_check_amenable_for, doc="one locoregional tumour site (breast, chest wall or regional nodes)")

REGIMEN = Obj({
    "id": Str(60, ident=True, doc="regimen id, unique in the record"),
    "drugs": List(Choice(_drug), doc="drugs given together (aliases allowed; see facts/reference/drugs.yaml)"),
    "setting": Enum("neoadjuvant", "adjuvant", "metastatic", doc="treatment setting"),
    "start": Date(doc="first dose (a regimen not yet started has planned_start instead)"),
    "planned_start": Date(past=False, doc="a regimen planned, not yet started: its planned first dose (instead of start; "
                                          "end, ongoing, responses, evaluations and stop_reason do not apply yet)"),
    "protocol": Choice(_trial_ref, doc="id of the trial whose protocol therapy this regimen is (e.g. oligami)"),
    "courses_planned": Num(1, 1000, integer=True, doc="number of courses (cycles) the protocol or plan foresees"),
    "courses_given": Num(0, 1000, integer=True, doc="number of courses (cycles) given so far"),
    "end": Date(aside=FIELD, doc="last dose; leave out while ongoing"),
    "ongoing": Bool(doc="still being given on the evaluation date"),
    "best_response": Enum(*RESPONSES, doc="best overall response (RECIST): cr, pr, sd, pd, ne"),
    "last_response": Enum(*RESPONSES, doc="response at the most recent evaluation"),
    "evaluations": Num(0, 1000, integer=True, doc="number of tumour evaluations on this regimen"),
    "stop_reason": Enum("progression", "toxicity", "completed", "patient_choice", "other", doc="why it ended"),
}, required=("id", "drugs", "setting"), post=_check_regimen, doc="one systemic regimen, given or planned")

RADIOTHERAPY = Obj({
    "id": Str(60, ident=True, doc="course id"),
    "date": Date(doc="start date"),
    "target": Str(doc="treated area in words"),
    "lesions": List(Str(60, ident=True), doc="ids of metastatic lesions treated or inside its field; [] = none of them"),
    "intent": Enum("radical", "palliative", "adjuvant", doc="intent of the course"),
    "dose_gy": Num(0, 200, doc="total dose, Gy"),
}, required=("id",), doc="one radiotherapy course")

SURGERY = Obj({
    "id": Str(60, ident=True, doc="procedure id"),
    "procedure": Enum("radical_mastectomy", "modified_radical_mastectomy", "mastectomy", "breast_conserving",
                      "axillary_dissection", "sentinel_node_biopsy", "metastasectomy", "biopsy", "other",
                      doc="what was done"),
    "date": Date(doc="date of surgery"),
    "side": Enum("left", "right", doc="side, for breast and axillary surgery"),
    "target": Enum("primary", "regional_nodes", "metastasis", "other", doc="what was operated on"),
    "intent": Enum("radical", "palliative", "diagnostic", doc="intent"),
    "lesions": List(Str(60, ident=True), doc="ids of metastatic lesions operated on"),
}, required=("id", "procedure"), doc="one surgical procedure")

LAB = Obj({
    "test": Choice(_lab_test, doc="test name from facts/reference/labs.yaml"),
    "value": Num(0, doc="measured value"),
    "unit": Str(40, doc="UCUM unit of value, uln and lln (e.g. mg/dL, umol/L, U/L, 10*9/L)"),
    "uln": Num(0, exclusive_min=True, doc="institutional upper limit of normal, same unit"),
    "lln": Num(0, doc="institutional lower limit of normal, same unit"),
    "date": Date(doc="sample date"),
}, required=("test", "value", "unit", "date"), post=_convert_lab, doc="one lab result")

PERFORMANCE = Obj({
    "scale": Enum("ecog", "who", "karnofsky", doc="scale; ECOG and WHO grades are the same scale"),
    "value": Num(0, 100, integer=True, doc="grade (ECOG/WHO 0-5) or score (Karnofsky 0-100)"),
    "date": Date(doc="assessment date"),
}, required=("scale", "value", "date"), post=_check_ps, doc="one performance status assessment")

MALIGNANCY = Obj({
    "id": Str(60, ident=True, doc="id"),
    "site": Str(doc="organ or type in words, e.g. 'basal cell carcinoma of skin'"),
    "category": Enum("invasive", "in_situ", "skin_basal_cell", "skin_squamous_cell", "cervix_in_situ",
                     "cervix_stage_ia", "thyroid_papillary_early", doc="kind, as the trials' exceptions name them"),
    "diagnosis_date": Date(doc="date of diagnosis"),
    "status": Enum("active", "no_evidence_of_disease", doc="disease status on the evaluation date"),
    "requires_therapy": Bool(doc="currently requires anticancer therapy"),
    "radically_treated": Bool(doc="treated with curative intent"),
    "treatment_end": Date(aside=FIELD, doc="end of its last treatment"),
    "treatments": List(Enum("surgery", "chemotherapy", "radiotherapy", "endocrine", "targeted", "immunotherapy"),
                       doc="modalities used for it"),
}, required=("id", "category"), doc="one malignancy other than the breast cancer")

COMORBIDITY = Obj({
    "condition": Enum(*COMORBIDITIES, doc="condition from the vocabulary in docs/patient-record.md"),
    "status": Enum("active", "controlled", "uncontrolled", "resolved", doc="state on the evaluation date"),
    "date": Date(doc="date of diagnosis or event"),
    "detail": Str(doc="free text"),
    "nyha_class": Num(1, 4, integer=True, doc="NYHA functional class 1-4 (heart failure)"),
}, required=("condition",), doc="one comorbidity")

TOXICITY = Obj({
    "name": Str(100, doc="CTCAE term, e.g. peripheral_neuropathy, alopecia"),
    "grade": Num(0, 5, integer=True, doc="current CTCAE v5.0 grade"),
    "stable": Bool(doc="stable over recent assessments"),
    "date": Date(doc="date graded"),
}, required=("name", "grade"), doc="one residual toxicity of earlier treatment")

RECURRENCE = Obj({
    "id": Str(60, ident=True, doc="id"),
    "type": Enum("local", "regional", "distant", doc="local (breast/chest wall), regional (nodes), distant"),
    "date": Date(doc="date diagnosed"),
    "controlled": Bool(doc="controlled on the evaluation date"),
    "present": Bool(doc="still present on the evaluation date"),
}, required=("id", "type"), doc="one recurrence")

PREGNANCY_TEST = Obj({
    "date": Date(doc="sample date"),
    "result": Enum("negative", "positive", doc="result"),
}, required=("date", "result"), doc="one pregnancy test")

ASSAY = Obj({
    "test": Enum("hiv", "hbs_antigen", doc="what was tested: hiv (HIV-1/2 antibody or antigen/antibody test), "
                                          "hbs_antigen (hepatitis B surface antigen)"),
    "result": Enum("negative", "positive", "indeterminate", doc="qualitative result"),
    "date": Date(doc="sample date"),
    "laboratory": Enum("central", "local", doc="the trial's central laboratory or a local one"),
}, required=("test", "result", "date"), doc="one qualitative test result (serology), apart from history")

ATTESTATION = Obj({
    "criterion": Choice(_criterion_ref,
                        doc="which criterion, as TRIAL/ID"),
    "answer": Enum("yes", "no", doc="whether the criterion's condition is met, in the investigator's judgment"),
    "by": Str(doc="investigator"),
    "date": Date(doc="date of the judgment"),
    "note": Str(2000, doc="reasoning"),
}, required=("criterion", "answer", "by", "date"), post=_check_attestation,
   doc="an investigator's judgment for a clinician-judgment criterion (one whose rules read an attestation)")

OTHER_TRIAL = Obj({
    "id": Str(60, ident=True, doc="id, unique in the record"),
    "name": Str(doc="trial name or registry number"),
    "start": Date(doc="first day of participation"),
    "end": Date(aside=FIELD, doc="last day of participation (last study treatment or visit); leave out while ongoing"),
    "ongoing": Bool(doc="still participating on the evaluation date"),
}, required=("id",), post=_check_period, doc="participation in another clinical trial")

RECORD = Obj({
    "schema_version": Choice(lambda v: (v, None) if type(v) in (int, SourceInt) and v == SCHEMA_VERSION else (None, f"{SCHEMA_VERSION}"),
                             doc="record format version"),
    "patient": Obj({
        "id": Str(100, ident=True, doc="patient identifier"),
        "name": Str(200, doc="name (shown verbatim, never interpreted)"),
        "sex": Enum("female", "male", doc="sex"),
        "birth_date": Date(aside=None, doc="date of birth"),
    }, required=("id",), doc="who"),
    "dates": Obj({
        **TRIAL_DATE_FIELDS,
        "by_trial": Map(None, Obj(TRIAL_DATE_FIELDS, doc="one trial's own planned dates"),
                        doc="per trial id, that trial's own planned dates where they differ from the shared ones, e.g. "
                            "{oligami: {registration: 2026-12-10}}; the trial counts from its own date, every other "
                            "trial from dates.*; only the kinds of date the trial's criteria count from (docs/readings.md, "
                            "Reference dates: another is refused naming those)"),
    }, post=_check_trial_dates, doc="planned trial dates, the criteria's reference dates (docs/readings.md, Reference dates); "
           "without one, a criterion counted from it decides only what --as-of already settles"),
    "diagnosis": Obj({
        "confirmation": Enum("histology", "cytology", "none", doc="how the breast cancer was confirmed"),
        "invasive": Bool(doc="invasive breast cancer (not only in situ)"),
        "histology": Str(doc="histological type in words"),
        "presentation": Enum("de_novo", "recurrent", doc="de novo stage IV or recurrent metastatic disease"),
        "metastatic_diagnosis_date": Date(aside=FIELD, doc="date metastatic disease was diagnosed"),
    }, doc="the breast cancer diagnosis"),
    "receptors": Obj({"er": RECEPTOR, "pgr": RECEPTOR, "her2": RECEPTOR}, doc="receptor status"),
    "primary_tumour": Obj({
        "side": Enum("left", "right", doc="laterality"),
        "diagnosis_date": Date(aside=FIELD, doc="date of diagnosis"),
        "controlled": Bool(doc="primary tumour controlled (resected or responding)"),
        "present": Bool(doc="breast/chest wall tumour present on the evaluation date"),
    }, doc="the primary breast tumour"),
    "recurrences": List(RECURRENCE, key="id", doc="local, regional and distant recurrences; [] = none"),
    "metastases": List(LESION, key="id", doc="every known metastatic lesion; [] = none"),
    "locoregional_lesions": List(LOCOREGIONAL, key="id", doc="every known tumour site in the breast, chest wall or regional "
                                 "lymph nodes (primary, local or regional recurrence); [] = none"),
    "metastatic_sites": List(METASTATIC_SITE, doc="organs with metastasis when lesions are not listed one by one "
                             "(lesion counts stay unknown); when metastases is given, each organ must have a lesion there"),
    "imaging": List(Obj({
        "id": Str(60, ident=True, doc="study id"),
        "modality": Enum(*MODALITIES, doc="modality"),
        "date": Date(doc="date of the study"),
        "purpose": Enum(*PURPOSES, doc="why it was done (one purpose; a study serving several: uses)"),
        "findings": Str(2000, doc="report summary"),
        "regimen": Str(60, ident=True, doc="id of the systemic regimen this study is the baseline or an evaluation of"),
        "uses": List(IMAGING_USE, key=("purpose", "regimen"), doc="instead of purpose and regimen, for a study serving "
                     "several regimens, e.g. the progression scan of one line that is the baseline of the next: "
                     "[{purpose: progression, regimen: R1}, {purpose: baseline, regimen: R2}]"),
        "confirmed": Bool(doc="for purpose `confirmation`: the finding it was done to confirm (e.g. oligoprogression) was confirmed"),
        "region": Enum("brain", "head_neck", "chest", "abdomen", "pelvis", "spine", "neck_to_pelvis", "whole_body", "other",
                       doc="body region covered"),
        "contrast": Bool(doc="contrast-enhanced"),
        "response": Enum(*RESPONSES, doc="overall response at this evaluation (RECIST): cr, pr, sd, pd, ne"),
    }, required=("id", "modality", "date"), post=_check_imaging), key="id", doc="imaging studies"),
    "systemic_therapy": List(REGIMEN, key="id", doc="every systemic regimen; [] = never treated"),
    "radiotherapy": List(RADIOTHERAPY, key="id", doc="radiotherapy courses; [] = none"),
    "surgery": List(SURGERY, key="id", doc="surgical procedures; [] = none"),
    "labs": List(LAB, key=("test", "date"), doc="laboratory results; one result per test and date"),
    "assays": List(ASSAY, doc="qualitative test results (HIV, HBs antigen): test, result, date, laboratory ([] = none done); "
                              "a result, not a history (findings.hiv_infection is the history)"),
    "performance_status": List(PERFORMANCE, doc="ECOG/WHO/Karnofsky assessments"),
    "reproductive": Obj({
        "childbearing_potential": Bool(doc="woman of childbearing potential"),
        "pregnant": Bool(doc="currently pregnant"),
        "breastfeeding": Bool(doc="currently breastfeeding"),
        "contraception": Bool(doc="willing to use effective contraception"),
        "last_delivery": Date(aside=FIELD, doc="date of the most recent delivery"),
        "pregnancy_tests": List(PREGNANCY_TEST, doc="pregnancy tests; [] = none done"),
    }, doc="reproductive status"),
    "other_malignancies": List(MALIGNANCY, key="id", doc="other malignancies; [] = none"),
    "comorbidities": List(COMORBIDITY, doc="comorbidities; [] = none"),
    "toxicities": List(TOXICITY, doc="residual toxicities of earlier treatment; [] = none"),
    "findings": Map(FINDINGS, Bool(), doc="clinical findings, each true/false; a finding left out is not recorded"),
    "assessment": Obj({
        "life_expectancy_months": Num(0, 600, doc="investigator's estimate, months"),
        "life_expectancy_more_than_months": Num(0, 600, doc="investigator's judgement that life expectancy is more than this "
                                                            "many months, as clinicians write it (6 for 'more than 6 months')"),
        "child_pugh_class": Enum("a", "b", "c", doc="Child-Pugh class of liver function (A, B or C; case-insensitive)"),
    }, post=_check_assessment, doc="investigator assessments"),
    "consent": Obj({
        "signed": Bool(doc="written informed consent signed"),
        "date": Date(doc="date signed"),
    }, doc="informed consent"),
    "attestations": List(ATTESTATION, key="criterion", doc="investigator judgments for clinician-judgment criteria"),
    "other_trials": List(OTHER_TRIAL, key="id", doc="participation in other clinical trials; [] = none"),
    "other_trials_since": Date(doc="other_trials lists every participation from this date on, earlier ones possibly not "
                                   "(e.g. 'no trial in the last 30 days'); leave out when the list covers the whole history"),
    "incomplete_sections": List(Choice(_list_section, doc="a list section name"),
                                doc="list sections whose items are true but possibly not all (e.g. imported from FHIR): "
                                    "their absence of an item is not evidence; remove a section once checked complete"),
    "sources": Map(None, Str(500), doc="where each field came from, e.g. receptors.er.status: "
                                       "'Observation/abc valueCodeableConcept' (filled by import-fhir)"),
}, required=("schema_version", "patient"), post=_check_record, doc="a patient record")
