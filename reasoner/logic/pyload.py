"""Eligo's parsed clauses -> pyDatalog's engine clauses, without pyDatalog parsing their text.

`pyDatalog.load(text)` compiles the program text and runs it as Python, building each clause
through pyParser's operator objects: ~0.3 s of a cold `eligo check`, the largest part. The rule
cache (rulebook.py) already holds every clause parsed (clauses.py), so this module builds the
same pyEngine clauses from those objects directly, exactly as pyParser would (constants through
Term_of, comparisons reflected as Python reflects them, f[X] == V as its `f[1]==` literal).
What it does not build by hand (aggregate heads, anything unusual) goes through pyDatalog.load,
in program order. tests/test_pyload.py holds every clause of the rules to pyParser's own result.
"""

import ast
import string

from pyDatalog import pyEngine, pyParser

from .clauses import Atom, Comparison, Const, FunctionValue, Var

_VARIABLE_START = set(string.ascii_uppercase + "_")
_REFLECTED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//"}
_FOLD = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "//": lambda a, b: a // b}


class _Unsupported(Exception):
    """A clause this module leaves to pyDatalog's own parser."""


class _Expr:
    """A comparison side: a Python constant (folded, as the compiler folds it) or a pyEngine term."""

    def __init__(self, constant=None, term=None, op=None):
        self.constant, self.term, self.op = constant, term, op   # op: the operation's operator, if one

    def engine_term(self):
        return self.term if self.term is not None else _const(self.constant)


def _const(value):
    """pyParser's Term(value, forced_type='constant'): the strings 'True'/'False' become booleans."""
    if isinstance(value, str):
        if value == "??":
            raise _Unsupported(value)
        value = True if value == "True" else False if value == "False" else value
    elif not isinstance(value, (int, float, bool)) and value is not None:
        raise _Unsupported(value)
    return pyEngine.Term_of(value)


class Builder:
    """Builds pyEngine clauses; one Var object per variable name, as pyDatalog.load shares one
    symbol per name across a program."""

    def __init__(self):
        self.vars = {}

    def var(self, name):
        if name[:1] not in _VARIABLE_START or "." in name:
            raise _Unsupported(name)
        found = self.vars.get(name)
        if found is None:
            found = self.vars[name] = pyEngine.Var(name)
        return found

    def term(self, arg):
        if isinstance(arg, Var):
            return self.var(arg.name)
        if isinstance(arg, Const):
            return _const(arg.value)
        raise _Unsupported(arg)

    def expr(self, node):
        if isinstance(node, ast.Constant):
            return _Expr(constant=node.value)
        if isinstance(node, ast.Name):
            if node.id in ("True", "False", "None"):
                return _Expr(constant={"True": True, "False": False, "None": None}[node.id])
            return _Expr(term=self.var(node.id))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.expr(node.operand)
            if inner.term is None:
                return _Expr(constant=-inner.constant)
            return _Expr(term=pyEngine.Operation(_const(0), "-", inner.term), op="-")   # pyParser: 0 - X
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            op = _ARITHMETIC[type(node.op)]
            left, right = self.expr(node.left), self.expr(node.right)
            if left.term is None and right.term is None:
                return _Expr(constant=_FOLD[op](left.constant, right.constant))
            return _Expr(term=pyEngine.Operation(left.engine_term(), op, right.engine_term()), op=op)
        if isinstance(node, (ast.Tuple, ast.List)):
            return _Expr(term=pyEngine.Term_of([self.expr(e).engine_term() for e in node.elts]))
        raise _Unsupported(ast.dump(node))

    def comparison(self, lit):
        left, right = self.expr(lit.left), self.expr(lit.right)
        if lit.op in ("in", "not in"):
            if left.term is None:
                raise _Unsupported(lit.text)
            op = "_pyD_in" if lit.op == "in" else "_pyD_not_in"
            return pyEngine.Literal(op, [left.term, right.engine_term()], 2)
        op, this, other = lit.op, left, right
        if left.term is None:
            if right.term is None:
                raise _Unsupported(lit.text)   # two constants: Python would compare them itself
            # constant OP expression: Python asks the expression for the reflected comparison
            op, this, other = _REFLECTED[lit.op], right, left
        if op == "==" and this.op in ("+", "-"):
            raise _Unsupported(lit.text)   # pyParser refuses some of these ("assert a fact?"): let it decide
        return pyEngine.Literal(op, [this.term, other.engine_term()], 2)

    def literal(self, lit):
        if isinstance(lit, Atom):
            terms = [self.term(a) for a in lit.args]
            return pyEngine.Literal(("~" if lit.negated else "") + lit.pred, terms, len(terms))
        if isinstance(lit, FunctionValue):
            terms = [_const("_pyD_class")] + [self.term(a) for a in lit.args] + [self.term(lit.value)]
            return pyEngine.Literal(f"{lit.func}[{len(lit.args)}]==", terms, len(lit.args) + 1)
        if isinstance(lit, Comparison):
            return self.comparison(lit)
        raise _Unsupported(lit)

    def clause(self, clause):
        """The pyEngine clause for an Eligo clause; _Unsupported when pyParser must build it."""
        head = clause.head
        if not isinstance(head, Atom) or head.negated or not clause.body:
            raise _Unsupported(clause.text)
        terms = [self.term(a) for a in head.args]
        body = [self.literal(lit) for lit in clause.body]
        return pyEngine.Clause(pyEngine.Literal(head.pred, terms, len(terms)), body)


def fact(pred, args):
    """The clause pyDatalog.assert_fact(pred, *args) asserts, built without its parser (~80 -> ~10 us)."""
    terms = [_const(a) for a in args]
    return pyEngine.Clause(pyEngine.Literal(pred, terms, len(terms)), [])


def _parse(texts):
    """pyDatalog.load without its look at the caller's globals (inspect.stack: ~6 ms a call)."""
    pyParser.load("\n".join(texts) + "\n")


def load(clauses):
    """Assert the clauses into this thread's pyDatalog program, in order; those left to pyDatalog's
    parser are loaded as text at their place. Returns how many went through the parser."""
    builder, texts, parsed = Builder(), [], 0
    for clause in clauses:
        try:
            built = builder.clause(clause)
        except _Unsupported:
            texts.append(clause.text)
            continue
        if texts:
            _parse(texts)
            parsed += len(texts)
            texts = []
        pyEngine.assert_(built)
    if texts:
        _parse(texts)
        parsed += len(texts)
    return parsed
