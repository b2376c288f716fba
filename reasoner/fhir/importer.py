"""FHIR R4 / mCODE Bundle (or single resource) -> an Eligo patient record (docs/fhir-mapping.md).

Lenient and honest: a resource Eligo cannot use (unsupported type, unmapped code, another patient,
a value the record validator refuses) is skipped with a warning `Type/id: why`; only input that is
not FHIR at all is an error. What FHIR does not say stays out of the record (unknown), and every
list the import fills is marked incomplete: FHIR never states that a list is complete. Every
imported field names its source in `sources`: record path -> "Type/id element".
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..record.format import RECORD, SCHEMA_VERSION
from ..record.validator import describe
from .conditions import condition
from .observations import observation
from .read import Resource, State, fit, parse_date, problems, reference, source
from .therapy import medication, procedure, regimen_entries, validate_regimens

# List sections an import can fill, in record order; each one filled is listed in incomplete_sections.
LISTS = ("metastatic_sites", "systemic_therapy", "radiotherapy", "surgery", "labs", "performance_status",
         "comorbidities", "reproductive.pregnancy_tests", "assays")
NOT_COMPLETE = LISTS[1:]
NEVER = dt.date.max


@dataclass
class FhirImport:
    record: dict       # plain record data, ready for records.validate / record_from_data
    warnings: list     # "Type/id: why", one per skipped resource or left-out value


def is_fhir(data):
    """A FHIR resource (a mapping with a resourceType name); for a whole input use input_kind."""
    return isinstance(data, dict) and isinstance(data.get("resourceType"), str)


def input_kind(data, name):
    """"record" or "fhir" for a parsed input file, decided by one clear sign each: schema_version
    (an Eligo record, never FHIR) or resourceType (FHIR). Both, neither, or a resourceType that is
    not a type name: refused, since reading the file as the wrong kind would drop its content."""
    record, fhir = "schema_version" in data, "resourceType" in data
    if record and fhir:
        raise InputError(f"{name}: both schema_version (an Eligo record) and resourceType (a FHIR resource), "
                         "expected one of them: a record has no resourceType field")
    if fhir and not (isinstance(data["resourceType"], str) and data["resourceType"].strip()):
        raise InputError(f"{name}: resourceType: expected a FHIR resource type such as Bundle or Patient, "
                         f"got {describe(data['resourceType'])}")
    if not record and not fhir:
        raise InputError(f"{name}: neither schema_version (an Eligo record) nor resourceType (a FHIR R4 resource "
                         "or Bundle), expected one of them")
    return "fhir" if fhir else "record"


def import_fhir(data, name, as_of):
    """Import one FHIR resource or Bundle; `as_of` decides which dates count as past."""
    if not is_fhir(data) or "schema_version" in data:
        got = ("an Eligo record (it has schema_version)" if isinstance(data, dict) and "schema_version" in data
               else "a JSON object without resourceType" if isinstance(data, dict) else type(data).__name__)
        raise InputError(f"{name}: expected a FHIR R4 resource or Bundle (a JSON object with resourceType), got {got}")
    state = State(as_of)
    resources = _resources(data, name, state)
    patient, sources, is_patient = _patient(resources, name, state)
    medications = {}
    for res in resources:
        if res.type == "Medication":
            medications.update({ref: res for ref in (f"Medication/{res.get('id')}", res.full_url) if ref})
    for res in resources:
        if res.type in ("Patient", "Medication"):
            continue
        subject = reference(res.get("subject")) or reference(res.get("patient"))
        if subject and not is_patient(subject):
            state.warn(res, f"subject {subject} is not this bundle's patient ({patient['id']}): skipped")
            continue
        handler = HANDLERS.get(res.type)
        if handler is None:
            state.warn(res, f"{res.type} carries nothing Eligo reads: skipped")
            continue
        handler(res, state, medications)
    return FhirImport(_assemble(state, patient, sources), state.warnings)


def _resources(data, name, state):
    if data["resourceType"] != "Bundle":
        return [Resource(data, _label(data, None))]
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise InputError(f"{name}: Bundle.entry: expected a list of entries, got {type(entries).__name__}")
    out, seen = [], {}
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not is_fhir(resource):
            state.warn(f"Bundle entry[{i}]", "no resource with a resourceType: skipped")
            continue
        label = _label(resource, i)
        if resource["resourceType"] == "Bundle":
            state.warn(label, "a Bundle inside a Bundle is not read: skipped")
        elif label in seen:
            same = seen[label].data == resource
            state.warn(label, "duplicate of an earlier entry: skipped" if same
                       else "another entry has the same type and id (the first one is used): skipped")
        else:
            seen[label] = Resource(resource, label, entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None)
            out.append(seen[label])
    return out


def _label(resource, index):
    rid = resource.get("id")
    if isinstance(rid, str) and rid.strip():
        return f"{resource['resourceType']}/{rid.strip()}"
    return f"{resource['resourceType']}/entry[{index}]" if index is not None else f"{resource['resourceType']}/(no id)"


def _patient(resources, name, state):
    """patient section, its sources, and a test for references to this patient."""
    patients = [r for r in resources if r.type == "Patient"]
    if len(patients) > 1:
        raise InputError(f"{name}: {len(patients)} Patient resources ({', '.join(p.label for p in patients)}), "
                         "expected one patient per bundle")
    if patients:
        res = patients[0]
        pid = res.get("id") if isinstance(res.get("id"), str) and res.get("id").strip() else None
        refs = {res.full_url} - {None}
        if pid:
            refs |= {f"Patient/{pid}", f"urn:uuid:{pid}"}
        patient, sources = _patient_fields(res, state)
        if pid is None:
            patient["id"], sources["patient.id"] = Path(name).stem, "file name (the Patient has no id)"
            state.warn(res, "no id: patient.id is the file name")
        return patient, sources, lambda ref: ref in refs or bool(pid and ref.endswith(f"/Patient/{pid}"))
    subjects = {}
    for res in resources:
        ref = reference(res.get("subject")) or reference(res.get("patient"))
        if ref:
            subjects.setdefault(ref, res)
    if len(subjects) > 1:
        raise InputError(f"{name}: no Patient resource, and the resources are about {len(subjects)} patients "
                         f"({', '.join(sorted(subjects))}): expected one patient")
    if subjects:
        (ref, res), = subjects.items()
        pid = ref.rsplit("/", 1)[-1].removeprefix("urn:uuid:")
        element = "subject.reference" if reference(res.get("subject")) else "patient.reference"
        return {"id": pid}, {"patient.id": source(res, element)}, lambda other: other == ref
    state.warn(name, "no Patient resource and no subject reference: patient.id is the file name")
    return {"id": Path(name).stem}, {"patient.id": "file name (no Patient in the input)"}, lambda _ref: False


def _patient_fields(res, state):
    # ids are never cut (two patients could become one): one longer than the record allows is refused by validation
    patient, sources = {"id": str(res.get("id", ""))}, {"patient.id": source(res, "id")}
    names = res.get("name") if isinstance(res.get("name"), list) else []
    chosen = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), None) or \
        next((n for n in names if isinstance(n, dict)), None)
    if chosen:
        given = [g for g in chosen.get("given", []) if isinstance(g, str)] if isinstance(chosen.get("given"), list) else []
        text = chosen.get("text") or " ".join(given + ([chosen["family"]] if isinstance(chosen.get("family"), str) else []))
        if isinstance(text, str) and text.strip():
            element = f"name[{names.index(chosen)}]"
            patient["name"], sources["patient.name"] = fit(text.strip(), 200, res, element, state), source(res, element)
    gender = res.get("gender")
    if gender in ("female", "male"):
        patient["sex"], sources["patient.sex"] = gender, source(res, "gender")
    elif gender is not None:
        state.warn(res, f"gender {gender!r}: sex left out (the record knows female and male)")
    if "birthDate" in res.data:
        birth, why = parse_date(res.get("birthDate"))
        wrong = problems(RECORD.fields["patient"], {"id": "x", "birth_date": birth}, "patient", state.as_of) if birth else []
        if birth and not wrong:
            patient["birth_date"], sources["patient.birth_date"] = birth, source(res, "birthDate")
        else:
            state.warn(res, f"birthDate: {why or '; '.join(wrong)}; left out")
    return patient, sources


def _set(record, path, value):
    head, _, tail = path.partition(".")
    if tail:
        _set(record.setdefault(head, {}), tail, value)
    else:
        record[head] = value


def _assemble(state, patient, sources):
    record = {"schema_version": SCHEMA_VERSION, "patient": patient}
    primary = (state.pieces.get("primary") or [None])[0]
    for path, (value, where) in (primary["fields"] if primary else {}).items():
        _set(record, path, value)
        sources[path] = where
    _receptors(state, record, sources)
    presentation = _presentation(state, record, sources, primary)
    regimen_entries(state, _setting_rule(record, sources, presentation, primary))
    _one_lab_per_test_and_date(state)
    validate_regimens(state)
    order = {"metastatic_sites": lambda e: (e["item"].get("detected", NEVER), e["item"]["organ"]),
             "radiotherapy": lambda e: (e["item"].get("date", NEVER), e["resource"].label),
             "surgery": lambda e: (e["item"].get("date", NEVER), e["resource"].label),
             "labs": lambda e: (e["item"]["date"], e["item"]["test"], e["resource"].label),
             "performance_status": lambda e: (e["item"]["date"], e["resource"].label),
             "assays": lambda e: (e["item"]["date"], e["item"]["test"], e["resource"].label)}
    for section in LISTS:
        entries = sorted(state.pieces.get(section, []), key=order[section]) if section in order else state.pieces.get(section, [])
        items = []
        for i, entry in enumerate(entries):
            if "id" in entry["item"] and section in ("radiotherapy", "surgery"):
                entry["item"]["id"] = f"{'S' if section == 'surgery' else 'RT'}{i + 1}"
            items.append(entry["item"])
            sources.update({f"{section}[{i}]{sub}": where for sub, where in entry["sources"].items()})
        if items:
            _set(record, section, items)
    _pregnancy(state, record, sources)
    incomplete = [s for s in NOT_COMPLETE if _has(record, s)]
    if incomplete:
        record["incomplete_sections"] = incomplete
    record["sources"] = dict(sorted(sources.items()))
    return record


def _one_lab_per_test_and_date(state):
    """The record allows one result per test and date: equal repeats are dropped, differing ones both."""
    groups = {}
    for entry in state.pieces.get("labs", []):
        groups.setdefault((entry["item"]["test"], entry["item"]["date"]), []).append(entry)
    kept = []
    for (test, date), entries in groups.items():
        labels = ", ".join(e["resource"].label for e in entries)
        if len({e["item"]["value"] for e in entries}) == 1:
            kept.append(entries[0])
            for e in entries[1:]:
                state.warn(e["resource"], f"{test}: same result on {date.isoformat()} as {entries[0]['resource'].label}: skipped")
        else:
            for e in entries:
                state.warn(e["resource"], f"{test}: different results on {date.isoformat()} ({labels}): left out")
    state.pieces["labs"] = kept


def _has(record, path):
    head, _, tail = path.partition(".")
    return head in record and (not tail or tail in record[head])


def _receptors(state, record, sources):
    by_receptor = {}
    for entry in state.pieces.get("receptors", []):
        by_receptor.setdefault(entry["receptor"], []).append(entry)
    for receptor, entries in sorted(by_receptor.items()):
        known = [e for e in entries if not (e["date"] and state.as_of and e["date"] > state.as_of)]
        if known and len(known) < len(entries):   # the record holds one result: the latest known on --as-of
            for e in entries:
                if e not in known:
                    state.warn(e["resource"], f"{receptor}: dated {e['date'].isoformat()}, after --as-of "
                                              f"{state.as_of.isoformat()}: set aside (an earlier result is used)")
            entries = known
        newest = max(e["date"] or dt.date.min for e in entries)
        top = [e for e in entries if (e["date"] or dt.date.min) == newest]
        if len({e["item"]["status"] for e in top}) > 1:
            for e in top:
                state.warn(e["resource"], f"{receptor}: results of the same date disagree "
                                          f"({', '.join(sorted(x['resource'].label for x in top))}): {receptor} left out")
            continue
        chosen = top[0]
        for e in entries:
            if e is not chosen:
                state.warn(e["resource"], f"{receptor}: {chosen['resource'].label} (newer or same date) is used instead")
        _set(record, f"receptors.{receptor}", chosen["item"])
        sources.update({f"receptors.{receptor}{sub}": where for sub, where in chosen["sources"].items()})


def _presentation(state, record, sources, primary):
    """de_novo (stage IV / M1 at diagnosis) or recurrent (staged 0-III, now with metastatic sites)."""
    stages = state.pieces.get("stage", [])
    kinds = {s["kind"] for s in stages}
    basis = "; ".join(s["source"] + f" ({s['code']})" for s in stages)
    sites = state.pieces.get("metastatic_sites", [])
    presentation = None
    if kinds == {"IV"}:
        presentation = "de_novo"
    elif kinds == {"I-III"} and sites:
        presentation, basis = "recurrent", f"{basis}; {sites[0]['sources']['.organ']}"
    elif len(kinds) > 1:
        state.warn("staging", f"stage IV and stage 0-III both recorded ({basis}): presentation left out")
    elif kinds:
        state.warn("staging", f"stage 0-III at diagnosis ({basis}) and no metastatic site in the input: "
                              "presentation left out")
    if presentation:
        record.setdefault("diagnosis", {})["presentation"] = presentation
        sources["diagnosis.presentation"] = basis
    dated = [s for s in sites if "detected" in s["item"]]
    if sites and len(dated) == len(sites):
        earliest = min(dated, key=lambda s: s["item"]["detected"])
        record.setdefault("diagnosis", {})["metastatic_diagnosis_date"] = earliest["item"]["detected"]
        sources["diagnosis.metastatic_diagnosis_date"] = earliest["sources"][".detected"] + " (earliest metastatic site)"
    elif presentation == "de_novo" and primary and primary["onset"]:
        record.setdefault("diagnosis", {})["metastatic_diagnosis_date"] = primary["onset"]
        sources["diagnosis.metastatic_diagnosis_date"] = sources["primary_tumour.diagnosis_date"] + " (stage IV at diagnosis)"
    return presentation


def _setting_rule(record, sources, presentation, primary):
    """start date -> (setting, basis, why not): metastatic only when the bundle shows metastatic disease by then."""
    since = record.get("diagnosis", {}).get("metastatic_diagnosis_date")

    def rule(start):
        if presentation == "de_novo":
            onset = primary["onset"] if primary else None
            if onset and start < onset:
                return None, None, f"starts before the breast cancer diagnosis ({onset.isoformat()})"
            return "metastatic", f"{sources['diagnosis.presentation']} (stage IV at diagnosis: all therapy is metastatic)", None
        if since and start >= since:
            return "metastatic", f"{sources['diagnosis.metastatic_diagnosis_date']} (starts on or after {since.isoformat()})", None
        if since:
            return None, None, (f"starts before metastatic disease was diagnosed ({since.isoformat()}); FHIR does not "
                                "say whether it was neoadjuvant or adjuvant")
        return None, None, "FHIR does not state the setting and the bundle does not date metastatic disease"
    return rule


def _pregnancy(state, record, sources):
    statuses = state.pieces.get("pregnancy_status", [])
    if statuses:
        latest = max(statuses, key=lambda s: s["date"])
        _set(record, "reproductive.pregnant", latest["value"])
        sources["reproductive.pregnant"] = latest["source"]


HANDLERS = {
    "Condition": lambda res, state, _meds: condition(res, state),
    "Observation": lambda res, state, _meds: observation(res, state),
    "Procedure": lambda res, state, _meds: procedure(res, state),
    "MedicationStatement": medication,
    "MedicationRequest": medication,
    "MedicationAdministration": medication,
}
