"""pyDatalog clause text -> a small structure (head, body literals, file:line).

Rules are parsed here with Python's own `ast` (pyDatalog clauses are Python expressions) rather
than read back from pyDatalog's private internals, so explanations, lint, coverage and the
missing-input report all see the same clauses, each with the line it was written on.
"""

import ast
import operator
from dataclasses import dataclass

from ..errors import RuleError

AGGREGATES = ("len_", "sum_", "min_", "max_", "mean_", "concat_", "rank_", "running_sum_", "tuple_")
COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in"}
COMPARE_FUNC = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
                ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}
ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


@dataclass(frozen=True)
class Var:
    name: str

    def __str__(self):
        return self.name


@dataclass(frozen=True)
class Const:
    value: object

    def __str__(self):
        return repr(self.value)


@dataclass(frozen=True)
class Atom:
    """pred(args) or, negated, ~pred(args)."""
    pred: str
    args: tuple
    negated: bool = False

    @property
    def arity(self):
        return len(self.args)

    def __str__(self):
        return ("~" if self.negated else "") + f"{self.pred}({', '.join(map(str, self.args))})"


@dataclass(frozen=True)
class Comparison:
    """left OP right over variables, constants and + - * //; `text` is as written."""
    op: str
    left: ast.AST
    right: ast.AST
    text: str

    @property
    def variables(self):
        return names_in(self.left) | names_in(self.right)


@dataclass(frozen=True)
class FunctionValue:
    """(f[args] == X): the value of a function (aggregate result) f for args."""
    func: str
    args: tuple
    value: object       # Var or Const
    text: str

    @property
    def pred(self):
        return self.func

    @property
    def arity(self):
        return len(self.args) + 1


@dataclass(frozen=True)
class Aggregate:
    """Head of an aggregate clause: (f[args] == agg_(Var, order_by=...))."""
    func: str
    args: tuple
    agg: str
    target: Var
    order_by: tuple

    @property
    def pred(self):
        return self.func

    @property
    def arity(self):
        return len(self.args) + 1


@dataclass(frozen=True)
class Clause:
    head: object         # Atom or Aggregate
    body: tuple          # Atom | Comparison | FunctionValue, in written order
    text: str            # the clause exactly as loaded into pyDatalog
    file: str            # path relative to the data root, e.g. rules/lib/lesions.dl
    line: int
    criterion: tuple = None   # (trial, criterion id, "holds" | "lacks") for criterion clauses

    @property
    def where(self):
        return f"{self.file}:{self.line}"


def names_in(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and is_variable(n.id)}


def is_variable(name):
    return name[:1].isupper() or name[:1] == "_"


