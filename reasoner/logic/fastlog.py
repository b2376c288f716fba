"""A faster evaluator of the same rule files, for cohort screening (`eligo screen --engine fast`).

pyDatalog's tabled top-down resolution costs ~35 ms per patient over five trials, most of the
screening time. A patient's database is tiny (~100 facts), so evaluating every rule bottom-up is
cheap: the clauses that clauses.py parses (the very Clause objects the engine loads into
pyDatalog) are stratified (negation and aggregates only over lower strata, as the engine already
requires) and each clause is compiled once per process into a Python function of nested loops
over the patient's relations. Recursive strata are iterated to a fixpoint.

Semantics follow pyDatalog as used here: literals left to right; `X == expr` binds an unbound X;
a negated literal's unbound variables mean "none exists"; len_ counts distinct values, max_/min_
take the extreme, an aggregate over no rows gives no value; floats are rounded on entry as
pyDatalog rounds them. The rule files stay the single source of truth: tests run every rule-test
case through this evaluator, and compare it with pyDatalog criterion by criterion.
"""

import ast
import copy
import dataclasses
from collections import defaultdict

from pyDatalog import pyEngine

from ..errors import RuleError
from ..record.facts import facts_of, reference_facts
from ..record.predicates import BASE
from .clauses import Aggregate, Atom, Comparison, Const, FunctionValue, Var
from .engine import PATIENT, Evaluation
from .rulebook import HOLDS, LACKS

try:   # randomisation strata (crit_stratum) exist once a trial declares them
    from .rulebook import STRATUM
except ImportError:  # pragma: no cover - older rulebooks
    STRATUM = None

SUPPORTED_AGGREGATES = ("len_", "max_", "min_")
# Clauses per generated function (at most, then a new one starts): compiling all ~700 clauses as
# one function took ~21 MB of each process's memory above the old per-clause functions, blocks of
# 250 take ~13 MB, at the same speed within the noise of a loaded machine.
BLOCK_CLAUSES = 250
ROOTS = tuple(p for p in (HOLDS, LACKS, STRATUM) if p)
EMPTY = frozenset()
PATIENT_PREDS = frozenset(name for name, pred in BASE.items() if pred.patient)
_EVALUATION_FIELDS = {f.name for f in dataclasses.fields(Evaluation)}


def canon(value):
    """pyDatalog rounds floats on entry (Float_Precision); do the same so comparisons agree."""
    return pyEngine.Term_of(value).id if isinstance(value, float) else value


def _head_pred(clause):
    return clause.head.func if isinstance(clause.head, Aggregate) else clause.head.pred


def _body_preds(clause):
    for lit in clause.body:
        if isinstance(lit, Atom):
            yield lit.pred, lit.negated
        elif isinstance(lit, FunctionValue):
            yield lit.func, True     # a function's value is an aggregate: needs it complete


def _unbound_head_positions(clause):
    """Head argument positions whose variable the body never binds (bound by the caller in pyDatalog)."""
    if isinstance(clause.head, Aggregate):
        return []
    bound = set()
    for lit in clause.body:
        if isinstance(lit, Atom) and not lit.negated:
            bound |= {a.name for a in lit.args if isinstance(a, Var)}
        elif isinstance(lit, FunctionValue):
            bound |= {a.name for a in lit.args + (lit.value,) if isinstance(a, Var)}
        elif isinstance(lit, Comparison) and lit.op == "==":
            for target in (lit.left, lit.right):
                if isinstance(target, ast.Name) and lit.variables - {target.id} <= bound:
                    bound.add(target.id)
    return [i for i, a in enumerate(clause.head.args) if isinstance(a, Var) and a.name not in bound]


class _Substitute(ast.NodeTransformer):
    def __init__(self, values):
        self.values = values

    def visit_Name(self, node):
        if node.id in self.values:
            return ast.copy_location(ast.Constant(self.values[node.id]), node)
        return node


