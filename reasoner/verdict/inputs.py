"""Which base inputs can change by collecting or repeating them, and which cannot.

A coordinator can order a new test, repeat an assessment or ask the investigator; she cannot change
a patient's history or anatomy. Every base predicate is in exactly one of the two sets (a test
holds that), so a new predicate must be placed before it can be used.
"""

from ..record.predicates import BASE

# Observations, assessments, judgements and plans: a new one can be made, an old one repeated.
TIME_BOUND = frozenset({
    "as_of", "planned", "trial_planned",
    "imaging", "imaging_purpose", "imaging_regimen", "imaging_use", "imaging_confirmed", "regimen_imaging_months",
    "imaging_region", "imaging_contrast", "imaging_response",
    "lab", "lab_uln", "lab_lln", "lab_uln_pair", "assay", "assay_laboratory",
    "performance", "pregnancy_test", "pregnant", "breastfeeding", "contraception",
    "toxicity", "toxicity_stable", "finding", "life_expectancy_months", "child_pugh",
    "consent_signed", "consent_day", "attested",
})

# History and anatomy: what happened and where the disease is.
FIXED = frozenset(BASE) - TIME_BOUND


def time_bound(preds):
    """True when every one of the base predicates can change by a new observation or judgement."""
    preds = [p for p in preds if p not in ("as_of", "recorded")]
    return bool(preds) and all(p in TIME_BOUND for p in preds)
