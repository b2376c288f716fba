"""Explanation graphs for other tools: versioned JSON (docs/explanations.md), Graphviz DOT, GraphML.

Only serialises what reasoner/explain/graph.py put in the graph; the same graph gives the same bytes.
"""

import json

import networkx as nx

from ..errors import visible, visible_json

EXPLANATION_SCHEMA_VERSION = 1
DOCUMENT = "eligo-explanation"
GRAPH_FIELDS = ("tool_version", "ruleset_sha256", "rules", "patient", "as_of", "input", "input_sha256", "criterion", "condensed")


def roots(graph):
    return [n for n, kind in graph.nodes(data="kind") if kind in ("trial", "query")]


def ordered_edges(graph):
    """Edges grouped by source node (insertion order), each group in its edge order."""
    out = []
    for node in graph.nodes:
        for _n, child, data in sorted(graph.out_edges(node, data=True), key=lambda e: e[2]["order"]):
            out.append((node, child, data))
    return out


def to_document(graph):
    """The JSON document: graph facts, then nodes and edges (see docs/explanations.md)."""
    doc = {"schema_version": EXPLANATION_SCHEMA_VERSION, "document": DOCUMENT}
    doc.update({key: graph.graph.get(key) for key in GRAPH_FIELDS})
    doc["roots"] = roots(graph)
    doc["nodes"] = [_node_entry(node, data) for node, data in graph.nodes(data=True)]
    doc["edges"] = [{"from": a, "to": b, "role": data["role"], "order": data["order"]}
                    for a, b, data in ordered_edges(graph)]
    return doc


def _node_entry(node, data):
    """id, kind, label and cite first (every node has them), then the kind's own attributes."""
    entry = {"id": node, "kind": data["kind"], "label": data["label"], "cite": data.get("cite")}
    entry.update((k, v) for k, v in data.items() if k not in entry)
    return entry


def to_json(graph):
    return visible_json(json.dumps(to_document(graph), indent=2, ensure_ascii=False)) + "\n"


STYLE = {   # kind -> (shape, styles)
    "trial": ("doubleoctagon", "bold"),
    "criterion": ("box", "rounded,bold"),
    "group": ("box", "dotted"),
    "rule": ("box", ""),
    "fact": ("note", ""),
    "comparison": ("ellipse", ""),
    "aggregate": ("hexagon", ""),
    "negation": ("box", "dashed"),
    "absent": ("note", "dashed"),
    "attempt": ("box", "dashed,rounded"),
    "rule_ref": ("box", "dashed"),
    "missing": ("note", "dashed"),
}

def _dot_string(text):
    """A DOT string: control, bidi-override and zero-width characters made visible (errors.visible),
    then DOT's own escapes (a newline in a label is DOT's line break)."""
    text = visible(text, keep="\n")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# Fill colours by outcome (criteria, trials) and by what a node is (facts, rules, what is missing):
# pass green, fail red, unknown amber, facts blue, rules grey. Light fills keep the text readable in print.
OUTCOME_FILL = {"pass": "#d8f0dd", "fail": "#f7d4d1", "unknown": "#fbe8c0",
                "eligible": "#d8f0dd", "ineligible": "#f7d4d1", "indeterminate": "#fbe8c0"}
KIND_FILL = {"fact": "#dbe8f6", "absent": "#fbe8c0", "missing": "#fbe8c0", "rule": "#eeeeee", "aggregate": "#eeeeee",
             "comparison": "#ffffff", "negation": "#f5f5f5", "rule_ref": "#f5f5f5", "attempt": "#f5f5f5"}
WRAP = 60      # DOT labels wrap at this many characters, so a whole-trial graph stays narrow


def outcome_type(data):
    """pass / fail / unknown for criteria and trials; fact / rule / missing / ... for the others:
    the `outcome_type` GraphML carries and the colour DOT draws."""
    if data.get("kind") == "criterion":
        return data.get("outcome")
    if data.get("kind") == "trial":
        return {"eligible": "pass", "ineligible": "fail"}.get(data.get("verdict"), "unknown")
    return {"aggregate": "rule", "absent": "unknown", "missing": "unknown"}.get(data.get("kind"), data.get("kind"))


def _fill(data):
    if data.get("kind") in ("criterion", "trial"):
        return OUTCOME_FILL.get(data.get("outcome") or data.get("verdict"), "#ffffff")
    return KIND_FILL.get(data.get("kind"), "#ffffff")


def _wrap(text):
    import textwrap

    return "\n".join(textwrap.wrap(text, WRAP, break_long_words=False, break_on_hyphens=False)) or text


def to_dot(graph):
    """Graphviz DOT with each node's label and citation, filled by outcome (docs/explanations.md:
    pass green, fail red, unknown amber, facts blue, rules grey); `dot -Tsvg` draws it."""
    lines = ["digraph explanation {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];']
    for node, data in graph.nodes(data=True):
        label = _wrap(data.get("label", node)) + ("\n" + _wrap(f"[{data['cite']}]") if data.get("cite") else "")
        shape, styles = STYLE.get(data.get("kind"), ("box", ""))
        style = ",".join(["filled"] + ([styles] if styles else []))
        lines.append(f"  {_dot_string(node)} [label={_dot_string(label)}, shape={shape}, style=\"{style}\", "
                     f"fillcolor=\"{_fill(data)}\", class={_dot_string(outcome_type(data))}];")
    for a, b, data in ordered_edges(graph):
        lines.append(f"  {_dot_string(a)} -> {_dot_string(b)} [label={_dot_string(data['role'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _scalar(value, as_text=False):
    """GraphML holds scalars only: lists and mappings as JSON text, None as empty text; an
    attribute whose type varies between nodes (a comparison's sides) is JSON text throughout."""
    if value is None:
        return ""
    if as_text or isinstance(value, (list, tuple, dict)):
        return visible(json.dumps(value, ensure_ascii=False, sort_keys=isinstance(value, dict)))
    return visible(value, keep="\n\t") if isinstance(value, str) else value


def _mixed_attributes(graph):
    types = {}
    for _node, data in graph.nodes(data=True):
        for key, value in data.items():
            if value is not None:
                types.setdefault(key, set()).add(type(value))
    return {key for key, found in types.items() if len(found) > 1}


def to_graphml(graph):
    mixed = _mixed_attributes(graph)
    flat = nx.DiGraph()
    flat.graph.update({k: _scalar(graph.graph.get(k)) for k in GRAPH_FIELDS})
    flat.graph["schema_version"] = EXPLANATION_SCHEMA_VERSION
    # XML 1.0 cannot hold control characters at all: every text (ids too) as errors.visible shows it
    for node, data in graph.nodes(data=True):
        flat.add_node(visible(node), **{k: _scalar(v, k in mixed) for k, v in data.items()},
                      outcome_type=outcome_type(data) or "")
    for a, b, data in ordered_edges(graph):
        flat.add_edge(visible(a), visible(b), role=data["role"], order=data["order"])
    return "\n".join(nx.generate_graphml(flat, prettyprint=True)) + "\n"