def _substitute(clause, values):
    """The clause with some variables replaced by constants (a call-site specialisation)."""
    def term(t):
        return Const(values[t.name]) if isinstance(t, Var) and t.name in values else t

    def literal(lit):
        if isinstance(lit, Atom):
            return dataclasses.replace(lit, args=tuple(term(a) for a in lit.args))
        if isinstance(lit, FunctionValue):
            return dataclasses.replace(lit, args=tuple(term(a) for a in lit.args), value=term(lit.value))
        if isinstance(lit, Comparison):
            fix = _Substitute(values)
            return dataclasses.replace(lit, left=fix.visit(copy.deepcopy(lit.left)), right=fix.visit(copy.deepcopy(lit.right)))
        return lit

    return dataclasses.replace(clause, head=literal(clause.head), body=tuple(literal(lit) for lit in clause.body))


def specialise(clauses):
    """Clauses a bottom-up evaluation can run: a clause whose head variable only the caller binds
    (e.g. lab_below_uln_times(P, T, K) called as lab_below_uln_times(P, 'alt', 30)) is replaced by
    one copy per constant its callers pass, the same answers pyDatalog gives those calls."""
    general, positions, out = defaultdict(list), defaultdict(set), []
    for clause in clauses:
        unbound = _unbound_head_positions(clause)
        if unbound:
            general[clause.head.pred].append(clause)
            positions[clause.head.pred] |= set(unbound)
        else:
            out.append(clause)
    done, work = set(), list(out)
    while work:
        clause = work.pop()
        for lit in clause.body:
            if not (isinstance(lit, Atom) and lit.pred in general):
                continue
            at = sorted(positions[lit.pred])
            if not all(isinstance(lit.args[i], Const) for i in at):
                raise RuleError(f"{clause.where}: the fast engine needs constants at argument(s) "
                                f"{', '.join(str(i + 1) for i in at)} of {lit.pred}, which only the caller binds")
            key = (lit.pred, tuple(lit.args[i].value for i in at))
            if key in done:
                continue
            done.add(key)
            for callee in general[lit.pred]:
                values, consistent = {}, True
                for i in at:
                    arg = callee.head.args[i]
                    if isinstance(arg, Var):
                        consistent &= values.setdefault(arg.name, lit.args[i].value) == lit.args[i].value
                    else:
                        consistent &= arg.value == lit.args[i].value
                if consistent:
                    special = _substitute(callee, values)
                    out.append(special)
                    work.append(special)
    return out


def _reads_one_patient(clause, local):
    """Whether the clause derives a patient's tuple from that patient's tuples only: the head's
    first argument is a variable P, bound by a positive literal before anything else reads it,
    and standing exactly at the first place of every literal over a per-patient predicate (local)
    and nowhere else (no comparison, no other argument, no shared predicate)."""
    head = clause.head
    if not head.args or not isinstance(head.args[0], Var):
        return False
    p = head.args[0]
    if p in head.args[1:] or (isinstance(head, Aggregate) and (head.target == p or p in head.order_by)):
        return False
    bound = False
    for lit in clause.body:
        if isinstance(lit, Comparison):
            if p.name in lit.variables:
                return False
            continue
        if not isinstance(lit, (Atom, FunctionValue)):
            return False
        args = lit.args + ((lit.value,) if isinstance(lit, FunctionValue) else ())
        places = [i for i, a in enumerate(args) if a == p]
        if lit.pred not in local:
            if places:
                return False
            continue
        negated = isinstance(lit, Atom) and lit.negated
        if places != [0] or (negated and not bound):
            return False
        bound = bound or not negated
    return bound


def per_patient(defs, needed, roots, patient_preds):
    """Whether every needed predicate is either per patient (each tuple derived from one patient's
    facts, under that patient's key: _reads_one_patient holds for all its clauses) or shared (it
    reads no patient fact at all), with the roots per patient. Then one run over many patients'
    facts, each under its own key, gives every patient exactly the tuples a run of its own gives."""
    reads_patient, changed = set(patient_preds), True
    while changed:
        changed = False
        for pred in needed:
            if pred not in reads_patient and any(body in reads_patient for c in defs[pred] for body, _n in _body_preds(c)):
                reads_patient.add(pred)
                changed = True
    local = reads_patient
    return (all(root in local for root in roots if root in defs)
            and all(_reads_one_patient(c, local) for pred in needed if pred in local for c in defs[pred]))


