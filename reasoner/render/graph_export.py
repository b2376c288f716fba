"""Explanation graphs for other tools: versioned JSON (docs/explanations.md), Graphviz DOT, GraphML.

Only serialises what reasoner/explain/graph.py put in the graph; the same graph gives the same bytes.
"""

import json

import networkx as nx

from ..errors import visible, visible_json

EXPLANATION_SCHEMA_VERSION = 1
DOCUMENT = "eligo-explanation"
GRAPH_FIELDS = ("tool_version", "ruleset_sha256", "rules", "patient", "as_of", "input", "input_sha256", "criterion")


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


STYLE = {
    "trial": 'shape=doubleoctagon, style=bold',
    "criterion": 'shape=box, style="rounded,bold"',
    "group": 'shape=box, style=dotted',
    "rule": 'shape=box',
    "fact": 'shape=note',
    "comparison": 'shape=ellipse',
    "aggregate": 'shape=hexagon',
    "negation": 'shape=box, style=dashed',
    "absent": 'shape=note, style=dashed',
    "attempt": 'shape=box, style="dashed,rounded"',
    "rule_ref": 'shape=box, style=dashed',
    "missing": 'shape=note, style=dashed, color=red',
}


def _dot_string(text):
    """A DOT string: control, bidi-override and zero-width characters made visible (errors.visible),
    then DOT's own escapes (a newline in a label is DOT's line break)."""
    text = visible(text, keep="\n")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph):
    """Graphviz DOT with each node's label and citation; `dot -Tsvg` draws it."""
    lines = ["digraph explanation {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];']
    for node, data in graph.nodes(data=True):
        label = data.get("label", node) + (f"\n[{data['cite']}]" if data.get("cite") else "")
        style = STYLE.get(data.get("kind"), "shape=box")
        lines.append(f"  {_dot_string(node)} [label={_dot_string(label)}, {style}];")
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
        return json.dumps(value, ensure_ascii=False, sort_keys=isinstance(value, dict))
    return value


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
    for node, data in graph.nodes(data=True):
        flat.add_node(node, **{k: _scalar(v, k in mixed) for k, v in data.items()})
    for a, b, data in ordered_edges(graph):
        flat.add_edge(a, b, role=data["role"], order=data["order"])
    return "\n".join(nx.generate_graphml(flat, prettyprint=True)) + "\n"
