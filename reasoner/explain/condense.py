"""The condensed proof: a transformation of the full derivation graph (reasoner/explain/graph.py)
into a smaller graph a clinician can check at a glance. Every renderer (text, JSON, DOT, GraphML,
HTML, Markdown) reads either graph the same way, so all show the same condensed proof.

What changes (docs/explanations.md, "Condensed and full"):
- an aggregate shows its witness: max_/min_ the first row that gives the value, len_ each item
  counted once; a rule that only reads an aggregate's value takes the aggregate's place;
- a recursive rule's chain (vertebral runs) becomes one line naming its members, over the record
  facts it rests on;
- comparisons read in the record's units, without the rules' scaling or variable names; a lab
  against a multiple of its ULN is one line ("total bilirubin 0.7 mg/dL < 3.0 x ULN (3.6 mg/dL)")
  over the lab result it read;
- a criterion's rule shows the side it derived and cites the clause that fired; its condition is
  shown by the lines below it;
- negations are stated in one line (what was looked for and not found), without the candidates
  examined; negations a predicate's own words state ("latest", "right before") are left out;
- a missing input is one line naming the criterion clauses that would read it.
Nodes keep their ids and attributes (a chain gets `chain:<top rule id>`); labels are the
phrasebook's. The graph attribute `condensed` is True.
"""

import re

import networkx as nx

from ..logic.rulebook import rulebook
from .graph import _phrasebook
from .phrasebook import NEGATION_IN_WORDS

_ITEM = re.compile(r"\[\d+\]")
_ITEM_INDEX = re.compile(r"\[(\d+)\]")
MAX_MISSING_LINES = 10     # more missing fields than this: one line per record section
MAX_SECTION_LINES = 8      # more record sections than this: one line naming the sections
MAX_WHY_NOT_LINES = 10     # candidates shown per rule in a condensed refutation (all: --why-not)
CONDENSED_ROLES = {"decided_by", "also_evaluated", "criterion", "proof", "to_decide", "needs", "body", "counted"}


def condense(graph):
    """The condensed copy of an explanation graph (the input is not changed)."""
    if graph.graph.get("condensed"):
        return graph
    out = nx.DiGraph(**graph.graph)
    out.graph["condensed"] = True
    _Condenser(graph, out, _phrasebook(rulebook())).run()
    return out