class _Gen:
    """Python source for one clause: nested loops and tests, then one emit of the head."""

    def __init__(self, clause, depth=1, relations=None):
        self.clause, self.lines, self.depth, self.bound = clause, [], depth, set()
        self.relations = {} if relations is None else relations   # pred -> local name (shared in a block)
        self.indexes = {}      # (pred, positions) -> local name, fetched once per clause run

    def where(self):
        return self.clause.where

    def emit(self, text):
        self.lines.append("    " * self.depth + text)

    def open(self, text):
        self.emit(text)
        self.depth += 1

    def rel(self, pred):
        name = self.relations.setdefault(pred, f"r{len(self.relations)}")
        return name

    def index(self, pred, positions):
        return self.indexes.setdefault((pred, positions), f"x{len(self.indexes)}")

    def term(self, term):
        if isinstance(term, Const):
            return repr(canon(term.value))
        return f"v_{term.name}"

    def expr(self, node):
        if isinstance(node, ast.Constant):
            return repr(canon(node.value))
        if isinstance(node, ast.Name):
            if node.id in ("True", "False"):
                return node.id
            if node.id not in self.bound:
                raise RuleError(f"{self.where()}: {node.id} is used in a comparison before it is bound")
            return f"v_{node.id}"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"(-{self.expr(node.operand)})"
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//"}
            if type(node.op) in ops:
                return f"({self.expr(node.left)} {ops[type(node.op)]} {self.expr(node.right)})"
        if isinstance(node, (ast.List, ast.Tuple)):
            return "(" + "".join(self.expr(e) + ", " for e in node.elts) + ")"
        raise RuleError(f"{self.where()}: the fast engine cannot evaluate {ast.unparse(node)}")

    def key(self, key):
        """An index key's text: the value itself at one position, else a tuple (_Index builds them so)."""
        if len(key) == 1:
            return self.term(key[0][1])
        return "(" + "".join(self.term(a) + ", " for _i, a in key) + ")"

    def atom(self, pred, args):
        """A positive literal: loop over the matching tuples, binding its free variables."""
        key = [(i, a) for i, a in enumerate(args) if isinstance(a, Const) or a.name in self.bound]
        rel = self.rel(pred)
        if len(key) == len(args):
            self.open(f"if ({''.join(self.term(a) + ', ' for _i, a in key)}) in {rel}:")
            return
        if key:
            positions = tuple(i for i, _a in key)
            self.open(f"for t in {self.index(pred, positions)}.get({self.key(key)}, ()):")
        else:
            self.open(f"for t in {rel}:")
        for i, arg in enumerate(args):
            if isinstance(arg, Const) or any(i == k for k, _a in key):
                continue
            if arg.name in self.bound:           # repeated in this literal: must be equal
                self.open(f"if t[{i}] == v_{arg.name}:")
            else:
                self.emit(f"v_{arg.name} = t[{i}]")
                self.bound.add(arg.name)

    def negation(self, pred, args):
        """~p(...): no tuple matches the bound arguments (unbound ones: any value)."""
        key = [(i, a) for i, a in enumerate(args) if isinstance(a, Const) or a.name in self.bound]
        free = [a.name for a in args if isinstance(a, Var) and a.name not in self.bound]
        rel = self.rel(pred)
        if len(free) != len(set(free)):
            # ~p(X, V, V) with V unbound: no tuple matching X has equal values at V's positions.
            where = defaultdict(list)
            for i, a in enumerate(args):
                if isinstance(a, Var) and a.name not in self.bound:
                    where[a.name].append(i)
            same = " and ".join(f"t[{i}] == t[{j}]" for spots in where.values() for i, j in zip(spots, spots[1:]))
            source = rel
            if key:
                positions = tuple(i for i, _a in key)
                source = f"{self.index(pred, positions)}.get({self.key(key)}, ())"
            self.open(f"if not any({same} for t in {source}):")
            return
        if len(key) == len(args):
            self.open(f"if ({''.join(self.term(a) + ', ' for _i, a in key)}) not in {rel}:")
        elif key:
            positions = tuple(i for i, _a in key)
            self.open(f"if not {self.index(pred, positions)}.get({self.key(key)}):")
        else:
            self.open(f"if not {rel}:")

    def comparison(self, lit):
        left, right = lit.left, lit.right
        if lit.op == "==":
            for target, other in ((left, right), (right, left)):
                if isinstance(target, ast.Name) and target.id not in self.bound and target.id not in ("True", "False"):
                    value = self.expr(other)
                    self.emit(f"v_{target.id} = canon({value})")
                    self.bound.add(target.id)
                    return
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "in", "not in": "not in"}[lit.op]
        self.open(f"if {self.expr(left)} {op} {self.expr(right)}:")

    def body(self, emit):
        """Lines of the body's loops and tests, then `emit` (a format taking the head's key and
        value texts: a set's add, or an aggregate group's)."""
        for lit in self.clause.body:
            if isinstance(lit, Atom):
                (self.negation if lit.negated else self.atom)(lit.pred, lit.args)
            elif isinstance(lit, FunctionValue):
                self.atom(lit.func, lit.args + (lit.value,))
            elif isinstance(lit, Comparison):
                self.comparison(lit)
            else:
                raise RuleError(f"{self.where()}: the fast engine cannot evaluate {lit}")
        head = self.clause.head
        if isinstance(head, Aggregate):
            if head.agg not in SUPPORTED_AGGREGATES:
                raise RuleError(f"{self.where()}: the fast engine does not support {head.agg}")
            order = head.order_by[0] if head.order_by else head.target
            if head.order_by and (len(head.order_by) != 1 or order != head.target):
                raise RuleError(f"{self.where()}: the fast engine supports {head.agg} ordered by its own value only")
            self.emit(emit.format(key="(" + "".join(self.term(a) + ", " for a in head.args) + ")",
                                  value=self.term(head.target)))
        else:
            for arg in head.args:
                if isinstance(arg, Var) and arg.name not in self.bound:
                    raise RuleError(f"{self.where()}: head variable {arg.name} is never bound (unsafe clause)")
            self.emit(emit.format(key="(" + "".join(self.term(a) + ", " for a in head.args) + ")", value=""))
        return self.lines

    def prologue(self, indent):
        return [f"{indent}{var} = R.get({pred!r}, EMPTY)" for pred, var in self.relations.items()]

    def index_lines(self, indent):
        return [f"{indent}{var} = I[{(pred, positions)!r}]" for (pred, positions), var in self.indexes.items()]

    def guard(self):
        """Relation names whose emptiness makes the clause derive nothing (its positive literals)."""
        return list(dict.fromkeys(self.relations[lit.pred] for lit in self.clause.body
                                  if isinstance(lit, FunctionValue) or (isinstance(lit, Atom) and not lit.negated)))

    def source(self, name):
        """The clause alone as `def name(R, I, out)` (recursive strata run it to a fixpoint)."""
        self.body("out({key}" + ("" if not isinstance(self.clause.head, Aggregate) else ", {value}") + ")")
        return f"def {name}(R, I, out):\n" + "\n".join(self.prologue("    ") + self.index_lines("    ") + self.lines) + "\n"


