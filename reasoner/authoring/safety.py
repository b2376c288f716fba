"""Which variables each clause binds, read left to right as pyDatalog evaluates a body.

A positive literal binds its variables; `(f[X] == N)` binds X and N; `(X == expr)` binds X once
expr is bound; `(X in [...])` binds X. A negation or any other comparison needs its variables
bound already. A head variable a body only compares is an *input* of its predicate (e.g.
`lab_below_uln_times(P, T, K)` compares K): legal as long as every caller binds that argument.
Lint reports the rest as unsafe; coverage uses the inputs to know how to probe such a clause.
"""

import ast
from dataclasses import dataclass

from ..logic.clauses import Aggregate, Atom, Comparison, Const, FunctionValue, Var, names_in


@dataclass(frozen=True)
class Unbound:
    clause: object
    var: str
    literal: str       # the literal that needs it, as written
    why: str


def _vars(terms):
    return [t.name for t in terms if isinstance(t, Var)]


def head_vars(clause):
    head = clause.head
    terms = list(head.args) + ([head.target] if isinstance(head, Aggregate) and head.target else [])
    return _vars(terms) + (_vars(head.order_by) if isinstance(head, Aggregate) else [])


def literal_text(lit):
    return str(lit) if isinstance(lit, Atom) else lit.text


def scan(clause, inputs):
    """(needed, bound): variables used before being bound, as [(var, literal, why)], and the bound set.

    inputs: {pred: positions that must be bound when called} (see modes()).
    """
    bound, needed = set(), []

    def need(names, lit, why):
        for name in sorted(names):
            if name not in bound:
                needed.append((name, literal_text(lit), why))

    for lit in clause.body:
        if isinstance(lit, Atom) and not lit.negated:
            for pos in sorted(inputs.get(lit.pred, ())):
                if pos < len(lit.args) and isinstance(lit.args[pos], Var):
                    need({lit.args[pos].name}, lit, f"{lit.pred} needs argument {pos + 1} bound")
            bound |= set(_vars(lit.args))
        elif isinstance(lit, Atom):
            need(set(_vars(lit.args)), lit, "a negated literal needs its variables bound")
        elif isinstance(lit, FunctionValue):
            bound |= set(_vars(lit.args + (lit.value,)))
        elif isinstance(lit, Comparison):
            binds = _binding_target(lit, bound)
            need(lit.variables - ({binds} if binds else set()), lit, "a comparison needs its variables bound")
            if binds:
                bound.add(binds)
    return needed, bound


def _binding_target(lit, bound):
    """The variable a comparison binds: X in `X == expr` (expr bound) or in `X in [constants]`."""
    left = lit.left
    if not (isinstance(left, ast.Name) and left.id not in bound and left.id in lit.variables):
        return None
    if lit.op == "==" and not (names_in(lit.right) - bound):
        return left.id
    if lit.op == "in" and isinstance(lit.right, (ast.List, ast.Tuple)) and not names_in(lit.right):
        return left.id
    return None


def clause_inputs(clause, inputs):
    """Head argument positions the clause needs bound by its caller."""
    needed, _bound = scan(clause, inputs)
    names = {name for name, _lit, _why in needed}
    head = clause.head
    return {i for i, term in enumerate(head.args) if isinstance(term, Var) and term.name in names}


def modes(clauses):
    """{pred: input positions}, to a fixpoint (a clause may pass an input on to another predicate)."""
    inputs = {}
    changed = True
    while changed:
        changed = False
        for clause in clauses:
            positions = clause_inputs(clause, inputs)
            if not isinstance(clause.head, Aggregate) and not positions <= inputs.get(clause.head.pred, set()):
                inputs[clause.head.pred] = inputs.get(clause.head.pred, set()) | positions
                changed = True
    return inputs


def unsafe(clauses, roots=()):
    """Every Unbound in the clauses; predicates in roots are queried with free arguments."""
    inputs = modes(clauses)
    out = []
    for clause in clauses:
        needed, bound = scan(clause, inputs)
        head = set(head_vars(clause))
        takes_input = clause.head.pred not in roots and not isinstance(clause.head, Aggregate)
        for name, lit, why in needed:
            if not (takes_input and name in head):
                out.append(Unbound(clause, name, lit, why))
        for name in sorted(head - bound - {n for n, _l, _w in needed}):
            out.append(Unbound(clause, name, str(clause.head) if isinstance(clause.head, Atom) else clause.head.func,
                               "a head variable must be bound by a positive body literal"))
    return out


def constant_args(lit):
    return {i: a.value for i, a in enumerate(lit.args) if isinstance(a, Const)}