class _Condenser:
    def __init__(self, graph, out, words):
        self.graph = graph
        self.out = out
        self.words = words
        self.done = {}

    def run(self):
        for node, kind in self.graph.nodes(data="kind"):
            if kind in ("trial", "query"):
                self.visit(node)

    # -- helpers -----------------------------------------------------------------------------------
    def children(self, node, roles=None):
        edges = sorted(self.graph.out_edges(node, data=True), key=lambda e: e[2]["order"])
        return [(child, data) for _n, child, data in edges if roles is None or data["role"] in roles]

    def add(self, node, **changes):
        attrs = dict(self.graph.nodes[node]) if node in self.graph else {}
        attrs.update(changes)
        self.out.add_node(node, **attrs)
        return node

    def link(self, parent, child, role, **attrs):
        if child is not None and not self.out.has_edge(parent, child) and parent != child:
            self.out.add_edge(parent, child, role=role, order=self.out.out_degree(parent), **attrs)

    # -- per kind ----------------------------------------------------------------------------------
    def visit(self, node):
        """The condensed node standing for node (None: left out), built once."""
        if node in self.done:
            return self.done[node]
        self.done[node] = None       # a cycle cannot occur (the graph is a DAG); guard anyway
        kind = self.graph.nodes[node]["kind"]
        result = getattr(self, f"_{kind}", self._leaf)(node)
        self.done[node] = result
        return result

    def _passthrough(self, node, roles=CONDENSED_ROLES):
        self.add(node)
        for child, data in self.children(node, roles):
            self.link(node, self.visit(child), data["role"])
        return node

    def _trial(self, node):
        return self._passthrough(node)

    def _group(self, node):
        return self._passthrough(node)

    # -- eligo query: the answers' proofs, or why there is none -------------------------------------
    def _query(self, node):
        self.add(node)
        for child, data in self.children(node, {"answer", "why_not"}):
            target = self._why_not(child) if data["role"] == "why_not" else self.visit(child)
            self.link(node, target, data["role"])
        return node

    def _answer(self, node):
        return self._passthrough(node, {"proof"})

    def _why_not(self, node):
        """A refutation a rule author asked for, one line per rule that could derive the goal and
        one per candidate it tried (its first failing condition and why); a rule that found no
        candidate shows the first cause down its chain of refutations. The full tree: --why-not."""
        self.add(node)
        for rule, _data in self.children(node, {"refuted_by"}):
            if self.graph.nodes[rule]["kind"] != "rule_ref":   # another value's proof (other_value)
                self.link(node, self.visit(rule), "refuted_by")
                continue
            self.add(rule)
            self.link(node, rule, "refuted_by")
            lines = self.children(rule, {"attempt", "fails"})
            for child, data in lines[:MAX_WHY_NOT_LINES]:
                if data["role"] == "attempt":
                    self.link(rule, self._attempt(child), "attempt")
                else:
                    self.link(rule, self.add(self._first_cause(child)), "fails")
            if len(lines) > MAX_WHY_NOT_LINES:
                more = f"{rule}#more"
                self.add(more, kind="note", cite=None,
                         label=self.words.more_candidates(len(lines) - MAX_WHY_NOT_LINES))
                self.link(rule, more, "attempt")
        return node

    def _attempt(self, node):
        """One candidate and why it fell short, the reason in the record's units."""
        reasons = [c for c, _d in self.children(node, {"fails"})]
        data = self.graph.nodes[node]
        if not reasons or "candidate" not in data:
            return self.add(node)
        reason = self.graph.nodes[reasons[0]]
        return self.add(node, label=self.words.attempt(data["candidate"], reason.get("shown") or reason["label"]))

    def _first_cause(self, node):
        """Down a chain of refutations each with one rule and no candidate, the node that says why."""
        while self.graph.nodes[node]["kind"] == "negation":
            rules = self.children(node, {"refuted_by"})
            if len(rules) != 1:
                break
            below = self.children(rules[0][0], {"attempt", "fails"})
            if len(below) != 1 or below[0][1]["role"] != "fails":
                break
            node = below[0][0]
        return node

    def _criterion(self, node):
        self.add(node)
        groups = {}
        for child, data in self.children(node, CONDENSED_ROLES):
            if self.graph.nodes[child]["kind"] == "missing":
                groups.setdefault(_ITEM.sub("[]", self.graph.nodes[child]["path"]), []).append(child)
            else:
                self.link(node, self.visit(child), data["role"])
        if len(groups) > MAX_MISSING_LINES:
            # many inputs (a criterion that reads other criteria): one line per record section
            sections = {}
            for generic, members in groups.items():
                sections.setdefault(re.split(r"[.\[]", generic, maxsplit=1)[0], []).extend(members)
            if len(sections) > MAX_SECTION_LINES:   # a criterion that reads a whole stage: name the sections
                members = [m for group in sections.values() for m in group]
                self.link(node, self._missing_group(node, "sections", members, by_section=True, names=list(sections)), "needs")
                return node
            for section, members in sections.items():
                self.link(node, self._missing_group(node, section, members, by_section=True), "needs")
            return node
        for generic, members in groups.items():
            self.link(node, self._missing(members[0]) if len(members) == 1 else self._missing_group(node, generic, members), "needs")
        return node

    def _missing_group(self, criterion, generic, members, by_section=False, names=None):
        """The same field missing from several list items: one line naming the items (by_section:
        every missing field of one record section, one line)."""
        paths = [self.graph.nodes[m]["path"] for m in members]
        absent = all(self.graph.nodes[m]["absent"] for m in members)
        cites = []
        for member in members:
            for child, _data in self.children(member, {"would_use"}):
                cite = self.graph.nodes[child].get("cite")
                if cite and cite not in cites:
                    cites.append(cite)
        first = self.graph.nodes[members[0]]
        if names:
            label = self.words.missing_read_by(f"inputs in {len(names)} record sections ({', '.join(names)})", absent, _shorten(cites))
        elif by_section:
            fields = list(dict.fromkeys(_ITEM.sub("[]", p) for p in paths))
            label = self.words.missing_read_by(", ".join(fields), absent, _shorten(cites))
        else:
            items = ", ".join(_ITEM_INDEX.findall(p)[0] if _ITEM_INDEX.findall(p) else p for p in paths)
            label = self.words.missing_read_by(f"{generic} of items {items}", absent, _shorten(cites))
        nid = f"missing:{first['cite']}:{criterion}:{generic}"
        self.add(nid, kind="missing", label=label, cite=first["cite"], path=generic, paths=paths, absent=absent)
        return nid

    def _leaf(self, node):
        return self.add(node)

    def _fact(self, node):
        return self.add(node)

    def _comparison(self, node):
        data = self.graph.nodes[node]
        return self.add(node, label=data.get("shown") or data["label"])

    def _negation(self, node):
        return self.add(node)

    def _absent(self, node):
        return self.add(node)

    def _missing(self, node):
        data = self.graph.nodes[node]
        cites = []
        for child, _data in self.children(node, {"would_use"}):
            cite = self.graph.nodes[child].get("cite")
            if cite and cite not in cites:
                cites.append(cite)
        return self.add(node, label=self.words.missing_read_by(data["path"], data["absent"], _shorten(cites)))

    def _rule(self, node):
        data = self.graph.nodes[node]
        if self.recursive(node):
            return self._chain(node)
        if data.get("summary"):
            # a lab against a multiple of its ULN: one line over the lab result read
            self.add(node, label=data["summary"])
            for fact in self.record_facts(node, {"lab"}):
                self.link(node, fact, "body")
            return node
        if data["pred"].startswith("crit_"):
            self.add(node, label=self.words.decided(data["pred"], tuple(data["args"])))
            for child, edge in self.children(node, {"body"}):
                self.link(node, self.visit(child), edge["role"])
            return node
        # a derived literal of the fired clause: its own comparisons, negations and facts, and one
        # summary line for each rule or aggregate below it
        self.add(node)
        body = self.children(node, {"body"})
        if len(body) == 1 and self.graph.nodes[body[0][0]]["kind"] == "aggregate":
            # `n(P, N) <= (count[P] == N)`: the rule says what the aggregate counted
            self._witness_rows(body[0][0], node)
            return node
        last = None
        for child, edge in body:
            kind = self.graph.nodes[child]["kind"]
            if kind == "negation" and data["pred"] in NEGATION_IN_WORDS:
                continue
            if kind == "comparison" and last is not None and self.checks(last, child):
                # `latest_lab(P, 'albumin', I, V, D) & (V > 2500)`: the check joins the line it tests
                self.out.remove_edge(node, last)
                last = self.joined(last, child)
                self.link(node, last, "body")
                continue
            target = self.summary(child) if kind in ("rule", "aggregate") else self.visit(child)
            self.link(node, target, edge["role"])
            last = target if kind in ("rule", "aggregate") else None
        return node

    def checks(self, line, comparison):
        """Whether a comparison tests a value the summary line just before it derived."""
        data = self.graph.nodes[comparison]
        if data.get("op") == "==":
            return False
        values = self.out.nodes[line].get("args") or []
        return data.get("left") in values[1:] and not isinstance(data.get("left"), bool)

    def joined(self, line, comparison):
        attrs = dict(self.out.nodes[line])
        attrs["label"] = f"{attrs['label']}: {self.graph.nodes[comparison]['shown']}"
        nid = f"{line}&{comparison}"
        self.out.add_node(nid, **attrs)
        return nid

    def recursive(self, node):
        pred = self.graph.nodes[node].get("pred")
        return any(self.graph.nodes[c].get("kind") == "rule" and self.graph.nodes[c].get("pred") == pred
                   for c, _d in self.children(node, {"body"}))

    def summary(self, node):
        """A rule or aggregate two levels below a criterion's clause, as one line: its words, its
        own comparisons in the record's units, its rule line and the record fields it rests on."""
        key = ("summary", node)
        if key in self.done:
            return self.done[key]
        data = self.graph.nodes[node]
        if data["kind"] == "rule" and (self.recursive(node) or data.get("summary")):
            label = self.chain_label(node) if self.recursive(node) else data["summary"]
        elif data["kind"] == "aggregate":
            label = data.get("shown") or data["label"]
        else:
            label = self.words.decided(data["pred"], tuple(data["args"])) if data["pred"].startswith("crit_") else data["label"]
            body = self.children(node, {"body"})
            if len(body) == 1 and self.graph.nodes[body[0][0]]["kind"] == "aggregate":
                label = self.graph.nodes[body[0][0]].get("shown") or label
            checks = [self.graph.nodes[c].get("shown") for c, _d in body
                      if self.graph.nodes[c]["kind"] == "comparison" and self.graph.nodes[c].get("op") != "=="]
            checks = [c for c in checks if c]
            if checks:
                label += ": " + ", ".join(checks)
        if data["kind"] == "rule" and self.recursive(node):
            levels = self.chain_levels(node)
            facts = []
            for level in reversed(levels):
                facts += [f for f in self.record_facts(level, None, stop=set(levels), add=False) if f not in facts]
        else:
            facts = self.record_facts(node, None, add=False)
        sources = [self.graph.nodes[f]["cite"] for f in facts]
        sid = f"{node}~"
        attrs = dict(data)
        attrs.update(label=label, cite=_join_cites(data.get("cite"), sources), sources=sources, summary_of=node)
        self.out.add_node(sid, **attrs)
        self.done[key] = sid
        return sid

    def _aggregate(self, node):
        data = self.graph.nodes[node]
        self.add(node, label=data.get("shown") or data["label"])
        self._witness_rows(node, node)
        return node

    def _witness_rows(self, agg, parent):
        """Link under parent what the aggregate agg counted: len_ every item once, max_/min_ the
        first row giving its value (the graph orders that row first)."""
        data = self.graph.nodes[agg]
        rows = self.children(agg, {"counted"})
        if data.get("agg") in ("max_", "min_") and rows:
            keep = rows[0][1].get("row")
            rows = [(c, d) for c, d in rows if d.get("row") == keep]
        for child, _edge in rows:
            kind = self.graph.nodes[child]["kind"]
            self.link(parent, self.summary(child) if kind in ("rule", "aggregate") else self.visit(child), "counted")

    def chain_levels(self, node):
        pred = self.graph.nodes[node]["pred"]
        levels, current = [], node
        while current is not None:
            levels.append(current)
            below = [c for c, _d in self.children(current, {"body"})
                     if self.graph.nodes[c].get("kind") == "rule" and self.graph.nodes[c].get("pred") == pred]
            current = below[0] if below else None
        return levels

    def chain_label(self, node):
        levels = self.chain_levels(node)
        return self.words.chain(self.graph.nodes[node]["pred"], [tuple(self.graph.nodes[n]["args"]) for n in levels])

    def _chain(self, node):
        """A recursive rule's derivations, top down, as one node over the record facts below."""
        pred = self.graph.nodes[node]["pred"]
        levels = self.chain_levels(node)
        top = self.graph.nodes[node]
        chain_id = f"chain:{node}"
        self.add(chain_id, kind="rule", label=self.chain_label(node),
                 cite=top["cite"], pred=pred, args=top["args"], where=top["where"], clause=top["clause"],
                 chain=list(levels))
        facts = []
        for level in reversed(levels):
            for fact in self.record_facts(level, None, stop=set(levels)):
                if fact not in facts:
                    facts.append(fact)
        for fact in facts:
            self.link(chain_id, fact, "body")
        return chain_id

    def record_facts(self, node, preds=None, stop=(), add=True):
        """The patient's own facts (not reference tables) that node's proof rests on, in order, each
        added to the condensed graph; preds limits them; nodes in stop are not entered."""
        out, seen, queue = [], set(), [node]
        while queue:
            current = queue.pop(0)
            for child, _data in self.children(current, {"body", "counted"}):
                if child in seen or (child in stop and child != node):
                    continue
                seen.add(child)
                data = self.graph.nodes[child]
                if data["kind"] == "fact":
                    if not data.get("reference") and (preds is None or data["pred"] in preds):
                        out.append(self.add(child) if add else child)
                elif data["kind"] in ("rule", "aggregate"):
                    queue.append(child)
        return out


def _shorten(cites):
    """["rules/trials/x.yaml:12", "rules/trials/x.yaml:14"] -> ["rules/trials/x.yaml:12, 14"]."""
    out, last_file = [], None
    for cite in cites:
        file, _, line = cite.rpartition(":")
        if file == last_file and out:
            out[-1] += f", {line}"
        else:
            out.append(cite)
            last_file = file
    return out


def _join_cites(where, sources):
    """A summary line's citation: its rule line, then the record fields it rests on, the file
    named once: "rules/x.yaml:100; facts/p.yaml: labs[0], dates.registration"."""
    parts = [where] if where else []
    by_file = {}
    for cite in sources:
        file, sep, path = cite.partition(": ")
        by_file.setdefault(file if sep else "", []).append(path if sep else cite)
    for file, paths in by_file.items():
        parts.append(f"{file}: {', '.join(paths)}" if file else ", ".join(paths))
    return "; ".join(parts) or None