def _block_source(name, groups):
    """Consecutive strata as one function: every clause that reads only lower strata inline, in
    stratum order, each skipped when one of its positive relations is empty. One call per patient
    instead of one per clause: the per-clause dispatch was most of the engine's time.
    groups: [(pred, its clauses to inline)], each pred's relation started here."""
    lines, local = [], {}   # local: pred -> the block's variable for its relation, read once
    for pred, clauses in groups:
        lines.append(f"    h = R[{pred!r}] = set(R.get({pred!r}, EMPTY))")
        for clause in clauses:
            gen = _Gen(clause, depth=2, relations=local)
            aggregate = isinstance(clause.head, Aggregate)
            gen.body("g.setdefault({key}, set()).add({value})" if aggregate else "h.add({key})")
            lines.append(f"    # {clause.where}")
            if aggregate:
                lines.append("    g = {}")
            lines.append(f"    if {' and '.join(gen.guard()) or 'True'}:")
            lines += gen.index_lines("        ") + gen.lines
            if aggregate:
                reduce = {"len_": "len", "max_": "max", "min_": "min"}[clause.head.agg]
                lines.append(f"    h.update(k + ({reduce}(v),) for k, v in g.items())")
        if pred in local:   # read by a later clause before this point? (only lower strata are read)
            raise RuleError(f"{pred}: read before it is complete")
        local[pred] = f"l{len(local)}"
        lines.append(f"    {local[pred]} = h")
    made = {pred for pred, _clauses in groups}
    header = [f"    {var} = R.get({pred!r}, EMPTY)" for pred, var in local.items() if pred not in made]
    return f"def {name}(R, I):\n" + "\n".join(header + lines) + "\n"


