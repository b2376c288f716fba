"""logic/pyload.py builds, from Eligo's parsed clauses, the very pyEngine clauses pyDatalog's own
parser builds from their text: held here clause by clause for every rule of the rule set."""

import pytest
from pyDatalog import pyDatalog, pyEngine

from reasoner.logic import pyload
from reasoner.logic.clauses import parse_program
from reasoner.logic.engine import _PYDATALOG_LOCK
from reasoner.logic.rulebook import rulebook


def shape(term):
    """A pyEngine term as plain data: kind, value (with its type: 1 and '1' and True differ)."""
    if isinstance(term, pyEngine.Var):
        return ("var", term.id)
    if isinstance(term, pyEngine.Const):
        return ("const", type(term.id).__name__, term.id)
    if isinstance(term, pyEngine.VarTuple):
        return ("tuple", tuple(shape(t) for t in term._id))
    if isinstance(term, pyEngine.Operation):
        return ("op", shape(term.lhs), term.operator, shape(term.rhs))
    raise AssertionError(f"unexpected term {term!r}")


def literal_shape(lit):
    return (lit.pred.name, lit.pred.arity, lit.pred.prearity, type(lit.aggregate).__name__,
            tuple(shape(t) for t in lit.terms))


def clause_shape(clause):
    return (literal_shape(clause.head), tuple(literal_shape(b) for b in clause.body))


def parsed_by_pydatalog(text):
    """The pyEngine clauses pyDatalog.load builds from a clause's text."""
    made, real = [], pyEngine.assert_

    def capture(clause):
        made.append(clause)
        return real(clause)

    pyEngine.assert_ = capture
    try:
        pyDatalog.load(text + "\n")
    finally:
        pyEngine.assert_ = real
    return made


@pytest.fixture
def fresh_program():
    with _PYDATALOG_LOCK:
        pyDatalog.clear()
        yield
        pyDatalog.clear()
    from reasoner.logic import engine as engine_module

    engine_module._LOCAL.__dict__.pop("engine", None)   # the thread's engine lost its program


def both_ways(clause):
    """(shape pyload builds, shapes pyDatalog's parser builds), each in a program of its own:
    predicates are shared objects in a program, so a prearity must be read before the next build."""
    pyDatalog.clear()
    mine = pyload.Builder().clause(clause)
    mine = (clause_shape(mine), str(mine))
    pyDatalog.clear()
    return mine, [(clause_shape(c), str(c)) for c in parsed_by_pydatalog(clause.text)]


def test_every_clause_of_the_rules_is_built_as_pydatalogs_parser_builds_it(fresh_program):
    direct = 0
    for clause in rulebook().clauses:
        try:
            mine, expected = both_ways(clause)
        except pyload._Unsupported:
            assert clause.head.__class__.__name__ == "Aggregate", f"{clause.where}: left to the parser: {clause.text}"
            continue
        assert [mine] == expected, clause.where
        direct += 1
    assert direct > 600   # nearly every clause was compared, not skipped


CONSTRUCTS = """
a(X, 'x') <= b(X, Y) & ~c(Y, 'True') & (Y >= 3) & (3 < Y) & (1 == Y) & (Y != 'K')
a(X, Z) <= b(X, Y) & (Z == Y + 2 * 3) & (Z == -Y) & (Z == 7 - Y // 2) & (Y in ('a', 'b')) & (Y not in [1, 2])
a(X, Z) <= b(X, Y) & (f[X] == Z) & (g[X, 'k'] == 4) & (Z <= -1) & (-1 > Z) & (Y == 2.5) & (Y == True) & (Y == False)
"""


def test_the_constructs_rules_use_are_built_as_pydatalogs_parser_builds_them(fresh_program):
    for clause in parse_program(CONSTRUCTS, "t.dl"):
        mine, expected = both_ways(clause)
        assert [mine] == expected, clause.text


def test_what_pydatalog_refuses_is_left_to_it(fresh_program):
    (clause,) = parse_program("a(X) <= b(X, Y) & (-Y == X)\n", "t.dl")
    with pytest.raises(pyload._Unsupported):
        pyload.Builder().clause(clause)
    with pytest.raises(Exception, match="assert or retract a fact"):
        pyload.load([clause])


def test_loading_keeps_program_order_and_answers_as_the_text_does(fresh_program):
    text = ("n(P, 0) <= p(P) & ~q(P, _A)\n"
            "(cnt[P] == len_(X)) <= q(P, X)\n"
            "n(P, N) <= (cnt[P] == N) & (N > 0)\n")
    parsed = pyload.load(parse_program(text, "t.dl"))
    assert parsed == 1   # only the aggregate went through the parser
    for fact in (("p", "a"), ("p", "b"), ("q", "b", 1), ("q", "b", 2)):
        pyDatalog.assert_fact(*fact)
    assert sorted(pyDatalog.ask("n(P, N)").answers) == [("a", 0), ("b", 2)]
