"""`eligo query`: ask the rules any question about one patient; every answer comes with its proof.

GOAL is one literal over any predicate of the rule base (a base fact, a rules/lib predicate, a
trial's helper, an aggregate function written with its value last: `lesion_count(P, N)`), parsed by
the clause parser (logic/clauses.parse_atom) and asked through the engine's API with its constants
as values: never evaluated as Python, never loaded as program text. Proofs and refutations come
from the explanation builder (explain/graph.Builder), the same as `eligo explain`.
"""

import difflib
from dataclasses import dataclass

import networkx as nx

from .. import __version__
from ..errors import InputError
from ..explain.graph import Builder
from ..logic.clauses import Aggregate, Atom, Comparison, Const, FunctionValue, Var, parse_atom
from ..logic.engine import PATIENT, engine
from ..logic.proofs import sort_key, unify
from ..logic.rulebook import rulebook
from ..record.predicates import BASE

MAX_GOAL_CHARS = 400
ANONYMOUS = "_"
QUERY_SCHEMA_VERSION = 1
DOCUMENT = "eligo-query"
WORDS = {
    "answers": "{goal} for patient {patient} as of {as_of}: {n} answer{s}",
    "none": "{goal} for patient {patient} as of {as_of}: no answer",
    "holds": "{goal} for patient {patient} as of {as_of}: holds",
    "not_holds": "{goal} for patient {patient} as of {as_of}: does not hold",
    "answer": "{atom}",
    "answer_bindings": "{bindings}   {atom}",
}


@dataclass(frozen=True)
class Goal:
    text: str            # as given
    pred: str            # after --trial resolution (e.g. taormina_small for `small` with --trial taormina)
    args: tuple          # Var | Const; the patient position is Const(PATIENT); each `_` its own variable
    shown: tuple         # the arguments as written, for output
    function: bool       # an aggregate function: args are its keys, then its value
    patient: bool        # the first argument is the patient

    @property
    def ground(self):
        return all(isinstance(a, Const) for a in self.args)

    def pattern(self):
        return tuple(a.value if isinstance(a, Const) else None for a in self.args)

    def variables(self):
        """Named variables in first-occurrence order (not the patient's, not anonymous ones)."""
        out = []
        for shown, arg in zip(self.shown, self.args):
            if isinstance(arg, Var) and shown != ANONYMOUS and arg.name not in out:
                out.append(arg.name)
        return out


@dataclass
class Answer:
    args: tuple          # the ground atom's arguments (patient as PATIENT)
    bindings: dict       # named variable -> value
    node: str            # its proof node in the graph


@dataclass
class QueryResult:
    goal: Goal
    record: object
    book: object
    trial: str
    answers: list
    why_not: str         # refutation node id (no answer, or --why-not on a goal that does not hold)
    graph: object
    root: str


# -- the goal -------------------------------------------------------------------------------------
def signatures(book):
    """predicate -> (arities, how it is written, patient first?, aggregate function?, needs-bound positions)."""
    defs = book.definitions()
    out = {}
    for name, pred in BASE.items():
        shown = (["P"] if pred.patient else []) + list(pred.args)
        out[name] = ({pred.arity}, f"{name}({', '.join(shown)})", pred.patient, False, frozenset())
    bound = must_bind(defs)
    for name, clauses in defs.items():
        function = isinstance(clauses[0].head, Aggregate)
        heads = [c.head.args + ((c.head.target,) if function else ()) for c in clauses]
        written = next((h for h in heads if all(isinstance(a, Var) for a in h)), heads[0])
        patient = all(h and isinstance(h[0], Var) for h in heads)
        out[name] = ({len(h) for h in heads}, f"{name}({', '.join(map(str, written))})", patient, function,
                     frozenset(bound.get(name, ())))
    return out


def must_bind(defs):
    """{pred: positions the caller must give a value}: head variables that no clause body binds
    before a comparison uses them (pyDatalog refuses such a query, e.g. the K of
    lab_below_uln_times(P, T, K)). A fixpoint, since a body may pass the need on to its callee."""
    need, changed = {}, True
    while changed:
        changed = False
        for pred, clauses in defs.items():
            for clause in clauses:
                if isinstance(clause.head, Aggregate):
                    continue
                bound = set()
                for lit in clause.body:
                    if isinstance(lit, Atom) and not lit.negated:
                        callee = need.get(lit.pred, set())
                        bound |= {a.name for i, a in enumerate(lit.args) if isinstance(a, Var) and i not in callee}
                    elif isinstance(lit, FunctionValue):
                        bound |= {a.name for a in lit.args + (lit.value,) if isinstance(a, Var)}
                    elif isinstance(lit, Comparison) and lit.op == "==" and lit.variables - bound <= {_name(lit.left)}:
                        bound |= lit.variables
                for i, arg in enumerate(clause.head.args):
                    if isinstance(arg, Var) and arg.name not in bound and i not in need.get(pred, set()):
                        need.setdefault(pred, set()).add(i)
                        changed = True
    return need