@dataclasses.dataclass
class _Stratum:
    preds: frozenset
    defs: dict             # pred -> [clause]
    recursive: bool
    clauses: list = None   # [(clause, function)] of a recursive stratum


def _exec(source, where, namespace, name):
    try:
        exec(compile(source, where, "exec"), namespace)  # noqa: S102 - rule text only, never record values
    except SyntaxError as err:
        raise RuleError(f"{where}: the fast engine could not compile this clause ({err.msg})") from None
    return namespace[name]


class Program:
    """The rule set compiled for one set of root trials (None: all of them).

    roots: the predicates to derive (default the criteria's holds/lacks and the strata); every
    predicate they depend on is derived too.
    """

    def __init__(self, book, trial_ids=None, roots=ROOTS):
        self.complete = None     # FastEngine.relations fills it on first use
        chosen = set(trial_ids) if trial_ids else None
        defs, kept = defaultdict(list), []
        for clause in book.clauses:
            if chosen is not None and _head_pred(clause) in ROOTS:
                trial = clause.head.args[1]
                if not (isinstance(trial, Const) and trial.value in chosen):
                    continue
            kept.append(clause)
        for clause in specialise(kept):
            defs[_head_pred(clause)].append(clause)
        needed, stack = set(), [p for p in roots if p in defs]
        while stack:
            pred = stack.pop()
            if pred in needed:
                continue
            needed.add(pred)
            for clause in defs.get(pred, ()):
                stack.extend(p for p, _neg in _body_preds(clause) if p in defs and p not in needed)
        graph, negative = {pred: set() for pred in needed}, set()   # pred -> the preds its bodies read
        for pred in needed:
            for clause in defs[pred]:
                for body, negated in _body_preds(clause):
                    if body in defs:
                        graph[pred].add(body)
                        if negated or isinstance(clause.head, Aggregate):
                            negative.add((pred, body))
        self.per_patient = per_patient(defs, needed, [r for r in roots if r in needed], PATIENT_PREDS)
        self.strata, namespace, count = [], {"EMPTY": EMPTY, "canon": canon}, 0
        for preds in components(graph):
            inner = [(a, b) for a in preds for b in graph[a] if b in preds]
            if any(edge in negative for edge in inner):
                raise RuleError(f"{', '.join(sorted(preds))}: negation or an aggregate inside a cycle (not stratifiable)")
            stratum = _Stratum(preds, {p: defs[p] for p in sorted(preds)}, bool(inner))
            if stratum.recursive:
                stratum.clauses = []
                for pred in sorted(preds):
                    for clause in defs[pred]:
                        if _reads(clause, preds):
                            name, count = f"_clause{count}", count + 1
                            stratum.clauses.append((clause, _exec(_Gen(clause).source(name), clause.where, namespace, name)))
            self.strata.append(stratum)
        # Runs of strata become one function each, up to a recursive stratum's clauses that read
        # its own relations: those run per clause to a fixpoint. (A recursive stratum's other
        # clauses, e.g. the many crit_lacks clauses beside one that reads crit_lacks, run once.)
        self.steps, run = [], []
        for stratum in self.strata + [None]:
            if stratum is not None:
                run += [(pred, [c for c in clauses if not (stratum.recursive and _reads(c, stratum.preds))])
                        for pred, clauses in stratum.defs.items()]
                if not stratum.recursive and sum(len(c) for _p, c in run) < BLOCK_CLAUSES:
                    continue
            if run:
                name, count = f"_block{count}", count + 1
                where = next((c[0].where for _p, c in run if c), "rules")
                self.steps.append((None, _exec(_block_source(name, run), where, namespace, name)))
                run = []
            if stratum is not None and stratum.recursive:
                self.steps.append((stratum, None))

    def run(self, relations, static_preds, static_index):
        """Derive every needed relation into `relations` (pred -> set of full tuples).

        Indexes of the static relations (reference facts, the same for every patient) are kept in
        static_index across patients; the others live for this patient only.
        """
        index = _Index(relations, static_preds, static_index)
        for stratum, block in self.steps:
            if block is not None:
                block(relations, index)
                continue
            # Indexes of the stratum's relations built before (by its clauses run in a block) are
            # stale; those built from here on are kept up to date as tuples are added (_apply), not
            # rebuilt every round (crit_lacks, read by OLIGAMI S1, was a third of all indexing).
            index.forget(stratum.preds)
            while True:
                before = sum(len(relations[p]) for p in stratum.preds)
                for clause, function in stratum.clauses:
                    _apply(clause, function, relations, index)
                if sum(len(relations[p]) for p in stratum.preds) == before:
                    break


