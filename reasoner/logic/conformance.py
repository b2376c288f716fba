"""Standard Datalog (the `datalog-conformance` suite's syntax) into Eligo's clauses, evaluated by fastlog.

The suite (PyPI `datalog-conformance`, MIT) holds Eligo's screening evaluator to cases harvested
from Soufflé, Nemo and Crepe, not only to pyDatalog on Eligo's own rules. Its rules read
`head(X, "c", 1) :- a(X, Y), not b(Y), (Y < 3), X != Y.`: identifiers are variables, quoted text and
numbers are constants, `_` is a fresh variable at each use, arithmetic may stand in an argument.

Eligo's rules are read left to right (a literal sees only what the literals before it bound), while
standard Datalog does not depend on the order of a body. The translation therefore places each
comparison and negation after the atoms that bind its variables (written order otherwise), gives
every arithmetic argument a variable of its own with an equality after it, and refuses what
standard Datalog refuses before evaluating: an arity clash, a head variable no positive literal
binds, `_` in a head, negation through recursion. A variable that occurs only under a negation
means "none exists" (Eligo's reading, pyDatalog's and Soufflé's), not an error.

    pytest --pyargs datalog_conformance --datalog-evaluator=reasoner.logic.conformance.FastEvaluator
"""

import ast
import re
from types import SimpleNamespace

from ..errors import RuleError
from .clauses import Atom, Clause, Comparison, Const, Var, names_in
from .fastlog import EMPTY, Program, canon
from .rulebook import _negation_cycles

_TOKEN = re.compile(r"""\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"""
                    r"""|(?P<op>:-|<=|>=|!=|==|[(),.!<>=+\-*/%]))""")
_COMPARE = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.FloorDiv}


class ConformanceError(Exception):
    """A program standard Datalog refuses; `code` is the suite's name for the reason."""

    code = "invalid_program"

    def __init__(self, message):
        super().__init__(message)


class ArityMismatch(ConformanceError):
    code = "arity_mismatch"


class UnboundVariable(ConformanceError):
    code = "unbound_variable"


class SafetyViolationError(ConformanceError):
    code = "safety_violations"


class CyclicNegation(ConformanceError):
    code = "cyclic_negation"


class SyntaxProblem(ConformanceError):
    code = "syntax_error"


def variable(name):
    """An identifier of the suite as an Eligo variable (Eligo's start with a capital)."""
    return f"V_{name}"


class _Parser:
    """One rule's tokens -> (head Atom, body literals, extra equalities) in Eligo's classes."""

    def __init__(self, text, fresh):
        self.text, self.fresh = text, fresh
        self.tokens, position = [], 0
        text = text.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                raise SyntaxProblem(f"{self.text!r}: cannot read {text[position:position + 20]!r}")
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.at = 0

    def peek(self, offset=0):
        i = self.at + offset
        return self.tokens[i] if i < len(self.tokens) else (None, None)

    def take(self, value=None):
        token = self.peek()
        if token[0] is None or (value is not None and token[1] != value):
            raise SyntaxProblem(f"{self.text!r}: expected {value or 'more'}, got {token[1]!r}")
        self.at += 1
        return token

    def rule(self):
        head, head_extra = self.atom(head=True)
        body = []
        if self.peek()[1] == ":-":
            self.take(":-")
            body.append(self.literal())
            while self.peek()[1] == ",":
                self.take(",")
                body.append(self.literal())
        if self.peek()[1] == ".":
            self.take(".")
        if self.peek()[0] is not None:
            raise SyntaxProblem(f"{self.text!r}: unexpected {self.peek()[1]!r}")
        flat = []
        for lit, extra in body:
            flat += [lit] + extra
        return head, flat + head_extra

    def literal(self):
        kind, value = self.peek()
        if value in ("!", "not") and self.peek(1)[0] == "name":
            self.take()
            atom, extra = self.atom()
            if extra:
                raise SyntaxProblem(f"{self.text!r}: arithmetic inside a negated atom")
            return Atom(atom.pred, atom.args, negated=True), []
        if kind == "name" and self.peek(1)[1] == "(":
            return self.atom()
        if value == "(" and self._parenthesised_comparison():
            self.take("(")
            comparison = self.comparison()
            self.take(")")
            return comparison, []
        return self.comparison(), []

    def _parenthesised_comparison(self):
        depth, i = 0, self.at
        while i < len(self.tokens):
            value = self.tokens[i][1]
            depth += value == "("
            depth -= value == ")"
            if depth == 1 and value in _COMPARE:
                return True
            if depth == 0:
                return False
            i += 1
        return False

    def comparison(self):
        start = self.at
        left = self.expr()
        op = self.take()[1]
        if op not in _COMPARE:
            raise SyntaxProblem(f"{self.text!r}: expected a comparison, got {op!r}")
        right = self.expr()
        text = " ".join(v for _k, v in self.tokens[start:self.at])
        return Comparison(_COMPARE[op], left, right, text)

    def atom(self, head=False):
        pred = self.take()[1]
        self.take("(")
        args, extra = [], []
        while self.peek()[1] != ")":
            node = self.expr(head=head)
            if isinstance(node, ast.Name):
                args.append(Var(node.id))
            elif isinstance(node, ast.Constant):
                args.append(Const(node.value))
            else:   # arithmetic in an argument: a variable of its own, equal to it
                name = self.fresh("_E")
                args.append(Var(name))
                extra.append(Comparison("==", ast.Name(name), node, f"{name} == {ast.unparse(node)}"))
            if self.peek()[1] == ",":
                self.take(",")
        self.take(")")
        return Atom(pred, tuple(args)), extra

    def expr(self, head=False):
        node = self.product(head)
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ast.BinOp(node, _ARITH[op](), self.product(head))
        return node

    def product(self, head):
        node = self.unary(head)
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = ast.BinOp(node, _ARITH[op](), self.unary(head))
        return node

    def unary(self, head):
        kind, value = self.take()
        if value == "-":
            operand = self.unary(head)
            if isinstance(operand, ast.Constant):
                return ast.Constant(-operand.value)
            return ast.UnaryOp(ast.USub(), operand)
        if value == "(":
            node = self.expr(head)
            self.take(")")
            return node
        if kind == "num":
            return ast.Constant(float(value) if "." in value else int(value))
        if kind == "str":
            return ast.Constant(ast.literal_eval(value))
        if kind == "name":
            if value == "_":
                if head:
                    raise SafetyViolationError(f"{self.text!r}: `_` in a rule head binds nothing")
                return ast.Name(self.fresh("_A"))
            return ast.Name(variable(value))
        raise SyntaxProblem(f"{self.text!r}: unexpected {value!r}")