def evaluate(node, bindings):
    """Value of a comparison side under bindings (variables, constants, + - * //)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return bindings[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -evaluate(node.operand, bindings)
    if isinstance(node, ast.BinOp) and type(node.op) in ARITH:
        return ARITH[type(node.op)](evaluate(node.left, bindings), evaluate(node.right, bindings))
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(evaluate(e, bindings) for e in node.elts)
    raise ValueError(f"unsupported expression {ast.unparse(node)}")


def _term(node, where):
    if isinstance(node, ast.Name):
        if is_variable(node.id):
            return Var(node.id)
        if node.id in ("True", "False"):
            return Const(node.id == "True")
        raise RuleError(f"{where}: {node.id!r} is not a variable (variables start with a capital) nor a constant")
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool)):
        return Const(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return Const(-node.operand.value)
    raise RuleError(f"{where}: expected a variable or a constant as argument, got {ast.unparse(node)}")


def _atom(node, where, negated=False):
    if not isinstance(node.func, ast.Name):
        raise RuleError(f"{where}: expected a predicate name, got {ast.unparse(node.func)}")
    return Atom(node.func.id, tuple(_term(a, where) for a in node.args), negated)


def _function(node, where):
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
        return None
    index = node.slice
    args = index.elts if isinstance(index, ast.Tuple) else [index]
    return node.value.id, tuple(_term(a, where) for a in args)


def _literal(node, where):
    if isinstance(node, ast.Call):
        return _atom(node, where)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert) and isinstance(node.operand, ast.Call):
        return _atom(node.operand, where, negated=True)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        op = COMPARE.get(type(node.ops[0]))
        if op is None:
            raise RuleError(f"{where}: unsupported comparison in {ast.unparse(node)}")
        function = _function(node.left, where)
        if function and op == "==":
            return FunctionValue(function[0], function[1], _term(node.comparators[0], where), ast.unparse(node))
        if function:
            raise RuleError(f"{where}: compare a function's value only after binding it: (f[X] == N) & (N {op} ...)")
        return Comparison(op, node.left, node.comparators[0], ast.unparse(node))
    raise RuleError(f"{where}: expected a literal (pred(...), ~pred(...) or a comparison), got {ast.unparse(node)}")


def _conjuncts(node):
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _head(node, where):
    if isinstance(node, ast.Call):
        return _atom(node, where)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
        function = _function(node.left, where)
        agg = node.comparators[0]
        if function and isinstance(agg, ast.Call) and isinstance(agg.func, ast.Name) and agg.func.id in AGGREGATES:
            target = _term(agg.args[0], where) if agg.args else None
            order = ()
            for kw in agg.keywords:
                if kw.arg == "order_by":
                    items = kw.value.elts if isinstance(kw.value, ast.Tuple) else [kw.value]
                    order = tuple(_term(i, where) for i in items)
            return Aggregate(function[0], function[1], agg.func.id, target, order)
    raise RuleError(f"{where}: expected a head pred(...) or (f[...] == aggregate_(...)), got {ast.unparse(node)}")


def parse_clause(node, text, file, line, criterion=None):
    """One `head <= body` expression node -> Clause."""
    where = f"{file}:{line}"
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.LtE)):
        raise RuleError(f"{where}: expected a clause `head <= body`, got {text.strip()[:80]}")
    head = _head(node.left, where)
    body = tuple(_literal(n, where) for n in _conjuncts(node.comparators[0]))
    return Clause(head, body, text, file, line, criterion)


def parse_program(source, file, first_line=1):
    """Every clause of a .dl text (or a YAML `rules:` block starting at first_line)."""
    try:
        tree = ast.parse(source, file)
    except SyntaxError as err:
        raise RuleError(f"{file}:{(err.lineno or 1) + first_line - 1}: syntax error: {err.msg}") from None
    clauses = []
    for stmt in tree.body:
        line = stmt.lineno + first_line - 1
        if not isinstance(stmt, ast.Expr):
            raise RuleError(f"{file}:{line}: expected a clause `head <= body`, got a Python statement")
        text = ast.get_source_segment(source, stmt)
        if "\n" in text:
            text = "(" + text + ")"
        clauses.append(parse_clause(stmt.value, text, file, line))
    return clauses


def parse_body(body, head_text, file, line, criterion):
    """A criterion's condition body (YAML string) -> Clause with the generated head."""
    text = f"{head_text} <= (\n{body.strip()}\n)" if "\n" in body.strip() else f"{head_text} <= {body.strip()}"
    try:
        tree = ast.parse(text, file, mode="eval")
    except SyntaxError as err:
        raise RuleError(f"{file}:{line}: syntax error in {criterion[0]}/{criterion[1]} {criterion[2]}: {err.msg}") from None
    return parse_clause(tree.body, text, file, line, criterion)


def parse_atom(text, where):
    """One positive literal `pred(args)` given as text (an `eligo query` GOAL) -> Atom.

    Parsed, never evaluated: only a predicate name and variables or constants pass; attributes,
    calls in arguments, keywords, operators, several literals or a clause (`<=`) are refused."""
    try:
        tree = ast.parse(text, where, mode="eval")
    except SyntaxError as err:
        raise RuleError(f"{where}: syntax error: {err.msg}; expected one literal pred(X, 'value', 3)") from None
    node = tree.body
    if not isinstance(node, ast.Call) or node.keywords:
        raise RuleError(f"{where}: expected one literal pred(X, 'value', 3), got {ast.unparse(node)[:80]}")
    return _atom(node, where)


def bound_value(term, subst):
    """A term's value under subst: a constant's own, a bound variable's, else None (any)."""
    if isinstance(term, Const):
        return term.value
    if isinstance(term, Var):
        return subst.get(term.name)
    return None


def match_pattern(head_args, pattern, subst):
    """Whether head_args fit pattern (None = any), binding head variables into subst."""
    for term, value in zip(head_args, pattern):
        if value is None or term is None:
            continue
        if isinstance(term, Const):
            if term.value != value:
                return False
        elif isinstance(term, Var) and subst.setdefault(term.name, value) != value:
            return False
    return True