def components(graph):
    """The strongly connected components of graph ({node: nodes it reads}) as frozensets, every
    component after those it reads (Tarjan's algorithm, without recursion). networkx's condensation
    gave the same, but importing networkx cost each screening run ~0.15 s (tests compare the two)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    for root in graph:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(graph[root]))]
        while work:
            node, reads = work[-1]
            for child in reads:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    members = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.add(member)
                        if member == node:
                            break
                    out.append(frozenset(members))
    return out


def _reads(clause, preds):
    return any(pred in preds and not negated for pred, negated in _body_preds(clause))


class _Index(dict):
    """(pred, argument positions) -> {key values: [tuples]}, built on first use. Generated code
    reads it as I[(pred, positions)]: a plain dict lookup once built. Indexes of the static
    relations (reference facts, the same for every patient) are kept across patients."""

    def __init__(self, relations, static_preds, static_index):
        super().__init__(static_index)
        self.relations, self.static_preds, self.static_index = relations, static_preds, static_index
        self.built = defaultdict(list)   # pred -> keys of its indexes built for this run

    def forget(self, preds):
        """Drop the indexes of preds (their relations are about to grow)."""
        for pred in preds:
            for key in self.built.pop(pred, ()):
                self.pop(key, None)

    def extend(self, pred, rows):
        """Tuples just added to pred's relation, added to its indexes built so far too."""
        for key in self.built.get(pred, ()):
            found, positions = self[key], key[1]
            for t in rows:
                found.setdefault(t[positions[0]] if len(positions) == 1 else tuple(t[i] for i in positions), []).append(t)

    def __missing__(self, key):
        pred, positions = key
        self.built[pred].append(key)
        found, rows = {}, self.relations.get(pred, EMPTY)
        if len(positions) == 1:   # keyed by the value itself (no 1-tuples: half the cost)
            (i,) = positions
            for t in rows:
                found.setdefault(t[i], []).append(t)
        elif len(positions) == 2:
            i, j = positions
            for t in rows:
                found.setdefault((t[i], t[j]), []).append(t)
        else:
            for t in rows:
                found.setdefault(tuple(t[i] for i in positions), []).append(t)
        self[key] = found
        if pred in self.static_preds:
            self.static_index[key] = found
        return found


def _apply(clause, function, relations, lookup):
    """One clause of a recursive stratum, once: its new tuples go into the relation and its indexes."""
    head = clause.head
    if not isinstance(head, Aggregate):
        new, pred = set(), head.pred
        function(relations, lookup, new.add)
    else:
        groups, pred = defaultdict(set), head.func
        function(relations, lookup, lambda key, value: groups[key].add(value))
        reduce = {"len_": len, "max_": max, "min_": min}[head.agg]
        new = {key + (reduce(values),) for key, values in groups.items()}
    new -= relations[pred]
    if new:
        relations[pred] |= new
        lookup.extend(pred, new)


