"""The base predicates: the only facts rules may read, with their record source and meaning.

One table serves facts.py (what it may emit), the engine (declares each so negation on an empty
predicate works), lint (a body predicate must be base or defined) and the missing-input report
(`where` is the record path a rule author and a clinician both recognise; `{N}` is argument N).
Every patient predicate's first argument is the patient P.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class BasePredicate:
    name: str
    args: tuple        # argument names after P (patient predicates) or all of them (reference)
    where: str         # record path (or reference file) that feeds it
    doc: str
    patient: bool = True

    @property
    def arity(self):
        return len(self.args) + (1 if self.patient else 0)


def _p(name, args, where, doc):
    return BasePredicate(name, tuple(args.split()), where, doc)


def _ref(name, args, where, doc):
    return BasePredicate(name, tuple(args.split()), where, doc, patient=False)


BASE = {p.name: p for p in (
    _p("as_of", "Day", "--as-of", "evaluation date (day number)"),
    _p("recorded", "Section", "{1}", "the list section Section is present in the record (possibly empty: known none)"),
    _p("sex", "Sex", "patient.sex", "female or male"),
    _p("age_at", "Day Years", "patient.birth_date",
       "age in whole years on Day, for every reference day: each trial date recorded (dates.*, dates.by_trial) and --as-of"),
    _p("planned", "Kind Day", "dates.{1}", "planned trial date: registration, secondary_registration, treatment_start, randomization"),
    _p("trial_planned", "Trial Kind Day", "dates.by_trial.{1}.{2}",
       "a trial's own planned date of that kind, instead of the shared dates.Kind for that trial"),
    _p("earliest_trial_day", "Kind Day", "dates.{1}",
       "the trial date Kind, or while dates.Kind is not recorded --as-of: the earliest it can be (checked before it)"),
    _p("confirmation", "How", "diagnosis.confirmation", "histology, cytology or none"),
    _p("invasive", "Bool", "diagnosis.invasive", "invasive breast cancer"),
    _p("presentation", "Kind", "diagnosis.presentation", "de_novo or recurrent"),
    _p("metastatic_dx_day", "Day", "diagnosis.metastatic_diagnosis_date", "date metastatic disease was diagnosed"),
    _p("receptor", "Receptor Status", "receptors.{1}.status",
       "er/pgr/her2 status (positive, negative, low, equivocal, pending, not_determinable, unknown)"),
    _p("receptor_source", "Receptor Source", "receptors.{1}.source", "primary or metastasis"),
    _p("receptor_percent", "Receptor Percent", "receptors.{1}.percent", "share of stained nuclei, %"),
    _p("primary_side", "Side", "primary_tumour.side", "laterality of the primary"),
    _p("primary_dx_day", "Day", "primary_tumour.diagnosis_date", "date the primary was diagnosed"),
    _p("primary_controlled", "Bool", "primary_tumour.controlled", "primary tumour controlled"),
    _p("primary_present", "Bool", "primary_tumour.present", "primary tumour present"),
    _p("recurrence", "Id Type", "recurrences", "a recurrence: local, regional or distant"),
    _p("recurrence_day", "Id Day", "recurrences[].date", "date of a recurrence"),
    _p("recurrence_controlled", "Id Bool", "recurrences[].controlled", "recurrence controlled"),
    _p("recurrence_present", "Id Bool", "recurrences[].present", "recurrence still present"),
    _p("lesion", "Lesion Organ", "metastases", "a metastatic lesion and its organ"),
    _p("metastatic_site", "Organ", "metastatic_sites", "an organ with metastasis (per site, as mCODE records it; lesion count unknown)"),
    _p("lesion_size_mm", "Lesion Mm", "metastases[].size_mm", "largest diameter, mm"),
    _p("lesion_measurable", "Lesion Bool", "metastases[].measurable", "RECIST-measurable"),
    _p("lesion_detected_day", "Lesion Day", "metastases[].detected", "date first detected"),
    _p("lesion_detected_by", "Lesion Modality", "metastases[].detected_by", "imaging modality that detected it"),
    _p("lesion_pathology", "Lesion Bool", "metastases[].confirmed_by_pathology", "biopsy-proven"),
    _p("lesion_symptomatic", "Lesion Bool", "metastases[].symptomatic", "causes symptoms"),
    _p("lesion_amenable", "Lesion Bool", "metastases[].amenable_to_local_therapy", "ablative local therapy can be delivered"),
    _p("lesion_amenable_for", "Lesion Trial Bool", "metastases[].amenable_for, locoregional_lesions[].amenable_for",
       "the trial's own local therapy is feasible for the lesion (overrides amenable_to_local_therapy for that trial)"),
    _p("lesion_bone", "Lesion Bone", "metastases[].site.bone", "which bone"),
    _p("lesion_side", "Lesion Side", "metastases[].site.side", "body side"),
    _p("lesion_part", "Lesion Part", "metastases[].site.part", "part of a long bone"),
    _p("lesion_vertebra", "Lesion Level", "metastases[].site.vertebrae", "a vertebral level the lesion involves"),
    _p("lesion_adjacency_recorded", "Lesion", "metastases[].adjacent_to", "the organs at risk next to the lesion were recorded"),
    _p("lesion_adjacent", "Lesion Organ", "metastases[].adjacent_to", "the lesion abuts Organ"),
    _p("lesion_canal_pct", "Lesion Pct", "metastases[].spinal_canal_compromise_pct", "spinal canal compromise, %"),
    _p("lesion_bilsky", "Lesion Grade", "metastases[].bilsky_grade", "Bilsky grade (0, 1a, 1b, 1c, 2, 3)"),
    _p("lesion_cortical_pct", "Lesion Pct", "metastases[].cortical_defect_pct", "cortical defect, %"),
    _p("locoregional_lesion", "Lesion Region", "locoregional_lesions", "a tumour site in the breast, chest wall or regional nodes"),
    _p("locoregional_amenable", "Lesion Bool", "locoregional_lesions[].amenable_to_local_therapy",
       "ablative local therapy can be delivered"),
    _p("lesion_progressing", "Lesion Bool", "metastases[].progressing, locoregional_lesions[].progressing",
       "progressing since the start of the current systemic therapy (either kind of lesion)"),
    _p("lesion_change", "Lesion Measure MilliThen MilliNow", "metastases[].baseline_<measure> and <measure>",
       "a measure (size: size_mm, suvmax, lytic: lytic_mm) at the start of the current systemic therapy and now, x 1000"),
    _p("lesion_present", "Lesion Bool", "metastases[].present", "still visible on the latest imaging"),
    _p("imaging", "Id Modality Day", "imaging", "an imaging study"),
    _p("imaging_purpose", "Id Purpose", "imaging[].purpose, imaging[].uses", "why the study was done (one fact per use)"),
    _p("imaging_regimen", "Id Regimen", "imaging[].regimen, imaging[].uses",
       "a systemic regimen the study is the baseline or an evaluation of (one fact per use)"),
    _p("imaging_use", "Id Purpose Regimen", "imaging[].uses, imaging[].purpose",
       "the study's purpose for one regimen (a use recording both)"),
    _p("imaging_confirmed", "Id Bool", "imaging[].confirmed", "a confirmation study confirmed its finding"),
    _p("regimen_imaging_months", "Regimen Id Months", "imaging[].date",
       "whole months from a regimen's start to an imaging study on or after it"),
    _p("imaging_region", "Id Region", "imaging[].region", "body region covered"),
    _p("imaging_contrast", "Id Bool", "imaging[].contrast", "contrast-enhanced"),
    _p("imaging_response", "Id Response", "imaging[].response", "overall response at this evaluation: cr, pr, sd, pd, ne"),
    _p("regimen", "Id Setting Start", "systemic_therapy", "a systemic regimen: setting and start day"),
    _p("regimen_planned", "Id Setting Start", "systemic_therapy[].planned_start",
       "a regimen planned, not yet started: setting and planned first day"),
    _p("regimen_protocol", "Id Trial", "systemic_therapy[].protocol", "the trial whose protocol therapy the regimen is"),
    _p("regimen_courses_planned", "Id Count", "systemic_therapy[].courses_planned", "number of courses foreseen"),
    _p("regimen_courses_given", "Id Count", "systemic_therapy[].courses_given", "number of courses given so far"),
    _p("regimen_drug", "Id Drug", "systemic_therapy[].drugs", "a drug of the regimen (canonical name)"),
    _p("regimen_end", "Id Day", "systemic_therapy[].end", "last dose"),
    _p("regimen_ongoing", "Id Bool", "systemic_therapy[].ongoing", "still given"),
    _p("regimen_response", "Id Which Response", "systemic_therapy[].{2}_response", "best or last response: cr, pr, sd, pd, ne"),
    _p("regimen_evaluations", "Id Count", "systemic_therapy[].evaluations", "number of tumour evaluations"),
    _p("regimen_stop", "Id Reason", "systemic_therapy[].stop_reason", "why it ended"),
    _p("regimen_end_months_to_metastasis", "Id Months", "systemic_therapy[].end",
       "whole months from the regimen's end to diagnosis.metastatic_diagnosis_date (negative if it ended later)"),
    _p("radiotherapy", "Id", "radiotherapy", "a radiotherapy course"),
    _p("radiotherapy_day", "Id Day", "radiotherapy[].date", "start of the course"),
    _p("radiotherapy_lesion", "Id Lesion", "radiotherapy[].lesions", "a lesion it treated"),
    _p("radiotherapy_lesions_recorded", "Id", "radiotherapy[].lesions", "the lesions it treated were recorded ([] = none)"),
    _p("radiotherapy_intent", "Id Intent", "radiotherapy[].intent", "radical, palliative or adjuvant"),
    _p("surgery", "Id Procedure", "surgery", "a surgical procedure"),
    _p("surgery_day", "Id Day", "surgery[].date", "date of surgery"),
    _p("surgery_target", "Id Target", "surgery[].target", "primary, regional_nodes, metastasis, other"),
    _p("surgery_intent", "Id Intent", "surgery[].intent", "radical, palliative or diagnostic"),
    _p("surgery_side", "Id Side", "surgery[].side", "side"),
    _p("surgery_lesion", "Id Lesion", "surgery[].lesions", "a lesion it removed"),
    _p("surgery_months_to_metastasis", "Id Months", "surgery[].date",
       "whole months from the surgery to diagnosis.metastatic_diagnosis_date (negative if it was later)"),
    _p("lab", "Id Test Milli Day", "labs", "a lab result: value x 1000 in the test's canonical unit, sample day"),
    _p("lab_uln", "Id Milli", "labs[].uln", "upper limit of normal x 1000, canonical unit"),
    _p("lab_lln", "Id Milli", "labs[].lln", "lower limit of normal x 1000, canonical unit"),
    _p("lab_uln_pair", "Id Micro MicroUln", "labs[].uln", "value and ULN x 10^6 in the record's own unit: ratios exact"),
    _p("assay", "Id Test Result Day", "assays", "a qualitative test result (hiv, hbs_antigen): negative, positive, indeterminate"),
    _p("assay_laboratory", "Id Lab", "assays[].laboratory", "central or local laboratory"),
    _p("performance", "Id Scale Value Day", "performance_status", "a performance status assessment"),
    _p("childbearing_potential", "Bool", "reproductive.childbearing_potential", "woman of childbearing potential"),
    _p("pregnant", "Bool", "reproductive.pregnant", "pregnant"),
    _p("breastfeeding", "Bool", "reproductive.breastfeeding", "breastfeeding"),
    _p("contraception", "Bool", "reproductive.contraception", "willing to use effective contraception"),
    _p("last_delivery_day", "Day", "reproductive.last_delivery", "most recent delivery"),
    _p("pregnancy_test", "Id Result Day", "reproductive.pregnancy_tests", "a pregnancy test"),
    _p("other_malignancy", "Id Category", "other_malignancies", "another malignancy and its category"),
    _p("malignancy_dx_day", "Id Day", "other_malignancies[].diagnosis_date", "its diagnosis date"),
    _p("malignancy_years_at", "Id Day Years", "other_malignancies[].diagnosis_date",
       "whole years from its diagnosis to the reference day Day (negative if later)"),
    _p("malignancy_status", "Id Status", "other_malignancies[].status", "active or no_evidence_of_disease"),
    _p("malignancy_requires_therapy", "Id Bool", "other_malignancies[].requires_therapy", "requires therapy now"),
    _p("malignancy_radically_treated", "Id Bool", "other_malignancies[].radically_treated", "treated with curative intent"),
    _p("malignancy_treatment_end_day", "Id Day", "other_malignancies[].treatment_end", "end of its treatment"),
    _p("malignancy_treatment", "Id Modality", "other_malignancies[].treatments", "a modality used for it"),
    _p("malignancy_treatments_recorded", "Id", "other_malignancies[].treatments", "treatment modalities recorded ([] = untreated)"),
    _p("malignancy_treatment_years_at", "Id Day Years", "other_malignancies[].treatment_end",
       "whole years from the end of its treatment to the reference day Day (negative if later)"),
    _p("comorbidity", "Id Condition", "comorbidities", "a comorbidity"),
    _p("comorbidity_status", "Id Status", "comorbidities[].status", "active, controlled, uncontrolled, resolved"),
    _p("comorbidity_months_at", "Id Day Months", "comorbidities[].date",
       "whole months from its date to the reference day Day (negative if later)"),
    _p("comorbidity_nyha", "Id Class", "comorbidities[].nyha_class", "NYHA class 1-4"),
    _p("toxicity", "Id Name Grade", "toxicities", "a residual toxicity and its CTCAE grade"),
    _p("toxicity_stable", "Id Bool", "toxicities[].stable", "stable"),
    _p("finding", "Key Bool", "findings.{1}", "a clinical finding, true or false"),
    _p("life_expectancy_months", "Months", "assessment.life_expectancy_months", "investigator's estimate"),
    _p("life_expectancy_over", "Months", "assessment.life_expectancy_more_than_months",
       "investigator's judgement: life expectancy more than Months"),
    _p("child_pugh", "Class", "assessment.child_pugh_class", "Child-Pugh class a, b or c"),
    _p("consent_signed", "Bool", "consent.signed", "informed consent signed"),
    _p("consent_day", "Day", "consent.date", "date consent was signed"),
    _p("other_trial", "Id", "other_trials", "participation in another clinical trial"),
    _p("other_trial_start", "Id Day", "other_trials[].start", "first day of participation"),
    _p("other_trial_end", "Id Day", "other_trials[].end", "last day of participation"),
    _p("other_trial_ongoing", "Id Bool", "other_trials[].ongoing", "still participating"),
    _p("other_trials_since", "Day", "other_trials_since", "other_trials lists every participation from this day on"),
    _p("attested", "Trial Criterion Answer", "attestations ({1}/{2})", "investigator's judgment yes/no for a criterion"),
    _ref("organ_class", "Organ Class", "facts/reference/organs.yaml", "organ taxonomy: visceral, abdominal, cns"),
    _ref("vertebra_next", "Upper Lower", "facts/reference/vertebrae.yaml", "Lower is right below Upper (C7/T1, T12/L1, L5/S1 included)"),
    _ref("drug_class", "Drug Class", "facts/reference/drugs.yaml", "chemotherapy, endocrine, targeted, immunotherapy, bone_modifying"),
)}


def where(name, constants=None):
    """The record path feeding `name`, with known argument constants filled in ({N} = argument N)."""
    text = BASE[name].where
    for position, value in (constants or {}).items():
        text = text.replace("{%d}" % position, str(value))
    if "{" in text:
        text = text.replace("[].{2}_response", "[].best_response/last_response")
        text = text.replace(" ({1}/{2})", "").replace("{1}/{2}", "").replace(".{1}", "")
    return text
