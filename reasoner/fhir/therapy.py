"""Cancer-related medications -> dated regimens; surgical and radiotherapy Procedures.

Regimens: drugs whose first dose falls on the same day form one regimen; a regimen with exactly
the drugs of the one before it is the next cycle of that regimen and merges into it (Synthea and
many EHRs write one MedicationStatement per dose). Dates are kept, so lines of therapy and
de-escalation (a regimen that only drops drugs) are judged by the rules, not here.
FHIR does not state the treatment setting: it is `metastatic` only when the bundle shows metastatic
disease at the regimen's start (see setting_rule); otherwise the regimen is left out with a warning.
"""

from dataclasses import dataclass, field

from ..record.format import RADIOTHERAPY, REGIMEN, SURGERY
from .codes import codings, describe, lookup
from .conditions import laterality
from .read import effective, extensions, first, fit, parse_date, period_end, problems, reference, source

SKIP_MEDICATION = ("entered-in-error", "not-taken", "intended", "not-done", "cancelled", "draft")
ONGOING = ("active", "in-progress", "on-hold")
STOPPED = ("completed", "stopped")
SKIP_PROCEDURE = ("preparation", "not-done", "entered-in-error")


@dataclass
class Use:
    drug: str
    start: object
    end: object
    status: str
    drug_source: str
    start_source: str
    end_source: str
    status_source: str
    resource: object


@dataclass
class Regimen:
    uses: list = field(default_factory=list)

    @property
    def start(self):
        return min(u.start for u in self.uses)

    @property
    def drugs(self):
        return sorted({u.drug for u in self.uses})


def medication(res, state, medications):
    status = res.get("status")
    if status in SKIP_MEDICATION:
        return state.warn(res, f"status {status}: not given, skipped")
    concept, element = res.get("medicationCodeableConcept"), "medicationCodeableConcept"
    if concept is None:
        ref = reference(res.get("medicationReference"))
        target = medications.get(ref)
        if target is None:
            return state.warn(res, f"medicationReference {ref} is not in the bundle: skipped")
        concept, element = target.get("code"), f"medicationReference -> {target.label} code"
    hit = lookup("drug", first(concept))
    if not hit:
        return state.warn(res, f"medication not in facts/reference/drugs.yaml ({describe(first(concept))}): skipped")
    start, start_element, end, end_element, why = _dates(res)
    if start is None:
        return state.warn(res, f"{hit.entry}: {why}: skipped")
    state.collect("medications", Use(
        drug=hit.entry, start=start, end=end, status=status if isinstance(status, str) else "unknown",
        drug_source=source(res, element), start_source=source(res, start_element),
        end_source=source(res, end_element) if end_element else None, status_source=source(res, "status"),
        resource=res))


def _dates(res):
    if res.type == "MedicationRequest":
        instructions = res.get("dosageInstruction")
        bounds = None
        for dosage in instructions if isinstance(instructions, list) else []:
            repeat = ((dosage or {}).get("timing") or {}).get("repeat") if isinstance(dosage, dict) else None
            bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
            if isinstance(bounds, dict) and "start" in bounds:
                start, why = parse_date(bounds["start"])
                end, _ = parse_date(bounds.get("end"))
                return start, "dosageInstruction.timing.repeat.boundsPeriod.start", end, \
                    ("dosageInstruction.timing.repeat.boundsPeriod.end" if end else None), why
        start, why = parse_date(res.get("authoredOn"))
        return start, "authoredOn", None, None, why if "authoredOn" in res.data else "no start date"
    start, element, why = effective(res)
    end, end_element = period_end(res)
    return start, element, end, end_element, why


def group(uses):
    """Uses -> regimens: same first-dose day together; an identical next regimen is the next cycle."""
    by_day = {}
    for use in sorted(uses, key=lambda u: (u.start, u.drug, u.resource.label)):
        by_day.setdefault(use.start, Regimen()).uses.append(use)
    regimens = []
    for day in sorted(by_day):
        regimen = by_day[day]
        if regimens and regimens[-1].drugs == regimen.drugs:
            regimens[-1].uses.extend(regimen.uses)
        else:
            regimens.append(regimen)
    return regimens


