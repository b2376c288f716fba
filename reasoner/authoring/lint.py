"""`eligo lint`: static checks of a rule set, each finding with file:line.

Checks: syntax (and malformed rule files), undefined predicates, predicates defined but never
used, arity clashes, derived predicates without words (a `#:` phrase annotation or the phrasebook)
and annotations that word no such predicate, unsafe variables (safety.py), negation cycles
(Rulebook.negation_cycles), right recursion (pyDatalog never terminates on it over a cycle),
criteria lacking text / reading / holds / lacks rules, and criteria no test case names.
A path is a rules root (lib/ + trials/ + tests/) or one trial file (rules/trials/x.yaml), which
is then checked with its root's lib/ and tests/ only.
"""

import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from ..errors import EligoError, InputError, RuleError
from ..logic.annotations import parse_annotations
from ..logic.clauses import Aggregate, Atom, FunctionValue, parse_program
from ..logic.rulebook import HOLDS, LACKS, Rulebook, _relative, dependencies, load_trial
from ..record.predicates import BASE
from ..record.predicates import where as record_path
from .cases import LineLoader, load_cases, named_criteria
from .runner import is_rules_root
from .safety import unsafe


def roots(book):
    """Predicates the engine queries with free arguments: criterion heads and whatever else a trial
    file defines that is not a `<trial>_` helper (e.g. randomisation strata)."""
    return {HOLDS, LACKS} | {c.head.pred for t in book.trials.values() for c in t.clauses if not c.head.pred.startswith(t.id + "_")}

UNUSED_OK = "# lint: unused-ok"   # on a lib clause's line: vocabulary kept for rule authors though no rule uses it yet
RECURSION_OK = "# lint: recursion-ok"   # on a clause's line: what the right recursion walks cannot have a cycle (say why)
_WHERE = re.compile(r"^(?P<file>[^:\n]+?):(?P<line>\d+): (?P<message>.*)$", re.S)


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    check: str
    message: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.check}: {self.message}"


def _from_error(err, check, default_file):
    match = _WHERE.match(str(err))
    if match:
        return Finding(match["file"], int(match["line"]), check, match["message"])
    text = str(err)
    prefix = f"{default_file}: "
    return Finding(default_file, 0, check, text[len(prefix):] if text.startswith(prefix) else text)


def _target(path):
    """(rules root, trial file or None) of a lint argument."""
    path = Path(path)
    if path.is_dir() and is_rules_root(path):
        return path, None
    if path.is_file() and path.suffix in (".yaml", ".yml") and path.parent.name == "trials":
        return path.parent.parent, path
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    raise InputError(f"{path}: expected a rules folder (with lib/ and trials/) or a trial file rules/trials/<id>.yaml")


def lint(paths=None):
    """Every Finding for the given roots / trial files (default: the installed rules), sorted."""
    from ..paths import rules_dir

    findings = set()
    for path in paths or [rules_dir()]:
        root, trial_file = _target(path)
        findings |= set(lint_root(root, trial_file))
    return sorted(findings)