def _variables(lit):
    if isinstance(lit, Atom):
        return {a.name for a in lit.args if isinstance(a, Var)}
    return names_in(lit.left) | names_in(lit.right)


def order_body(body):
    """Literals in an order Eligo's left-to-right reading gives standard Datalog's answers: each
    comparison once its variables are bound (an equality may bind one side), each negation once
    the variables it shares with positive atoms are bound; otherwise as written."""
    positive = set().union(*[_variables(lit) for lit in body if isinstance(lit, Atom) and not lit.negated] or [set()])
    placed, bound, rest = [], set(), list(body)

    def ready(lit):
        if isinstance(lit, Atom):
            return not lit.negated or (_variables(lit) & positive) <= bound
        free = lit.variables - bound
        if not free:
            return True
        if lit.op == "==":
            for target, other in ((lit.left, lit.right), (lit.right, lit.left)):
                if isinstance(target, ast.Name) and free == {target.id} and not (names_in(other) - bound):
                    return True
        return False

    while rest:
        lit = next((x for x in rest if ready(x)), rest[0])
        rest.remove(lit)
        placed.append(lit)
        if isinstance(lit, Atom) and not lit.negated:
            bound |= _variables(lit)
        elif isinstance(lit, Comparison):
            bound |= lit.variables
    return tuple(placed)


def translate(rules, facts=None):
    """The suite's rule texts -> Eligo Clauses, checked as standard Datalog checks a program."""
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    clauses, arity = [], {}
    for pred, rows in (facts or {}).items():
        for row in rows:
            if arity.setdefault(pred, len(row)) != len(row):
                raise ArityMismatch(f"{pred}: facts of {arity[pred]} and {len(row)} arguments")
    for number, text in enumerate(rules, 1):
        head, body = _Parser(text, fresh).rule()
        body = order_body(body)
        for atom in [head] + [lit for lit in body if isinstance(lit, Atom)]:
            if arity.setdefault(atom.pred, len(atom.args)) != len(atom.args):
                raise ArityMismatch(f"{text!r}: {atom.pred} has {arity[atom.pred]} arguments elsewhere, {len(atom.args)} here")
        bound = set()
        for lit in body:
            if isinstance(lit, Atom) and not lit.negated:
                bound |= _variables(lit)
            elif isinstance(lit, Comparison):
                free = lit.variables - bound
                targets = [side.id for side in (lit.left, lit.right) if isinstance(side, ast.Name) and side.id in free]
                if lit.op == "==" and len(free) == 1 and targets:
                    bound |= free
                elif free:
                    name = sorted(free)[0].removeprefix("V_")
                    raise UnboundVariable(f"{text!r}: {name} is compared before any positive literal binds it")
        unbound = [a.name for a in head.args if isinstance(a, Var) and a.name not in bound]
        if unbound:
            raise UnboundVariable(f"{text!r}: head variable {unbound[0].removeprefix('V_')} is bound by no positive literal")
        clauses.append(Clause(head, body, text, "conformance", number))
    return clauses, arity