def regimen_entries(state, setting_rule):
    """Record regimens (systemic_therapy[]) from the collected medication uses."""
    for regimen in group(state.pieces.get("medications", [])):
        setting, basis, why = setting_rule(regimen.start)
        labels = ", ".join(sorted({u.resource.label for u in regimen.uses}))
        if setting is None:
            state.warn(labels, f"regimen {'+'.join(regimen.drugs)} from {regimen.start.isoformat()}: {why}: skipped")
            continue
        first_use = min(regimen.uses, key=lambda u: u.start)
        item = {"id": None, "drugs": regimen.drugs, "setting": setting, "start": regimen.start}
        sources = {".id": f"{labels} (numbered in date order)", ".setting": basis, ".start": first_use.start_source}
        for j, drug in enumerate(regimen.drugs):
            sources[f".drugs[{j}]"] = "; ".join(sorted({u.drug_source for u in regimen.uses if u.drug == drug}))
        statuses = {u.status for u in regimen.uses}
        if statuses & set(ONGOING):
            item["ongoing"] = True
            sources[".ongoing"] = next(u.status_source for u in regimen.uses if u.status in ONGOING)
        elif statuses <= set(STOPPED):
            last = max(regimen.uses, key=lambda u: u.end or u.start)
            item["end"], item["ongoing"] = last.end or last.start, False
            sources[".end"] = last.end_source or f"{last.start_source} (last dose)"
            sources[".ongoing"] = "; ".join(sorted({u.status_source for u in regimen.uses}))
        state.collect("systemic_therapy", {"item": item, "sources": sources, "resource": first_use.resource})


def validate_regimens(state):
    """Number the regimens R1.. in date order and drop (with a warning) any the validator refuses."""
    kept = []
    for entry in state.pieces.get("systemic_therapy", []):
        entry["item"]["id"] = f"R{len(kept) + 1}"
        wrong = problems(REGIMEN, entry["item"], "systemic_therapy[]", state.as_of)
        if wrong:
            state.warn(entry["resource"], "; ".join(wrong) + ": regimen skipped")
            continue
        kept.append(entry)
    state.pieces["systemic_therapy"] = kept


def _intent(res):
    for i, ext in extensions(res, "-intent"):
        hit = lookup("treatment_intent", ext.get("valueCodeableConcept"))
        if hit:
            return hit.entry["intent"], f"extension[{i}].valueCodeableConcept"
    return None, None


def _side(res):
    sites = res.get("bodySite")
    for i, site in enumerate(sites if isinstance(sites, list) else []):
        side = laterality(site)
        if side in ("left", "right"):
            return side, f"bodySite[{i}]"
    return None, None


def procedure(res, state):
    status = res.get("status")
    if status in SKIP_PROCEDURE:
        return state.warn(res, f"status {status}: not performed, skipped")
    code = res.get("code")
    date, date_element, why = effective(res, "performed")
    surgery, radiotherapy = lookup("surgery", code), lookup("radiotherapy", code)
    if not (surgery or radiotherapy):
        return state.warn(res, f"procedure code not mapped ({describe(code)}): skipped")
    item, sources = {"id": None}, {".id": source(res, "id")}
    if date:
        item["date"] = date
        sources[".date"] = source(res, date_element)
    elif date_element:
        state.warn(res, f"{date_element}: {why}; date left out")
    intent, intent_element = _intent(res)
    if surgery:
        item["procedure"], item["target"] = surgery.entry["procedure"], surgery.entry["target"]
        sources[".procedure"] = sources[".target"] = source(res, f"code.coding[{surgery.index}]")
        side, side_element = _side(res)
        if side:
            item["side"], sources[".side"] = side, source(res, side_element)
        section, spec, prefix = "surgery", SURGERY, "S"
    else:
        site = first(res.get("bodySite"))
        if isinstance(site, dict):
            known = lookup("body_site", site)
            shown = [display for _i, _s, _c, display in codings(site) if display]
            text = site.get("text") or (shown[0] if shown else known.entry["display"] if known else describe(site))
            item["target"], sources[".target"] = fit(text, 500, res, "bodySite[0]", state), source(res, "bodySite[0]")
        section, spec, prefix = "radiotherapy", RADIOTHERAPY, "RT"
    if intent in (("radical", "palliative", "diagnostic") if section == "surgery" else ("radical", "palliative")):
        item["intent"], sources[".intent"] = intent, source(res, intent_element)
    item["id"] = f"{prefix}{len(state.pieces.get(section, [])) + 1}"   # renumbered in date order later
    wrong = problems(spec, item, f"{section}[]", state.as_of)
    if wrong:
        return state.warn(res, "; ".join(wrong) + ": skipped")
    state.collect(section, {"item": item, "sources": sources, "resource": res})
