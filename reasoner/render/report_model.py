"""One audit report, built once from a judgement and its explanation graph (docs/reports.md).

The HTML, Markdown and JSON renderers only lay this structure out: the verdicts come from
reasoner/pipeline.judge, every derivation tree from the graph of reasoner/explain/graph.py with the
phrasebook's labels, and the report's own fixed headings from WORDS below.
"""

import shlex
from dataclasses import dataclass

from .. import __version__
from ..explain.phrasebook import OUTCOME_WORDS, need_line
from .provenance import code_sha256, dependencies
from .tree import REPEAT

# The report's own headings and notes, shared by the HTML and Markdown layouts.
WORDS = {
    "title": "Eligibility report",
    "header": "Header",
    "patient": "Patient id",
    "name": "Patient name",
    "as_of": "Evaluation date (--as-of)",
    "tool_version": "Eligo version",
    "code_sha256": "Code SHA-256 (installed reasoner/ package)",
    "dependencies": "Dependencies",
    "overrides": "What-if overrides (values set for this report, not the record's)",
    "ruleset_sha256": "Rule set SHA-256",
    "rules": "Rules folder",
    "input": "Input record",
    "input_sha256": "Input record SHA-256",
    "trials": "Trials",
    "command": "Command that reproduces this report",
    "warnings": "Import warnings (FHIR resources or values left out of the record)",
    "set_aside": "Set aside: dated after the evaluation date, not known on it (--as-of)",
    "summary": "Summary",
    "trial": "Trial",
    "registry": "Registry id",
    "protocol_version": "Protocol version",
    "stage": "Stage",
    "verdict": "Verdict",
    "deciding": "Deciding criteria",
    "counts": "pass / fail / unknown",
    "all_pass": "all {n} criteria pass",
    "strata": "Randomisation strata",
    "stratum": "Stratum",
    "value": "Value",
    "strata_unknown": "unknown (not derivable from the record)",
    "criteria": "Criteria",
    "criterion_kind": "Kind",
    "text": "Protocol text",
    "reading": "Reading used",
    "rule": "Rule",
    "rule_fired": "Rule that fired",
    "key_facts": "Key facts",
    "deciding_criteria": "Deciding criteria",
    "other_criteria": "Other criteria",
    "criterion_id": "Criterion",
    "proof": "Proof",
    "outcome": "Outcome",
    "missing": "Missing inputs",
    "to_decide": "What would decide it",
    "same_as_stage": "judged the same way, for the same reasons, as in",
    "to_decide_more": "and {n} more ways to decide it (on screen, or: eligo worklist)",
    "deciding_mark": "deciding",
    "tree": "Derivation tree",
    "empty_tree": "(no derivation: nothing to show)",
    "repeat": REPEAT.strip(),
}


@dataclass(frozen=True)
class TreeNode:
    node: str            # graph node id
    kind: str
    label: str           # the phrasebook's wording, from the graph
    cite: object         # file:line, record-file: path, or None
    children: tuple
    repeat: bool         # expanded earlier in the same criterion: shown once more, not expanded again

    def size(self):
        return 1 + sum(child.size() for child in self.children)


@dataclass(frozen=True)
class CriterionSection:
    id: str
    kind: str
    outcome: str
    outcome_word: str
    text: str
    reading: str
    cite: str            # file:line of the criterion in its rule file
    missing: tuple       # record paths, for unknown outcomes
    rule: str            # file:line of the clause that fired (the criterion's own line when unknown)
    facts: tuple         # ((label, cite), ...): the fired clause's literals as the proof shows them
    deciding: bool
    node: str            # its node in the explanation graph
    anchor: str
    tree: tuple          # TreeNode: the criterion node's children
    to_decide: tuple = ()   # what would decide an unknown criterion, in words (explain/decide.py)


@dataclass(frozen=True)
class TrialSection:
    trial: str
    name: str
    title: str
    registry: str
    protocol_version: str
    stage: object
    verdict: str
    label: str           # the phrasebook's verdict sentence
    deciding: tuple      # criterion ids (every one when eligible)
    criteria: tuple      # CriterionSection, protocol order
    strata: object       # ((name, value or None), ...) or None
    node: str
    anchor: str
    verdict_ref: object  # the TrialVerdict, for the JSON's result fields

    def count(self, outcome):
        return sum(1 for c in self.criteria if c.outcome == outcome)


@dataclass(frozen=True)
class Report:
    patient: str
    patient_name: object
    as_of: str
    tool_version: str
    code_sha256: str
    dependencies: tuple  # ((distribution, version), ...)
    overrides: tuple     # what-if overrides the judgement carries (text), if any
    ruleset_sha256: str
    input: str
    input_sha256: str
    trial_ids: tuple
    warnings: tuple      # FHIR import warnings: what the record left out of the bundle
    set_aside: tuple     # the record's SetAside entries (.path, .date, .why): dated after --as-of
    trials: tuple        # TrialSection, one per trial and stage
    graph: object        # the explanation graph (networkx DiGraph), embedded by the JSON report
    rules: str = "rules"  # the rules folder: "rules" (installed) or a --rules working copy

    def command(self, fmt):
        """The command that writes this report in format fmt."""
        return reproduce_command(self.input, self.trial_ids, self.as_of, fmt, self.rules)


