"""The audit report as JSON (docs/reports.md): the header, the result of `eligo check` per trial with
each criterion's protocol text, reading and rule citation, and the explanation graph embedded in
the format of docs/explanations.md."""

import json

from ..errors import visible_json
from .graph_export import to_document
from .result import set_aside_document, trial_entry

REPORT_SCHEMA_VERSION = 1
DOCUMENT = "eligo-report"

FORMAT = "json"


def report_document(report):
    trials = []
    for section in report.trials:
        entry = trial_entry(section.verdict_ref)
        entry["title"] = section.title
        entry["deciding"] = list(section.deciding)
        entry["label"] = section.label
        entry["node"] = section.node
        details = {c.id: c for c in section.criteria}
        for crit in entry["criteria"]:
            c = details[crit["id"]]
            crit.update({"text": c.text, "reading": c.reading, "cite": c.cite, "rule": c.rule, "deciding": c.deciding,
                         "key_facts": [{"label": label, "cite": cite} for label, cite in c.facts], "node": c.node})
        trials.append(entry)
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "document": DOCUMENT,
        "patient": report.patient,
        "patient_name": report.patient_name,
        "as_of": report.as_of,
        "tool_version": report.tool_version,
        "code_sha256": report.code_sha256,
        "dependencies": {name: version for name, version in report.dependencies},
        "ruleset_sha256": report.ruleset_sha256,
        "rules": report.rules,
        "input": report.input,
        "input_sha256": report.input_sha256,
        "command": report.command(FORMAT),
        "import_warnings": list(report.warnings),
        "set_aside": set_aside_document(report.set_aside),
        "overrides": list(report.overrides),
        "trials": trials,
        "explanation": to_document(report.graph),
    }


def render_json(report):
    return visible_json(json.dumps(report_document(report), indent=2, ensure_ascii=False)) + "\n"
