"""FHIR Conditions (primary breast cancer, secondary cancers, comorbidities) and AJCC staging.

mCODE records metastasis per site (one secondary cancer Condition per organ), never per lesion:
a site becomes metastatic_sites[] (organ, optional site detail, date), lesion counts stay unknown.
"""

import re

from ..record.format import COMORBIDITY, METASTATIC_SITE
from ..record.reference import reference
from .codes import codings, describe, lookup
from .read import effective, extensions, first, fit, problems, profiles, source, status_code

UNCONFIRMED = ("unconfirmed", "provisional", "differential")
RESOLVED = {"inactive": "resolved", "remission": "resolved", "resolved": "resolved",
            "active": "active", "recurrence": "active", "relapse": "active"}


def condition(res, state):
    verification = status_code(res.get("verificationStatus"))
    if verification in ("refuted", "entered-in-error"):
        return state.warn(res, f"verificationStatus {verification}: skipped")
    if verification in UNCONFIRMED:
        return state.warn(res, f"verificationStatus {verification} (not confirmed): skipped")
    code, kinds = res.get("code"), " ".join(profiles(res))
    if "secondary-cancer-condition" in kinds or lookup("metastasis", code):
        return _secondary(res, state)
    if lookup("breast_cancer", code):
        return _primary(res, state)
    if "primary-cancer-condition" in kinds:
        return state.warn(res, f"primary cancer is not breast cancer ({describe(code)}); other malignancies "
                               "are not imported (add it under other_malignancies by hand)")
    if lookup("comorbidity", code):
        return _comorbidity(res, state)
    state.warn(res, f"condition code not mapped ({describe(code)}): skipped")


def _onset(res, state):
    date, element, why = effective(res, "onset")
    if date is None and element is not None:
        state.warn(res, f"{element}: {why}; left out")
    return date, element


def laterality(site):
    for _i, ext in extensions(site, "laterality"):
        hit = lookup("laterality", ext.get("valueCodeableConcept"))
        if hit:
            return hit.entry["side"]
    hit = lookup("body_site", site)
    return hit.entry.get("side") if hit else None


def _site_organ(res):
    """Organ from Condition.bodySite: (organ, element, body site) of the first known one."""
    sites = res.get("bodySite")
    for i, site in enumerate(sites if isinstance(sites, list) else [sites] if isinstance(sites, dict) else []):
        hit = lookup("body_site", site)
        if hit:
            return hit.entry["organ"], f"bodySite[{i}].coding[{hit.index}]", site
    return None, None, None


def _secondary(res, state):
    code = res.get("code")
    hit = lookup("metastasis", code)
    organ, element, body_site = (hit.entry["organ"], f"code.coding[{hit.index}]", None) if hit else (None, None, None)
    if organ in (None, "unspecified"):
        found, where, body_site = _site_organ(res)
        if found:
            organ, element = found, where
    if organ == "regional":
        return state.warn(res, f"regional lymph node involvement ({describe(code)}) is not a distant metastatic "
                               "site: not imported as one")
    if organ in (None, "unspecified"):
        return state.warn(res, f"metastatic organ not stated or not mapped (code {describe(code)}, bodySite "
                               f"{describe(first(res.get('bodySite')))}): skipped")
    if organ == "breast":
        return state.warn(res, "metastasis in the breast: ipsilateral (local recurrence) or contralateral not "
                               "stated: skipped")
    item, sources = {"organ": organ}, {".organ": source(res, element)}
    if organ not in reference().organs:
        return state.warn(res, f"organ {organ} is not in facts/reference/organs.yaml: skipped")
    site_detail = _site_detail(body_site or first(res.get("bodySite")), res, state)
    if site_detail:
        item["site"] = site_detail
        sources.update({f".site.{k}": source(res, "bodySite") for k in site_detail})
    onset, onset_element = _onset(res, state)
    if onset:
        item["detected"] = onset
        sources[".detected"] = source(res, onset_element)
    wrong = problems(METASTATIC_SITE, item, "metastatic_sites[]", state.as_of)
    if wrong:
        return state.warn(res, "; ".join(wrong) + ": skipped")
    state.collect("metastatic_sites", {"item": item, "sources": sources, "resource": res})


