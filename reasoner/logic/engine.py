"""The pyDatalog session: rules parsed once per process; per patient assert, query, retract.

pyDatalog keeps one global program per thread, so a process holds one Engine. Record values
enter only as fact arguments through the API (never as program text), so a value such as
"x') & ~eligible(P" is just a string constant.
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyDatalog import pyDatalog, pyEngine, pyParser

from ..errors import RuleError
from ..record.facts import facts_of, reference_facts
from ..record.predicates import BASE
from . import pyload
from .clauses import parse_program
from .rulebook import HOLDS, LACKS, STRATUM

PATIENT = "patient"   # the one patient in the database at a time
_DUMMY = "__eligo_declare__"
DECIDED = "eligo_decided"
# One query for both sides: holds and lacks share subgoals (lesion counts, lines of therapy), so
# asking once costs ~8.5 ms where two asks cost ~11 ms (TAORMINA, one patient).
_DECIDED_PROGRAM = (f"{DECIDED}(P, T, C, 'holds') <= {HOLDS}(P, T, C)\n"
                    f"{DECIDED}(P, T, C, 'lacks') <= {LACKS}(P, T, C)\n")


@dataclass
class Evaluation:
    record: object
    facts: object        # PatientFacts
    holds: set           # {(trial, criterion)}
    lacks: set
    strata: dict = field(default_factory=dict)   # {(trial, stratum name): {values derived}}


class Engine:
    """Holds the loaded rule set; evaluate() judges one record at a time."""

    def __init__(self, book):
        cycles = book.negation_cycles()
        if cycles:
            where, a, b = cycles[0]
            raise RuleError(f"{where}: {a} depends on {b} through negation or an aggregate inside a cycle (not stratifiable)")
        self.book = book
        self._open = False
        self.replaced = False    # set when another rule set took this thread's pyDatalog program
        with _PYDATALOG_LOCK:
            pyDatalog.clear()
            pyload.load(book.clauses)   # the parsed clauses straight into pyEngine (~0.3 s less than parsing the text)
            # pyDatalog.assert_fact / retract_fact, without parsing each call (pyload.fact)
            declared = [(pred.name, pred.arity) for pred in BASE.values()] + [(HOLDS, 3), (LACKS, 3), (STRATUM, 4)]
            for name, arity in declared:
                pyEngine.assert_(pyload.fact(name, (_DUMMY,) * arity))
                pyEngine.retract(pyload.fact(name, (_DUMMY,) * arity))
            pyload.load(parse_program(_DECIDED_PROGRAM, "reasoner/logic/engine.py"))
            for fact in reference_facts():
                pyEngine.assert_(pyload.fact(fact.pred, fact.args))

    def evaluate(self, record, trial_ids=None, gaps=True):
        """Assert the record's facts, ask which criteria hold or lack, retract them.

        trial_ids limits the query to those trials (the others are not evaluated at all).
        Facts go straight to pyEngine clauses: pyDatalog.assert_fact parses every call and cost
        ~70% of a patient's time (33 ms -> 14 ms per TAORMINA patient).
        """
        with self.patient(record, gaps) as session:
            return session.evaluation(trial_ids)

    @contextmanager
    def patient(self, record, gaps=True):
        """`with engine.patient(record) as session:` the record's facts stay asserted (explanations
        re-query rule bodies) and are retracted on leaving, whatever happens."""
        if self._open:
            raise RuntimeError("a patient session is already open; the engine holds one patient at a time")
        if self.replaced:
            raise RuntimeError("this engine's rules were replaced in this thread (another rules folder); "
                               "ask engine() for the current one")
        pf = facts_of(record, gaps)
        clauses = [_fact_clause(pred, (PATIENT,) + args) for pred, args, _path in pf.rows]
        asserted = []
        with _PYDATALOG_LOCK:
            self._open = True
            try:
                for clause in clauses:
                    pyEngine.assert_(clause)
                    asserted.append(clause)
                yield Session(self, record, pf)
            finally:
                for clause in reversed(asserted):
                    pyEngine.retract(clause)
                self._open = False

    def ask(self, text):
        """Answers (sorted tuples) of a query over rule predicates, for the current patient."""
        with _PYDATALOG_LOCK:
            answer = pyDatalog.ask(text)
        return sorted(answer.answers) if answer else []

    def _criteria(self, pred):
        return {(t, c) for _p, t, c in self.ask(f"{pred}(P, T, C)")}

    def _decided(self, trial_ids=None):
        """({(trial, criterion)} that hold, {...} that lack). Trial ids are rulebook ids ([a-z0-9_])."""
        var = pyEngine.Var
        goals = [[var("P"), var("T"), var("C"), var("S")]] if not trial_ids else []
        for tid in sorted(set(trial_ids or ())):
            self.book.trial(tid)
            goals.append([var("P"), pyEngine.Term_of(tid), var("C"), var("S")])
        answers = []
        for terms in goals:   # asked through pyEngine: no query text to parse
            found = pyEngine.Literal(DECIDED, terms).ask()
            answers += found if isinstance(found, list) else []
        holds = {(t, c) for _p, t, c, s in answers if s == "holds"}
        lacks = {(t, c) for _p, t, c, s in answers if s == "lacks"}
        return holds, lacks

    def _strata(self, trial_ids=None):
        """{(trial, stratum name): {values}} for the trials (default all) that define strata."""
        out = {}
        for tid in sorted(set(trial_ids or self.book.trials)):
            if self.book.trial(tid).strata:
                for _p, name, value in self.ask(f"{STRATUM}(P, '{tid}', N, V)"):
                    out.setdefault((tid, name), set()).add(value)
        return out


class Session:
    """One patient's facts asserted in the engine (see Engine.patient)."""

    def __init__(self, engine, record, facts):
        self.engine, self.record, self.facts = engine, record, facts

    def evaluation(self, trial_ids=None):
        holds, lacks = self.engine._decided(trial_ids)
        return Evaluation(self.record, self.facts, holds, lacks, self.engine._strata(trial_ids))

    def query(self, pred, args):
        """Full argument tuples of pred matching args (None = any), asked through pyEngine with
        the values as constants: no program text, so record strings cannot act as syntax."""
        terms = [pyEngine.Var(f"X{i}") if a is None else pyEngine.Term_of(a) for i, a in enumerate(args)]
        answer = pyEngine.Literal(pred, terms).ask()
        return answer if isinstance(answer, list) else []

    def function(self, func, keys):
        """[(keys..., value)] of the function func[keys] (None = any key), e.g. an aggregate's result."""
        key_terms = [pyParser.Term(f"X{i}") if k is None else k for i, k in enumerate(keys)]
        function = pyParser.Term(func)[tuple(key_terms) if len(key_terms) > 1 else key_terms[0]]
        answer = (function == pyParser.Term("V")).ask() or []
        rows = []
        for row in answer:
            free = iter(row)
            rows.append(tuple(next(free) if k is None else k for k in keys) + (next(free),))
        return rows