class FastEngine:
    """Drop-in for engine.Engine.evaluate in screening: same Evaluation, computed bottom-up."""

    def __init__(self, book):
        self.book = book
        self.programs = {}
        self.reference = defaultdict(set)
        for fact in reference_facts():
            self.reference[fact.pred].add(tuple(canon(a) for a in fact.args))
        self.reference_index = {}

    def program(self, trial_ids=None):
        key = frozenset(trial_ids) if trial_ids else None
        if key not in self.programs:
            for tid in key or ():
                self.book.trial(tid)
            self.programs[key] = Program(self.book, key)
        return self.programs[key]

    def evaluate(self, record, trial_ids=None, gaps=True):
        """gaps=False: the record's gaps are not listed (no missing inputs wanted)."""
        pf = facts_of(record, gaps)
        return self._run(trial_ids, [(record, pf)])[0]

    def evaluate_many(self, records, trial_ids=None):
        """evaluate(record, trial_ids, gaps=False) of each record, or the exception it raised, in
        order. When the program reads one patient at a time (Program.per_patient) the patients'
        facts share one run, each under its own key: the cost of each clause and index is paid
        once per batch instead of once per patient; tests hold both ways to the same answers."""
        out, facts = [None] * len(records), []
        for i, record in enumerate(records):
            try:
                facts.append((i, record, facts_of(record, False)))
            except Exception as err:  # noqa: BLE001 - reported for this record, the others go on
                out[i] = err
        if facts and self.program(trial_ids).per_patient:
            try:
                for (i, _r, _f), evaluation in zip(facts, self._run(trial_ids, [(r, f) for _i, r, f in facts])):
                    out[i] = evaluation
                return out
            except Exception:  # noqa: BLE001 - judged one by one below, so the failure is that record's
                pass
        for i, record, pf in facts:
            try:
                out[i] = self._run(trial_ids, [(record, pf)])[0]
            except Exception as err:  # noqa: BLE001 - reported for this record
                out[i] = err
        return out

    def _run(self, trial_ids, patients):
        """[Evaluation] of [(record, facts)]: one run, each patient's facts under its own key (the
        one patient alone under PATIENT)."""
        keys = [PATIENT] if len(patients) == 1 else range(len(patients))
        relations = dict(self.reference)
        patient = defaultdict(set)
        for key, (_record, pf) in zip(keys, patients):
            for pred, args, _path in pf.rows:
                if float in map(type, args):   # rare (most values are ints or text): tested in C
                    args = tuple(canon(a) if a.__class__ is float else a for a in args)
                patient[pred].add((key, *args))
        relations.update(patient)
        self.program(trial_ids).run(relations, self.reference.keys(), self.reference_index)
        holds, lacks, strata = defaultdict(set), defaultdict(set), defaultdict(lambda: defaultdict(set))
        for key, t, c in relations.get(HOLDS, EMPTY):
            holds[key].add((t, c))
        for key, t, c in relations.get(LACKS, EMPTY):
            lacks[key].add((t, c))
        for key, trial, name, value in relations.get(STRATUM, EMPTY) if STRATUM else ():
            strata[key][(trial, name)].add(value)
        with_strata = "strata" in _EVALUATION_FIELDS and STRATUM
        return [Evaluation(record, pf, holds.get(key, set()), lacks.get(key, set()),
                           **({"strata": dict(strata.get(key, {}))} if with_strata else {}))
                for key, (record, pf) in zip(keys, patients)]


    def relations(self, record, trial_ids=None):
        """(relations, complete): every relation the compiled program derives for record, and the
        predicates whose relation there is whole (a predicate specialised to its callers'
        constants, e.g. lab_below_uln_times, holds only those rows and is left out). Proof search
        (logic/proofs.Prover) scans these instead of asking pyDatalog one query per predicate."""
        pf = facts_of(record, False)
        relations = dict(self.reference)
        for fact in pf.facts:
            relations.setdefault(fact.pred, set()).add((PATIENT, *[canon(a) if a.__class__ is float else a for a in fact.args]))
        program = self.program(trial_ids)
        program.run(relations, self.reference.keys(), self.reference_index)
        if program.complete is None:
            partial = {_head_pred(c) for c in self.book.clauses if _unbound_head_positions(c)}
            derived = set().union(*(stratum.preds for stratum in program.strata))
            program.complete = frozenset((derived - partial) | set(BASE))
        return relations, program.complete


_ENGINES = {}


def fast_engine():
    """This process's fast engine (compiled on first use, like engine.engine())."""
    from .rulebook import rulebook

    book = rulebook()
    if book.key not in _ENGINES:
        _ENGINES[book.key] = FastEngine(book)
    return _ENGINES[book.key]