def _name(node):
    return getattr(node, "id", None)


def parse_goal(text, book, patient_id, trial=None):
    """GOAL text -> Goal, or InputError (exit 2) saying what is expected."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("GOAL: expected one literal such as metastatic_lines(P, N)")
    if len(text) > MAX_GOAL_CHARS:
        raise InputError(f"GOAL: {len(text)} characters; expected one literal of at most {MAX_GOAL_CHARS}")
    if not text.isprintable():
        raise InputError("GOAL: expected one line of printable text (no newlines or control characters)")
    from ..errors import RuleError

    try:
        atom = parse_atom(text.strip(), "GOAL")
    except RuleError as err:
        raise InputError(str(err)) from None
    if trial is not None:
        book.trial(trial)
    sigs = signatures(book)
    pred = atom.pred
    if pred not in sigs and trial is not None and f"{trial}_{pred}" in sigs:
        pred = f"{trial}_{pred}"
    if pred not in sigs:
        raise InputError(f"GOAL: unknown predicate {atom.pred!r}; "
                         + (_suggest(atom.pred, sigs, trial) or "expected a base predicate (docs/rules.md), "
                            "a rules/lib predicate or a trial helper"))
    arities, written, patient, function, need = sigs[pred]
    if atom.arity not in arities:
        raise InputError(f"GOAL: {pred} takes {' or '.join(map(str, sorted(arities)))} argument"
                         f"{'s' if max(arities) != 1 else ''}, got {atom.arity}; did you mean {written}?")
    args, count = [], 0
    for i, arg in enumerate(atom.args):
        if i == 0 and patient:
            if isinstance(arg, Const) and arg.value not in (patient_id, PATIENT):
                raise InputError(f"GOAL: the first argument of {pred} is the patient; write P or _ "
                                 f"(or {patient_id!r}), got {arg.value!r}")
            args.append(Const(PATIENT))
        elif isinstance(arg, Var) and arg.name == ANONYMOUS:
            count += 1
            args.append(Var(f"_{count}"))
        else:
            args.append(arg)
    unbound = [i for i in sorted(need) if isinstance(args[i], Var)]
    if unbound:
        names = ", ".join(f"argument {i + 1} ({atom.args[i]})" for i in unbound)
        raise InputError(f"GOAL: {pred} needs a value for {names}: its rules compare it before anything "
                         f"binds it; e.g. {written} with a number or 'text' there")
    return Goal(text.strip(), pred, tuple(args), tuple(str(a) for a in atom.args), function, patient)


def _suggest(name, sigs, trial):
    """'did you mean a(..), b(..)?' from difflib ('' if nothing is close), the --trial's own helpers first."""
    names = sorted(sigs)
    if trial is not None:
        names = [n for n in names if n.startswith(trial + "_")] + names
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if trial is not None:
        close += [n for n in difflib.get_close_matches(f"{trial}_{name}", names, n=2, cutoff=0.6) if n not in close]
    close = list(dict.fromkeys(close))[:3]
    return f"did you mean {', '.join(sigs[n][1] for n in close)}?" if close else ""


# -- asking ---------------------------------------------------------------------------------------
def query(record, goal_text, trial=None):
    """Answers of GOAL for record, each with its proof node, in one explanation graph; with none,
    the refutation: per clause that could derive it, what each candidate fails and why."""
    book = rulebook()
    goal = parse_goal(goal_text, book, record.patient_id, trial)
    with engine().patient(record) as session:
        builder = Builder(book, record, session)
        graph = builder.graph
        graph.graph["query"] = goal.text
        answers = []
        for row in _rows(builder.prover, goal):
            node = builder.goal(goal.pred, row)
            if node is None:
                raise AssertionError(f"{goal.pred}{row}: the engine answered it but no proof was rebuilt")
            bindings = unify(goal.args, row, {})
            answers.append(Answer(row, {v: bindings[v] for v in goal.variables()}, node))
        refuted = None
        if not answers:
            pattern = goal.pattern()
            others = builder.prover.function_rows(goal.pred, pattern[:-1]) if goal.function and None not in pattern else []
            refuted = (builder.other_value(goal.pred, pattern[:-1], pattern[-1], others) if others
                       else builder.why_not(goal.pred, pattern))
    root = _graph(graph, goal, record, answers, refuted)
    return QueryResult(goal, record, book, trial, answers, refuted, graph, root)