def evaluate_program(rules, facts):
    """{pred: set of tuples}: every fact and every derived tuple of the program."""
    facts = {pred: [tuple(row) for row in rows] for pred, rows in (facts or {}).items()}
    clauses, arity = translate(rules, facts)
    try:
        program = Program(SimpleNamespace(clauses=clauses), roots=tuple(arity))
    except RuleError as err:
        if "not stratifiable" in str(err):
            raise CyclicNegation(str(err)) from None
        if "never bound" in str(err) or "before it is bound" in str(err):
            raise UnboundVariable(str(err)) from None
        raise
    relations = {pred: {tuple(canon(v) for v in row) for row in rows} for pred, rows in facts.items()}
    program.run(relations, set(), {})
    return {pred: set(relations.get(pred, EMPTY)) for pred in arity}


class FastEvaluator:
    """The suite's evaluator protocol (`evaluate(program) -> model with .facts`) over fastlog."""

    def evaluate(self, program):
        return SimpleNamespace(facts=evaluate_program(program.rules, program.facts))


def pydatalog_text(clauses):
    """The translated clauses as pyDatalog program text (predicates prefixed `p_`: pyDatalog reads
    a capitalised name as a variable). Only rule text: facts go through the API."""
    def term(t):
        return t.name if isinstance(t, Var) else repr(t.value)

    def literal(lit):
        if isinstance(lit, Atom):
            return ("~" if lit.negated else "") + f"p_{lit.pred}({', '.join(map(term, lit.args))})"
        return f"({ast.unparse(lit.left)} {lit.op} {ast.unparse(lit.right)})"

    lines = []
    for clause in clauses:
        head = literal(clause.head)
        lines.append(f"{head} <= {' & '.join(map(literal, clause.body))}" if clause.body else f"+ {head}")
    return "\n".join(lines) + "\n"


def _pydatalog_worker():
    """Run one program in this fresh process with pyDatalog: JSON {rules, facts} on stdin, JSON
    {pred: [rows]} on stdout (a separate process: pyDatalog's state is global, and it may never return)."""
    import json
    import sys

    from pyDatalog import pyDatalog

    job = json.load(sys.stdin)
    clauses, arity = translate(job["rules"], job["facts"])
    pyDatalog.load(pydatalog_text(clauses))
    for pred, n in arity.items():
        if n:
            dummy = ("__declare__",) * n
            pyDatalog.assert_fact(f"p_{pred}", *dummy)
            pyDatalog.retract_fact(f"p_{pred}", *dummy)
    for pred, rows in job["facts"].items():
        for row in rows:
            pyDatalog.assert_fact(f"p_{pred}", *row)
    out = {}
    for pred, n in arity.items():
        if n:
            answer = pyDatalog.ask(f"p_{pred}({', '.join(f'X{i}' for i in range(n))})")
            out[pred] = sorted(answer.answers) if answer else []
    json.dump(out, sys.stdout)


class PyDatalogTimeout(Exception):
    code = "timeout"


class PyDatalogEvaluator:
    """The same translation run by pyDatalog (the engine of check/explain/report), each program in
    a child process stopped after `timeout` seconds: pyDatalog 0.22.4 never returns on some
    recursive programs (right recursion over a cycle of three or more)."""

    timeout = 30

    def evaluate(self, program):
        import json
        import subprocess
        import sys

        facts = {pred: [list(row) for row in rows] for pred, rows in (program.facts or {}).items()}
        clauses, _arity = translate(program.rules, facts)   # refusals are raised here, as the fast evaluator raises them
        cycles = _negation_cycles(clauses)
        if cycles:   # Eligo's pyDatalog engine refuses these before loading (engine.Engine), as pyDatalog would loop
            where, a, b = cycles[0]
            raise CyclicNegation(f"{a} depends on {b} through negation inside a cycle (not stratifiable)")
        try:
            done = subprocess.run([sys.executable, "-m", "reasoner.logic.conformance"], input=json.dumps(
                {"rules": list(program.rules), "facts": facts}), capture_output=True, text=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PyDatalogTimeout(f"pyDatalog gave no answer within {self.timeout} s") from None
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
        rows = json.loads(done.stdout)
        return SimpleNamespace(facts={pred: {tuple(r) for r in found} for pred, found in rows.items()})


if __name__ == "__main__":
    _pydatalog_worker()