def _site_detail(site, res, state):
    if not isinstance(site, dict):
        return {}
    detail, side = {}, laterality(site)
    if side in ("left", "right"):
        detail["side"] = side
    displays = [display for _i, _s, _c, display in codings(site) if display]
    text = site.get("text") or (displays[0] if displays else None)
    if isinstance(text, str) and text.strip():
        detail["description"] = fit(text.strip(), 500, res, "bodySite text", state)
    return detail


def _primary(res, state):
    if state.pieces.get("primary"):
        return state.warn(res, f"a second breast cancer Condition ({state.pieces['primary'][0]['resource'].label} "
                               "is used): skipped")
    fields = {}
    onset, element = _onset(res, state)
    if onset:
        fields["primary_tumour.diagnosis_date"] = (onset, source(res, element))
    sites = res.get("bodySite")
    for i, site in enumerate(sites if isinstance(sites, list) else []):
        side = laterality(site)
        if side:
            fields["primary_tumour.side"] = (side, source(res, f"bodySite[{i}]"))
            break
    morphology = extensions(res, "histology-morphology-behavior")
    hit, where = None, None
    for i, ext in morphology:
        hit = lookup("histology", ext.get("valueCodeableConcept"))
        where = f"extension[{i}].valueCodeableConcept"
        if not hit:
            state.warn(res, f"histology morphology not mapped ({describe(ext.get('valueCodeableConcept'))}); left out")
    if not hit:
        hit, where = lookup("histology", res.get("code")), "code"
    if hit:
        fields["diagnosis.histology"] = (hit.entry["histology"], source(res, where))
        fields["diagnosis.invasive"] = (hit.entry["invasive"], source(res, where))
    stages = res.get("stage")
    for i, stage in enumerate(stages if isinstance(stages, list) else []):
        if isinstance(stage, dict):
            staging(res, state, stage.get("summary"), f"stage[{i}].summary", ajcc_stage)
    state.collect("primary", {"fields": fields, "onset": onset, "resource": res})


def _comorbidity(res, state):
    hit = lookup("comorbidity", res.get("code"))
    item, sources = {"condition": hit.entry["condition"]}, {".condition": source(res, f"code.coding[{hit.index}]")}
    clinical = status_code(res.get("clinicalStatus"))
    if clinical in RESOLVED:
        item["status"] = RESOLVED[clinical]
        sources[".status"] = source(res, "clinicalStatus")
    onset, element = _onset(res, state)
    if onset:
        item["date"] = onset
        sources[".date"] = source(res, element)
    wrong = problems(COMORBIDITY, item, "comorbidities[]", state.as_of)
    if wrong:
        return state.warn(res, "; ".join(wrong) + ": skipped")
    state.collect("comorbidities", {"item": item, "sources": sources, "resource": res})


def _strip_prefix(code):
    return re.sub(r"^(YP|YC|P|C)(?=[0-9IVM])", "", code.strip().upper())


def ajcc_stage(code):
    """AJCC stage group -> 'IV' or 'I-III' (0 to III), or None when it cannot be read."""
    value = _strip_prefix(code)
    if value.startswith(("IV", "4")):
        return "IV"
    if re.match(r"^(0|1|2|3|I{1,3})([A-C]|IS|\b|$)", value):
        return "I-III"
    return None


def ajcc_m(code):
    """AJCC distant metastasis category -> 'IV' (M1...) or 'I-III' (M0...), or None."""
    value = _strip_prefix(code)
    if value.startswith("M1"):
        return "IV"
    if value.startswith("M0"):
        return "I-III"
    return None


def staging(res, state, concept, element, reader):
    """Record what a stage group or M category says about metastasis at diagnosis."""
    concept = first(concept)
    for index, system, code, _display in codings(concept):
        if system == "ajcc":
            kind = reader(code)
            if kind:
                return state.collect("stage", {"kind": kind, "source": source(res, f"{element}.coding[{index}]"),
                                               "code": code})
            return state.warn(res, f"{element}: AJCC code {code} not read; left out")
    state.warn(res, f"{element}: no AJCC (cancerstaging.org) code ({describe(concept)}); left out")


def staging_observation(res, state, hit, table):
    reader = ajcc_stage if table == "stage_group" else ajcc_m
    staging(res, state, res.get("valueCodeableConcept"), "valueCodeableConcept", reader)

