"""Indented terminal view of an explanation graph, read top-down: verdict, criteria, proofs.

Only lays out the graph's own labels and citations. Children follow the graph's edge order.
Criteria that do not decide the verdict are listed one line each unless the graph was built for
one criterion (--criterion); below --depth levels a "..." line stands for the deeper parts; a
node already expanded in the same criterion is not expanded again.
"""

from ..errors import visible

INDENT = "  "
ROOT_KINDS = ("trial", "query")   # query: an `eligo query` goal, its answers below it
MORE = "..."
REPEAT = " (as above)"


def render_tree(graph, depth=None):
    lines = [line for line in (graph.graph.get("what_if"),) if line]
    if graph.graph.get("overlays"):
        lines.append("with: " + ", ".join(graph.graph["overlays"]))
    focused = graph.graph.get("criterion") is not None
    for root in _roots(graph):
        _walk(graph, root, 0, depth, lines, set(), expand=True, focused=focused)
        lines.append("")
    return "\n".join(lines)


def _roots(graph):
    return [n for n, data in graph.nodes(data=True) if data.get("kind") in ROOT_KINDS]


def _children(graph, node):
    edges = sorted(graph.out_edges(node, data=True), key=lambda e: e[2]["order"])
    return [(child, data["role"]) for _n, child, data in edges]


def _line(data):
    cite = data.get("cite")
    return _one_line(f"{data['label']}  [{cite}]" if cite else data["label"])


def _one_line(text):
    """Record strings may hold newlines or other control characters: show them escaped."""
    return visible(text)


def _walk(graph, node, level, depth, lines, seen, expand, focused):
    data = graph.nodes[node]
    children = _children(graph, node) if expand else []
    repeated = node in seen and children
    lines.append(INDENT * level + _line(data) + (REPEAT if repeated else ""))
    if repeated or not children:
        return
    seen.add(node)
    if depth is not None and level >= depth:
        lines.append(INDENT * (level + 1) + MORE)
        return
    for child, role in children:
        if data.get("kind") in ROOT_KINDS:
            seen = set()    # each criterion (each answer) reads on its own
        expand_child = focused or role != "criterion"
        _walk(graph, child, level + 1, depth, lines, seen, expand_child, focused)
