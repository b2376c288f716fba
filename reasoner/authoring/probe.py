"""Did a clause fire for the patient whose facts are asserted? Ask its body through the engine.

A clause fired when its body is satisfiable with the patient's facts. A clause whose head takes an
input (see safety.py) cannot be asked on its own; it is asked as its callers use it: the caller's
body up to the call, then this body with the caller's arguments in place of the head's.
Queries are rule text only (bodies as written in the rule files): record values never enter them.
"""

import ast

from ..logic.clauses import Aggregate, Atom, Const, Var, is_variable
from .safety import clause_inputs, modes


def conjuncts(clause):
    """The body of the clause as AST nodes, in written order."""
    tree = ast.parse(clause.text.strip(), mode="eval").body
    node, out = tree.comparators[0], []

    def walk(n):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitAnd):
            walk(n.left)
            walk(n.right)
        else:
            out.append(n)

    walk(node)
    return tree.left, out


def join(nodes):
    expr = nodes[0]
    for node in nodes[1:]:
        expr = ast.BinOp(expr, ast.BitAnd(), node)
    return ast.unparse(expr)


def body_text(clause):
    return join(conjuncts(clause)[1])


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping, suffix):
        self.mapping, self.suffix = mapping, suffix

    def visit_Name(self, node):
        if node.id in self.mapping:
            return ast.copy_location(self.mapping[node.id], node)
        if is_variable(node.id) and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Name(node.id + self.suffix, ast.Load()), node)
        return node

    def visit_Call(self, node):
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        return node

    def visit_Subscript(self, node):
        node.slice = self.visit(node.slice)
        return node


class Prober:
    """Builds, once per rule set, the queries that tell whether each clause fired."""

    def __init__(self, book):
        self.book = book
        self.clauses = book.clauses
        self.inputs = modes(self.clauses)
        self._queries = {}

    def queries(self, clause):
        key = (clause.file, clause.line, clause.text)
        if key not in self._queries:
            self._queries[key] = self._build(clause)
        return self._queries[key]

    def _build(self, clause):
        if isinstance(clause.head, Aggregate) or not clause_inputs(clause, self.inputs):
            return [body_text(clause)]
        out = []
        for caller in self.clauses:
            head_node, nodes = conjuncts(caller)
            for index, lit in enumerate(caller.body):
                if isinstance(lit, Atom) and not lit.negated and lit.pred == clause.head.pred and lit.arity == clause.head.arity:
                    query = self._through(clause, lit, nodes[:index], len(out))
                    if query:
                        out.append(query)
        return out

    def _through(self, clause, call, prefix, n):
        mapping, checks = {}, []
        for term, arg in zip(clause.head.args, call.args):
            arg_node = ast.Name(arg.name, ast.Load()) if isinstance(arg, Var) else ast.Constant(arg.value)
            if isinstance(term, Var):
                if term.name in mapping:
                    checks.append(ast.Compare(mapping[term.name], [ast.Eq()], [arg_node]))
                else:
                    mapping[term.name] = arg_node
            elif isinstance(arg, Const):
                if arg.value != term.value:
                    return None
            else:
                checks.append(ast.Compare(arg_node, [ast.Eq()], [ast.Constant(term.value)]))
        body = [_Rename(mapping, f"_Q{n}").visit(node) for node in conjuncts(clause)[1]]
        return join(list(prefix) + body + checks)

    def fired(self, eng, clause):
        """True / False for the asserted patient; None when no query can tell (an engine error)."""
        answers, errors = False, 0
        queries = self.queries(clause)
        for query in queries:
            try:
                if eng.ask(query):
                    return True
            except Exception:  # noqa: BLE001 - pyDatalog raises plain Exceptions for unanswerable queries
                errors += 1
        return None if errors == len(queries) or not queries else answers


def reachable(book, clauses):
    """The given clauses plus every clause of the rule set they can reach through their bodies."""
    defs = book.definitions()
    seen, out, stack = set(), [], list(clauses)
    while stack:
        clause = stack.pop(0)
        key = (clause.file, clause.line, clause.text)
        if key in seen:
            continue
        seen.add(key)
        out.append(clause)
        for lit in clause.body:
            if hasattr(lit, "pred"):
                stack.extend(d for d in defs.get(lit.pred, []) if _may_match(lit, d))
    return out


def _may_match(lit, clause):
    """Whether a literal can call the clause: no constant of the call differs from the head's at the
    same place (crit_lacks(P, 'oligami', C) reaches OLIGAMI's criterion rules, not COSMO's)."""
    args, head = getattr(lit, "args", ()), getattr(clause.head, "args", ())
    return len(args) != len(head) or not any(isinstance(a, Const) and isinstance(h, Const) and a.value != h.value
                                             for a, h in zip(args, head))


def trial_clauses(book, trial):
    """The trial's own clauses (criterion rules, then helpers) and, after them, the lib clauses they use."""
    own = [c for crit in trial.criteria for c in crit.clauses] + list(trial.clauses)
    keys = {(c.file, c.line, c.text) for c in own}
    return own, [c for c in reachable(book, own) if (c.file, c.line, c.text) not in keys]