def lint_root(root, trial_file=None):
    root = Path(root)
    findings = []
    lib, exported, acyclic, phrases = [], set(), set(), []
    for path in sorted((root / "lib").glob("*.dl")):
        text = path.read_text(encoding="utf-8")
        exported |= {(_relative(path), n) for n, line in enumerate(text.splitlines(), 1) if UNUSED_OK in line}
        acyclic |= _marked(path, text)
        try:
            lib += parse_program(text, _relative(path))
            phrases += parse_annotations(text, _relative(path))
        except RuleError as err:
            findings.append(_from_error(err, "syntax", _relative(path)))
    trial_paths = [Path(trial_file)] if trial_file else sorted((root / "trials").glob("*.yaml"))
    trials = {}
    for path in trial_paths:
        try:
            acyclic |= _marked(path, path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            pass   # load_trial reports it
        structural = criterion_fields(path)
        findings += structural
        try:
            trial = load_trial(path)
            trials[trial.id] = trial
            phrases += trial.phrases
        except RuleError as err:
            finding = _from_error(err, "syntax", _relative(path))
            if not any(f.file == finding.file and f.line == finding.line for f in structural):
                findings.append(finding)
    book = Rulebook(trials=trials, lib=lib, sha256="")
    clauses = book.clauses
    own = clauses if trial_file is None else [c for t in trials.values() for c in t.clauses + [x for cr in t.criteria for x in cr.clauses]]
    broken = [f for f in findings if f.check == "syntax"]
    if broken:   # a file that did not load would make its predicates look undefined or unused
        findings = [f for f in findings if f.check != "syntax"]
        findings += [replace(f, message=f"{f.message} (undefined/unused checks wait until every rule file loads)") for f in broken]
    else:
        kept = {c.head.pred for c in lib if (c.file, c.line) in exported}
        findings += undefined(clauses) + unused(clauses, [c for c in own if c.head.pred not in kept], roots(book))
    findings += arity(clauses)
    findings += words(clauses, own, phrases)
    findings += [Finding(u.clause.file, u.clause.line, "unsafe", f"{u.var} in `{u.literal}`: {u.why}")
                 for u in unsafe(clauses, roots(book))]
    for where, a, b in book.negation_cycles():
        file, line = where.rsplit(":", 1)
        findings.append(Finding(file, int(line), "negation-cycle",
                                f"{a} depends on itself through negation or an aggregate (via {b}): not stratifiable"))
    findings += right_recursion(clauses, acyclic)
    findings += untested(root, trials.values())
    if not broken:
        findings += needs_text(book)
    return findings


def _marked(path, text):
    return {(_relative(path), n) for n, line in enumerate(text.splitlines(), 1) if RECURSION_OK in line}


def right_recursion(clauses, acyclic=frozenset()):
    """Recursive clauses whose recursive literal follows another positive literal, e.g.
    `r(X, Y) <= edge(X, Z) & r(Z, Y)`. pyDatalog 0.22.4 never terminates on that form when the
    relation it walks holds a cycle of three or more values (0 -> 1 -> 2 -> 0), inside compiled
    code that no signal stops, so `eligo check` would hang; the left-recursive form
    `r(X, Y) <= r(X, Z) & edge(Z, Y)` answers at once. A clause whose line carries
    `# lint: recursion-ok (why)` is accepted: its author states the walked relation is acyclic."""
    import networkx as nx

    graph = nx.DiGraph()
    for clause, lit in _uses(clauses):
        graph.add_edge(clause.head.pred, lit.pred)
    component = {}
    for members in nx.strongly_connected_components(graph):
        for pred in members:
            component[pred] = members
    out = []
    for clause in clauses:
        cycle = component.get(clause.head.pred, ())
        positive = [lit for lit in clause.body if isinstance(lit, FunctionValue) or (isinstance(lit, Atom) and not lit.negated)]
        recursive = [i for i, lit in enumerate(positive)
                     if lit.pred in cycle and (len(cycle) > 1 or graph.has_edge(lit.pred, lit.pred))]
        if not recursive or recursive[0] == 0 or (clause.file, clause.line) in acyclic:
            continue
        walked, call = positive[recursive[0] - 1], positive[recursive[0]]
        out.append(Finding(clause.file, clause.line, "recursion",
                           f"{call} is called after {walked}: pyDatalog 0.22.4 never terminates on this right recursion "
                           f"when {walked.pred} links values in a cycle of three or more; put the recursive literal first "
                           f"(r(X, Y) <= r(X, Z) & edge(Z, Y)) or, if {walked.pred} cannot hold a cycle, say why with "
                           f"`{RECURSION_OK} (...)` on the clause's line"))
    return out


def criterion_fields(path):
    """Criteria lacking text, reading, holds or lacks (all reported, not just the first)."""
    file = _relative(path)
    try:
        doc = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=LineLoader)  # noqa: S506 - SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError):
        return []    # load_trial reports it
    out = []
    for entry in (doc.get("criteria") or []) if isinstance(doc, dict) else []:
        if not isinstance(entry, dict):
            continue
        cid = entry.get("id", "?")
        for key in ("text", "reading"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                out.append(Finding(file, entry["__line__"], "criterion",
                                   f"{cid}: no `{key}` (the protocol's words and the reading used are both required)"))
        for side, consequence in (("holds", "holds"), ("lacks", "lacks")):
            if not entry.get(side):
                out.append(Finding(file, entry["__line__"], "criterion",
                                   f"{cid}: no `{side}` rules, so the rules can never conclude that its condition {consequence}"))
    return out


def _uses(clauses):
    for clause in clauses:
        for lit in clause.body:
            if isinstance(lit, (Atom, FunctionValue)):
                yield clause, lit


def undefined(clauses):
    defined = {c.head.pred for c in clauses}
    functions = {c.head.pred for c in clauses if isinstance(c.head, Aggregate)}
    out = []
    for clause, lit in _uses(clauses):
        if isinstance(lit, FunctionValue) and lit.pred not in functions:
            what = "a predicate, not an aggregate function" if lit.pred in defined else "not defined by any aggregate clause"
            out.append(Finding(clause.file, clause.line, "undefined", f"function {lit.pred}[...] is {what}"))
        elif isinstance(lit, Atom) and lit.pred not in BASE and lit.pred not in defined:
            out.append(Finding(clause.file, clause.line, "undefined",
                               f"{lit.pred}/{lit.arity} is neither a base predicate (reasoner/record/predicates.py) nor defined by a rule"))
    return out


def arity(clauses):
    """A predicate used or defined with another number of arguments than its base/first definition."""
    expected = {name: (pred.arity, "reasoner/record/predicates.py") for name, pred in BASE.items()}
    out = []
    for clause in clauses:
        pred, n = clause.head.pred, clause.head.arity
        if pred in expected and expected[pred][0] != n:
            first, where = expected[pred]
            out.append(Finding(clause.file, clause.line, "arity", f"{pred} defined with {n} arguments, but it has {first} at {where}"))
        expected.setdefault(pred, (n, clause.where))
    for clause, lit in _uses(clauses):
        if lit.pred in expected and expected[lit.pred][0] != lit.arity:
            n, where = expected[lit.pred]
            out.append(Finding(clause.file, clause.line, "arity", f"{lit.pred} used with {lit.arity} arguments, but it has {n} at {where}"))
    return out


def words(clauses, own, phrases):
    """Every helper of a trial file reads as words (explanations never show a helper's name), and
    every `#:` annotation words a predicate defined with as many arguments."""
    from ..explain.phrasebook import BASE_PHRASES, DERIVED_PHRASES, FUNCTION_NOUNS

    arities = {}
    for clause in clauses:
        arities.setdefault(clause.head.pred, clause.head.arity)
    worded = {p.pred for p in phrases} | set(DERIVED_PHRASES) | set(FUNCTION_NOUNS) | set(BASE_PHRASES)
    out, seen = [], set()
    for phrase in phrases:
        if phrase.pred not in arities:
            out.append(Finding(phrase.file, phrase.line, "words", f"annotation of {phrase.pred}, which no rule defines"))
        elif arities[phrase.pred] != len(phrase.args):
            out.append(Finding(phrase.file, phrase.line, "words", f"annotation of {phrase.pred} with {len(phrase.args)} "
                               f"arguments, but it has {arities[phrase.pred]}"))
    for clause in own:
        pred = clause.head.pred
        if not clause.file.startswith("rules/trials/") and "/trials/" not in clause.file:
            continue    # rules/lib words live in the phrasebook; tests/test_condense.py holds them complete
        if pred in worded or pred in seen or pred in (HOLDS, LACKS) or pred.startswith("crit_"):
            continue
        seen.add(pred)
        out.append(Finding(clause.file, clause.line, "words", f"{pred} has no words: add `#: {pred}(P, ...): words` "
                           "beside its rules, so explanations never show its name"))
    return out


def unused(clauses, own, entry):
    """Predicates defined by a clause in own that no clause ever uses (criterion heads excepted)."""
    used = {lit.pred for _clause, lit in _uses(clauses)}
    out, seen = [], set()
    for clause in own:
        pred = clause.head.pred
        if pred not in used and pred not in entry and pred not in seen:
            seen.add(pred)
            out.append(Finding(clause.file, clause.line, "unused", f"{pred} is defined but no rule uses it"))
    return out


_NEEDS_PATH = re.compile(r"\b(dates\.[a-z_]+|[a-z_]+\[\])")


def needs_text(book):
    """A criterion's `needs:` (docs/rules.md) replaces what to_decide derives for its passing side,
    so it must stay true to that side's rules: the side has rules, and every record place it
    names (`dates.<kind>`, `<section>[]`) is one they read."""
    out = []
    for trial in book.trials.values():
        for crit in trial.criteria:
            if not crit.needs:
                continue
            clauses = crit.holds if crit.kind == "inclusion" else crit.lacks
            if not clauses:
                out.append(Finding(_relative(crit.file), crit.line, "needs",
                                   f"{crit.id}: needs: words the passing side, which has no rules"))
                continue
            read = set()
            for pred, pattern in dependencies(book, clauses):
                if pred in BASE and BASE[pred].patient:
                    offset = 1
                    read.add(record_path(pred, {i: v for i, v in enumerate(pattern) if v is not None and i >= offset}))
                if pred == "trial_planned" and pattern[2] is not None:
                    read.add(f"dates.{pattern[2]}")
            for name in _NEEDS_PATH.findall(crit.needs):
                if not any(path == name or path.startswith(name.rstrip("[]") + ("[" if name.endswith("[]") else ""))
                           for path in read):
                    out.append(Finding(_relative(crit.file), crit.line, "needs",
                                       f"{crit.id}: needs: names {name}, which its {'holds' if crit.kind == 'inclusion' else 'lacks'} "
                                       f"rules do not read (they read {', '.join(sorted(read))})"))
    return out


def untested(root, trials):
    """Criteria no test case of root/tests/ names (under `criteria:` or `missing:`)."""
    named, out = {}, []
    for path in sorted((Path(root) / "tests").glob("*.yaml")):
        try:
            cases = load_cases(path)
        except EligoError as err:
            out.append(_from_error(err, "tests", _relative(path)))
            continue
        for case in cases:
            named.setdefault(case.trial, set()).update(named_criteria(case))
    for trial in trials:
        if trial.id not in named:
            out.append(Finding(trial.file, 1, "untested",
                               f"trial {trial.id} has no rule tests (expected {Path(root).name}/tests/{trial.id}.yaml)"))
            continue
        for crit in trial.criteria:
            if crit.id not in named[trial.id]:
                out.append(Finding(crit.file, crit.line, "untested", f"{trial.id}/{crit.id}: no test case expects its outcome"))
    return out