def _fact_clause(pred, args):
    """A ground fact as a pyEngine clause (the form pyDatalog.assert_fact builds, without parsing)."""
    return pyEngine.Clause(pyEngine.Literal(pred, [pyEngine.Term_of(a) for a in args]), [])


_LOCAL = threading.local()
# One thread at a time uses pyDatalog in a process. It parses program and query text with the ast
# module, and CPython 3.11 fails ("AST constructor recursion depth mismatch") when two threads
# build ASTs at once (Dask worker threads did); a multi-threaded Dask worker once hung in CI. Under
# the GIL, threads gain nothing on this pure-Python work, so serialising costs no throughput.
_PYDATALOG_LOCK = threading.RLock()


def engine():
    """This thread's engine for the rules in use (rulebook()), built on first use and then reused.

    pyDatalog keeps its program per thread, so a thread that did not build the engine would see
    an empty database; one engine per thread (screening workers, Dask worker threads) avoids that.
    When the rules in use change (a --rules working copy), the thread's program is rebuilt for
    them; the engine it replaces refuses further use rather than answer from the other rules.
    """
    from .rulebook import rulebook

    book = rulebook()
    eng = getattr(_LOCAL, "engine", None)
    if eng is None or eng.book.key != book.key:
        if eng is not None:
            eng.replaced = True
        eng = _LOCAL.engine = Engine(book)   # Engine() takes the pyDatalog lock
    return eng