def reproduce_command(filename, trial_ids, as_of, fmt, rules="rules"):
    """The command line that writes the same bytes to stdout (run from the same directory)."""
    words = ["eligo", "report", filename]
    for tid in trial_ids:
        words += ["--trial", tid]
    words += ["--as-of", as_of, "--format", fmt]
    if rules != "rules":
        words += ["--rules", rules]
    return shlex.join(words)


def build_report(judgement, graph, warnings=()):
    record = judgement.record
    trial_ids = tuple(dict.fromkeys(tv.trial.id for tv in judgement.verdicts))
    sections = tuple(_trial_section(graph, tv) for tv in judgement.verdicts)
    return Report(
        patient=record.patient_id, patient_name=record.data["patient"].get("name"),
        as_of=record.as_of.isoformat(), tool_version=__version__, code_sha256=code_sha256(),
        dependencies=dependencies(), overrides=tuple(str(o) for o in getattr(judgement, "overrides", None) or ()),
        ruleset_sha256=judgement.book.sha256,
        input=record.filename, input_sha256=record.sha256, trial_ids=trial_ids,
        warnings=tuple(warnings), set_aside=tuple(record.set_aside), trials=sections, graph=graph,
        rules=judgement.book.folder)


def _trial_section(graph, tv):
    suffix = f"@{tv.stage}" if tv.stage else ""
    node = f"trial:{tv.trial.id}{suffix}"
    data = _node(graph, node)
    _agree(node, data.get("verdict"), tv.verdict)
    anchor = f"t-{tv.trial.id}" + (f"-{tv.stage}" if tv.stage else "")
    deciding = tuple(data["deciding"])
    criteria = tuple(_criterion_section(graph, outcome, anchor, outcome.id in deciding) for outcome in tv.criteria)
    strata = tuple(tv.strata.items()) if getattr(tv, "strata", None) is not None else None
    trial = tv.trial
    return TrialSection(trial=trial.id, name=trial.name, title=trial.title, registry=trial.registry,
                        protocol_version=trial.version, stage=tv.stage, verdict=tv.verdict, label=data["label"],
                        deciding=deciding, criteria=criteria, strata=strata, node=node, anchor=anchor,
                        verdict_ref=tv)


def _criterion_section(graph, outcome, trial_anchor, deciding):
    crit = outcome.criterion
    node = f"criterion:{crit.trial}/{crit.id}"
    data = _node(graph, node)
    _agree(node, data.get("outcome"), outcome.outcome)
    proofs = [child for child in _children(graph, node) if graph.nodes[child]["kind"] == "rule"]
    rule = graph.nodes[proofs[0]]["cite"] if proofs else data["cite"]
    facts = tuple((graph.nodes[c]["label"], graph.nodes[c].get("cite")) for c in _children(graph, proofs[0])) if proofs else ()
    return CriterionSection(
        id=crit.id, kind=crit.kind, outcome=outcome.outcome, outcome_word=OUTCOME_WORDS[outcome.outcome],
        text=data["text"], reading=data["reading"], cite=data["cite"], missing=tuple(outcome.missing),
        rule=rule, facts=facts, deciding=deciding, node=node, anchor=f"{trial_anchor}-{crit.id}", tree=_subtrees(graph, node, set()),
        to_decide=tuple(need_line(graph.nodes[c]["need"], graph.nodes[c]["decides"], graph.nodes[c]["recorded"],
                                  graph.nodes[c].get("together_with", ()))
                        for c in graph.successors(node) if graph.nodes[c]["kind"] == "to_decide"))


def _node(graph, node):
    if node not in graph:
        raise AssertionError(f"the explanation graph has no node {node}")
    return graph.nodes[node]


def _agree(node, explained, judged):
    """The graph and the verdicts come from the same engine; a disagreement is a bug, not a report."""
    if explained != judged:
        raise AssertionError(f"{node}: the explanation says {explained}, the verdict {judged}")


def _children(graph, node):
    edges = sorted(graph.out_edges(node, data=True), key=lambda edge: edge[2]["order"])
    return [child for _node, child, _data in edges]


def _subtrees(graph, node, seen):
    """The children of node as trees; like the text tree, a node already expanded in the same
    criterion is shown again but not expanded twice."""
    out = []
    for child in _children(graph, node):
        data = graph.nodes[child]
        below = _children(graph, child)
        if child in seen and below:
            out.append(TreeNode(child, data["kind"], data["label"], data.get("cite"), (), True))
            continue
        if below:
            seen.add(child)
        out.append(TreeNode(child, data["kind"], data["label"], data.get("cite"),
                            _subtrees(graph, child, seen), False))
    return tuple(out)


def report_of(record, trial_ids=(), warnings=()):
    """Judge record, build its explanation graph, and gather both into one Report (warnings: those
    of a FHIR import, which the report lists)."""
    from ..explain.condense import condense
    from ..explain.graph import explain
    from ..pipeline import judge

    judgement = judge(record, list(dict.fromkeys(trial_ids)) or None)
    ids = list(dict.fromkeys(tv.trial.id for tv in judgement.verdicts))
    return build_report(judgement, condense(explain(record, ids)), warnings)
