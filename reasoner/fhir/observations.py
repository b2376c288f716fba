"""FHIR Observations: tumour markers (ER, PgR, HER2), ECOG / Karnofsky, labs by LOINC, staging,
pregnancy status and tests. Each becomes a record item only if the record validator accepts it;
otherwise the Observation is skipped with the validator's reason (e.g. a unit it cannot convert).
"""

import datetime as dt

from ..record.format import ASSAY, LAB, PERFORMANCE, PREGNANCY_TEST, RECEPTOR
from .codes import describe, lookup
from .conditions import staging_observation
from .read import effective, first, problems, source

SKIP_STATUS = ("registered", "cancelled", "entered-in-error")
UCUM = "http://unitsofmeasure.org"
# A pregnancy status states the present only if recent; older ones are left out (docs/fhir-mapping.md).
PREGNANCY_STATUS_DAYS = 30


def observation(res, state):
    status = res.get("status")
    if status in SKIP_STATUS:
        return state.warn(res, f"status {status}: skipped")
    code = res.get("code")
    for table, handler in HANDLERS:
        hit = lookup(table, code)
        if hit:
            return handler(res, state, hit, table)
    state.warn(res, f"observation code not mapped ({describe(code)}): skipped")


def _coded(res, table):
    """(value, element) from valueCodeableConcept, else from interpretation; conflicts -> (None, why)."""
    value_hit = lookup(table, first(res.get("valueCodeableConcept")))
    interp_hit = lookup(table, first(res.get("interpretation")))
    if value_hit and interp_hit and value_hit.entry["value"] != interp_hit.entry["value"]:
        return None, f"value says {value_hit.entry['value']} but interpretation says {interp_hit.entry['value']}"
    if value_hit:
        return value_hit.entry["value"], f"valueCodeableConcept.coding[{value_hit.index}]"
    if interp_hit:
        return interp_hit.entry["value"], f"interpretation.coding[{interp_hit.index}]"
    return None, (f"result not mapped (value {describe(first(res.get('valueCodeableConcept')))}, "
                  f"interpretation {describe(first(res.get('interpretation')))})")


def _receptor(res, state, hit, _table):
    receptor = hit.entry["receptor"]
    status, where = _coded(res, "result_value")
    if status is None:
        return state.warn(res, f"{receptor}: {where}: skipped")
    item, sources = {"status": status}, {".status": source(res, where)}
    date, element, _why = effective(res)
    if date:
        item["date"] = date
        sources[".date"] = source(res, element)
    quantity = first(res.get("valueQuantity"))
    if isinstance(quantity, dict):
        unit = quantity.get("code") or quantity.get("unit")
        if receptor in ("er", "pgr") and unit == "%" and "comparator" not in quantity:
            item["percent"] = quantity.get("value")
            sources[".percent"] = source(res, "valueQuantity")
        else:
            shown = f"{quantity.get('comparator', '')}{quantity.get('value')} {unit or '(no unit)'}".strip()
            state.warn(res, f"{receptor}: valueQuantity {shown} is not an exact percentage; left out")
    wrong = problems(RECEPTOR, item, f"receptors.{receptor}", state.as_of)
    if wrong:
        return state.warn(res, "; ".join(wrong) + ": skipped")
    state.collect("receptors", {"receptor": receptor, "item": item, "sources": sources, "date": date, "resource": res})


def _number(res):
    """The observation's number: valueInteger, or valueQuantity.value, with its element."""
    if "valueInteger" in res.data:
        return res.get("valueInteger"), "valueInteger"
    quantity = first(res.get("valueQuantity"))
    if isinstance(quantity, dict) and "value" in quantity:
        return quantity["value"], "valueQuantity.value"
    return None, None


def _performance(res, state, hit, _table):
    scale = hit.entry["scale"]
    value, where = _number(res)
    if value is None and scale == "ecog":
        answer = lookup("ecog_answer", first(res.get("valueCodeableConcept")))
        if answer:
            value, where = answer.entry["value"], f"valueCodeableConcept.coding[{answer.index}]"
    date, element, why = effective(res)
    if value is None:
        return state.warn(res, f"{scale}: no score: skipped")
    if date is None:
        return state.warn(res, f"{scale}: {why}: skipped")
    item = {"scale": scale, "value": value, "date": date}
    wrong = problems(PERFORMANCE, item, "performance_status[]", state.as_of)
    if wrong:
        return state.warn(res, f"{scale} score {value} not valid ({'; '.join(wrong)}): skipped")
    sources = {"": source(res, where), ".scale": source(res, "code"), ".value": source(res, where),
               ".date": source(res, element)}
    state.collect("performance_status", {"item": item, "sources": sources, "resource": res})


def _unit(quantity):
    if quantity.get("system") in (None, UCUM) and isinstance(quantity.get("code"), str):
        return quantity["code"]
    return quantity.get("unit") if isinstance(quantity.get("unit"), str) else None