def _rows(prover, goal):
    """Ground argument tuples matching the goal (repeated variables agree), sorted."""
    from pyDatalog.util import DatalogError

    pattern = goal.pattern()
    try:
        if goal.function:
            rows = prover.function_rows(goal.pred, pattern[:-1])
        else:
            rows = prover.matches(goal.pred, pattern)
    except DatalogError as err:   # a query shape the rules cannot answer (must_bind missed it)
        raise InputError(f"GOAL: {goal.text}: the rules cannot answer it in this form ({str(err).splitlines()[0]}); "
                         "give values for more arguments") from None
    out = [tuple(row) for row in rows if unify(goal.args, tuple(row), {}) is not None]
    return sorted(set(out), key=sort_key)


def _graph(graph, goal, record, answers, refuted):
    """The query root and one answer node per answer (or the refutation) under it."""
    facts = {"goal": goal.text, "patient": record.patient_id, "as_of": record.as_of.isoformat()}
    if goal.ground:
        label = WORDS["holds" if answers else "not_holds"].format(**facts)
    elif answers:
        label = WORDS["answers"].format(n=len(answers), s="" if len(answers) == 1 else "s", **facts)
    else:
        label = WORDS["none"].format(**facts)
    root = f"query:{goal.text}"
    graph.add_node(root, kind="query", label=label, cite=None, goal=goal.text, pred=goal.pred,
                   answers=len(answers), ground=goal.ground)
    for index, answer in enumerate(answers):
        atom = atom_text(goal, answer.args)
        bindings = ", ".join(f"{k} = {_value(v)}" for k, v in answer.bindings.items())
        label = WORDS["answer_bindings" if bindings else "answer"].format(bindings=bindings, atom=atom)
        aid = f"answer:{index + 1}"
        graph.add_node(aid, kind="answer", label=label, cite=None, atom=atom,
                       bindings={k: _plain(v) for k, v in answer.bindings.items()})
        graph.add_edge(root, aid, role="answer", order=index)
        graph.add_edge(aid, answer.node, role="proof", order=0)
    if refuted is not None:
        graph.add_edge(root, refuted, role="why_not", order=0)
    return root


def atom_text(goal, args):
    """pred(P, 'x', 3): the patient written P, values as the rules write them."""
    shown = ["P" if i == 0 and goal.patient else _value(a) for i, a in enumerate(args)]
    return f"{goal.pred}({', '.join(shown)})"


def _value(value):
    return repr(value) if isinstance(value, str) else str(value)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


# -- output ---------------------------------------------------------------------------------------
def document(result, graph=None):
    """The JSON document of a query (docs/authoring.md): the goal, its answers, the graph (the
    full one unless the condensed graph is given)."""
    from ..render.graph_export import to_document
    from ..render.result import set_aside_document

    graph = subgraph(result) if graph is None else graph
    proofs = [next(child for _a, child, role in graph.out_edges(f"answer:{i + 1}", data="role") if role == "proof")
              for i in range(len(result.answers))]   # condensing may rename a proof (a chain)
    return {
        "schema_version": QUERY_SCHEMA_VERSION,
        "document": DOCUMENT,
        "goal": result.goal.text,
        "predicate": result.goal.pred,
        "trial": result.trial,
        "patient": result.record.patient_id,
        "as_of": result.record.as_of.isoformat(),
        "input": result.record.filename,
        "input_sha256": result.record.sha256,
        "set_aside": set_aside_document(result.record.set_aside),
        "rules": result.book.folder,
        "ruleset_sha256": result.book.sha256,
        "tool_version": __version__,
        "holds": bool(result.answers) if result.goal.ground else None,
        "answers": [{"atom": atom_text(result.goal, answer.args),
                     "args": [_plain(a) for a in _with_patient(result, answer.args)],
                     "bindings": {k: _plain(v) for k, v in answer.bindings.items()},
                     "proof": proof} for answer, proof in zip(result.answers, proofs)],
        "why_not": result.why_not,
        "explanation": to_document(graph),
    }


def _with_patient(result, args):
    """The arguments with the patient's id where the engine holds its placeholder."""
    return tuple(result.record.patient_id if i == 0 and result.goal.patient else a for i, a in enumerate(args))


def subgraph(result):
    """Only what hangs below the query root (the builder may hold nodes no answer uses)."""
    keep = {result.root} | nx.descendants(result.graph, result.root)
    return result.graph.subgraph(keep).copy()