def _lab(res, state, hit, _table):
    test = hit.entry
    quantity = first(res.get("valueQuantity"))
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), (int, float)):
        return state.warn(res, f"{test}: no numeric valueQuantity: skipped")
    if "comparator" in quantity:
        return state.warn(res, f"{test}: value {quantity['comparator']}{quantity['value']} is not exact: skipped")
    unit = _unit(quantity)
    date, element, why = effective(res)
    if unit is None or date is None:
        return state.warn(res, f"{test}: {'no unit' if unit is None else why}: skipped")
    item = {"test": test, "value": quantity["value"], "unit": unit, "date": date}
    sources = {".test": source(res, f"code.coding[{hit.index}]"), ".value": source(res, "valueQuantity.value"),
               ".unit": source(res, "valueQuantity.code" if quantity.get("code") == unit else "valueQuantity.unit"),
               ".date": source(res, element)}
    ranges = res.get("referenceRange")
    limits = first(ranges) if isinstance(ranges, list) else None
    for key, field in (("high", "uln"), ("low", "lln")):
        limit = limits.get(key) if isinstance(limits, dict) else None
        if not isinstance(limit, dict) or not isinstance(limit.get("value"), (int, float)):
            continue
        if _unit(limit) not in (None, unit):
            state.warn(res, f"{test}: referenceRange.{key} is in {_unit(limit)}, not {unit}; {field} left out")
            continue
        item[field] = limit["value"]
        sources[f".{field}"] = source(res, f"referenceRange[0].{key}.value")
    wrong = problems(LAB, item, "labs[]", state.as_of)
    if wrong:
        return state.warn(res, f"{test}: {'; '.join(wrong)}: skipped")
    state.collect("labs", {"item": item, "sources": sources, "resource": res})


def _pregnancy_status(res, state, _hit, _table):
    value, where = _coded(res, "pregnancy_status_value")
    date, element, why = effective(res)
    if value is None or date is None:
        return state.warn(res, f"pregnancy status: {where if value is None else why}: skipped")
    if state.as_of and (state.as_of - date) > dt.timedelta(days=PREGNANCY_STATUS_DAYS):
        return state.warn(res, f"pregnancy status of {date.isoformat()} is more than {PREGNANCY_STATUS_DAYS} days "
                               "before the evaluation date, so it does not state current pregnancy: left out")
    state.collect("pregnancy_status", {"value": value, "date": date, "source": source(res, f"{where} ({element} "
                                                                                             f"{date.isoformat()})"), "resource": res})


def _pregnancy_test(res, state, _hit, _table):
    result, where = _coded(res, "result_value")
    date, element, why = effective(res)
    if result not in ("positive", "negative") or date is None:
        return state.warn(res, f"pregnancy test: {why if date is None else where}: skipped")
    item = {"date": date, "result": result}
    wrong = problems(PREGNANCY_TEST, item, "reproductive.pregnancy_tests[]", state.as_of)
    if wrong:
        return state.warn(res, "; ".join(wrong) + ": skipped")
    sources = {".date": source(res, element), ".result": source(res, where)}
    state.collect("reproductive.pregnancy_tests", {"item": item, "sources": sources, "resource": res})


ASSAY_RESULTS = {"positive": "positive", "negative": "negative", "not_determinable": "indeterminate"}


def _assay(res, state, hit, _table):
    """HIV / HBs antigen results. FHIR does not say whether a laboratory is the trial's central one,
    so `laboratory` stays out (a criterion that asks for the central laboratory stays unknown)."""
    test = hit.entry["test"]
    value, where = _coded(res, "result_value")
    date, element, why = effective(res)
    if value not in ASSAY_RESULTS or date is None:
        return state.warn(res, f"{test} assay: {why if date is None else where}: skipped")
    item = {"test": test, "result": ASSAY_RESULTS[value], "date": date}
    wrong = problems(ASSAY, item, "assays[]", state.as_of)
    if wrong:
        return state.warn(res, "; ".join(wrong) + ": skipped")
    sources = {".test": source(res, f"code.coding[{hit.index}]"), ".result": source(res, where), ".date": source(res, element)}
    state.collect("assays", {"item": item, "sources": sources, "resource": res})


def _not_used(res, state, hit, _table):
    state.warn(res, f"LOINC {hit.code} (TNM T or N category) is not used by Eligo: skipped")


HANDLERS = (
    ("receptor_test", _receptor),
    ("performance", _performance),
    ("lab", _lab),
    ("stage_group", staging_observation),
    ("distant_metastasis", staging_observation),
    ("pregnancy_status", _pregnancy_status),
    ("pregnancy_test", _pregnancy_test),
    ("assay_test", _assay),
    ("tnm_not_used", _not_used),
)
