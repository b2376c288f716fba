"""Reads rules/: shared clauses (rules/lib/*.dl) and trial files (rules/trials/*.yaml).

A trial file holds the trial's metadata, optional helper clauses (`rules:`, predicates named
`<trial>_...`) and its criteria, each with `holds` / `lacks` bodies. The engine loads the clauses
this module builds; explanations, lint and coverage read the same Clause objects.
"""

import hashlib
import os
import pickle
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from ..errors import RuleError
from ..paths import data_root, installed_rules_dir, rules_dir
from ..record.predicates import BASE
from ..record.reference import reference
from .annotations import parse_annotations
from .clauses import Aggregate, Atom, Const, FunctionValue, bound_value, match_pattern, parse_body, parse_program

TRIAL_ID = re.compile(r"^[a-z][a-z0-9_]*$")
CRITERION_ID = re.compile(r"^[A-Z]+[0-9]+[a-z]?$")
HOLDS, LACKS = "crit_holds", "crit_lacks"
STRATUM = "crit_stratum"    # crit_stratum(P, Trial, Name, Value): randomisation strata (`strata:`)
STRATUM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
STRATUM_VALUE = re.compile(r"^[A-Za-z0-9_<>=.+ -]+$")
KINDS = ("inclusion", "exclusion")


@dataclass
class Criterion:
    trial: str
    id: str
    kind: str
    stages: tuple        # (None,) for unstaged trials
    text: str
    reading: str
    holds: list
    lacks: list
    file: str
    line: int
    needs: str = ""      # for an unknown outcome: in words, what would decide it (e.g. a test in its window)

    @property
    def clauses(self):
        return self.holds + self.lacks


@dataclass
class Trial:
    id: str
    name: str
    title: str
    registry: str
    version: str
    source: str
    stages: tuple
    criteria: list
    clauses: list          # helper clauses of the trial file
    file: str
    extra: dict = field(default_factory=dict)   # other top-level sections
    strata: list = field(default_factory=list)  # Stratum, in file order; their clauses are in `clauses` too
    phrases: list = field(default_factory=list)  # Phrase annotations (`#:`) of the helpers

    def criterion(self, cid):
        for crit in self.criteria:
            if crit.id == cid:
                return crit
        raise KeyError(cid)

    def stage_criteria(self, stage):
        return [c for c in self.criteria if stage in c.stages]


@dataclass
class Stratum:
    """A randomisation stratum: `crit_stratum(P, trial, name, value) <= body` per value body."""
    name: str
    values: tuple        # value names, in file order
    file: str
    line: int


def _strata(entries, tid, file):
    """Parse `strata:` [{name, values: {value: body or [bodies]}}] -> ([Stratum], [Clause])."""
    strata, clauses = [], []
    if entries is None:
        return strata, clauses
    if not isinstance(entries, list):
        raise RuleError(f"{file}: strata: expected a list of {{name, values}}")
    for entry in entries:
        line = entry.get("__line__", 1) if isinstance(entry, dict) else 1
        name = entry.get("name") if isinstance(entry, dict) else None
        values = entry.get("values") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not STRATUM_NAME.match(name) or name in {s.name for s in strata}:
            raise RuleError(f"{file}:{line}: strata: each stratum needs a unique lower-case `name`, got {name!r}")
        if not isinstance(values, dict) or not [k for k in values if not str(k).startswith("__")]:
            raise RuleError(f"{file}:{line}: strata.{name}.values: expected a mapping value -> rule bodies")
        names = []
        for value in [k for k in values if not str(k).startswith("__")]:
            if not isinstance(value, str) or not STRATUM_VALUE.match(value):
                raise RuleError(f"{file}:{line}: strata.{name}: value {value!r} must be text of letters, digits, "
                                "_ < > = . + - (quote yes/no)")
            head = f"{STRATUM}(P, '{tid}', '{name}', '{value}')"
            for clause in _bodies(values, value, tid, f"stratum {name}", file, head=head, label=value):
                clauses.append(replace(clause, criterion=None))   # a helper-like root, not a criterion's rule
            names.append(value)
        strata.append(Stratum(name, tuple(names), file, line))
    return strata, clauses


@dataclass
class Rulebook:
    trials: dict          # id -> Trial, in file-name order
    lib: list             # clauses of rules/lib/*.dl
    sha256: str           # of every rule and reference file (names and bytes), for reports
    folder: str = "rules"  # the rules folder read: "rules" (installed) or a working copy's absolute path
    phrases: dict = field(default_factory=dict)   # pred -> Phrase (`#:` annotations beside the rules)

    @property
    def key(self):
        """Identity for caches: two folders with the same content still cite different files."""
        return self.sha256 if self.folder == "rules" else f"{self.sha256}@{self.folder}"

    @property
    def clauses(self):
        out = list(self.lib)
        for trial in self.trials.values():
            out += trial.clauses
            for crit in trial.criteria:
                out += crit.clauses
        return out

    def negation_cycles(self):
        """[(where, a, b)]: a depends on b through a negation or an aggregate inside a cycle (not
        stratifiable). Computed once and pickled with the parsed rules, so `eligo check` need not
        import networkx (~0.15 s); a changed copy (dataclasses.replace) computes its own."""
        if "_negation_cycles" not in self.__dict__:
            self.__dict__["_negation_cycles"] = _negation_cycles(self.clauses)
        return self.__dict__["_negation_cycles"]

    def criteria_catalogue(self):
        """{trial id: {criterion id: whether its rules read an attestation}}, for record validation
        (the pipeline hands it to record.read.validate): computed from the rules, never kept by
        hand, and pickled with them as negation_cycles is."""
        if "_criteria_catalogue" not in self.__dict__:
            self.__dict__["_criteria_catalogue"] = {
                tid: {crit.id: takes_attestation(self, trial, crit) for crit in trial.criteria}
                for tid, trial in self.trials.items()}
        return self.__dict__["_criteria_catalogue"]

    def criterion_reads(self, crit):
        """Base-predicate patterns crit's rules can read (dependencies of its clauses), per
        criterion: computed with the catalogue and pickled with the rules, as it is, so a cold
        `eligo check` does not walk the rules again for its caveats, missing inputs and trial
        dates (~25 ms)."""
        reads = self.__dict__.setdefault("_criterion_reads", {})
        key = (crit.trial, crit.id)
        if key not in reads:
            reads[key] = frozenset(dependencies(self, crit.clauses))
        return reads[key]

    def program(self):
        """The whole program text for pyDatalog.load (clause texts only, no record values)."""
        return "\n".join(c.text for c in self.clauses) + "\n"

    def definitions(self):
        """predicate name -> clauses defining it (aggregate functions included); built once per
        rule book (callers read it, never change it)."""
        defs = self.__dict__.get("_definitions")
        if defs is None:
            defs = {}
            for clause in self.clauses:
                defs.setdefault(clause.head.pred, []).append(clause)
            self.__dict__["_definitions"] = defs
        return defs

    def reads(self, pred, pattern, positive=False):
        """The base-fact patterns pred(pattern) can read (dependencies of one call), computed once
        per rule book and call (explanations ask the same ones for every patient)."""
        cache = self.__dict__.setdefault("_reads", {})
        key = (pred, tuple(pattern), positive)
        if key not in cache:
            cache[key] = frozenset(dependencies(self, (), [key[:2]], positive))
        return cache[key]

    def trial(self, tid):
        if tid not in self.trials:
            from ..errors import InputError

            raise InputError(f"unknown trial {tid!r}; expected one of: {', '.join(self.trials)}")
        return self.trials[tid]


def _relative(path):
    try:
        return str(Path(path).resolve().relative_to(data_root().resolve()))
    except ValueError:
        return str(path)


class _LineLoader(yaml.SafeLoader):
    """Safe YAML that remembers the line of every mapping (for file:line in rule errors)."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=True)
        mapping["__line__"] = node.start_mark.line + 1
        for key_node, value_node in node.value:
            if isinstance(value_node, yaml.ScalarNode):
                mapping[f"__line_{key_node.value}__"] = value_node.start_mark.line + 1 + (1 if value_node.style in ("|", ">") else 0)
            elif isinstance(value_node, yaml.SequenceNode):
                mapping[f"__lines_{key_node.value}__"] = [
                    item.start_mark.line + 1 + (1 if isinstance(item, yaml.ScalarNode) and item.style in ("|", ">") else 0)
                    for item in value_node.value]
        return mapping


def _need(entry, key, where, kind=str):
    value = entry.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise RuleError(f"{where}: `{key}` is required ({'text' if kind is str else kind.__name__})")
    return value


def _bodies(entry, side, trial, cid, file, head=None, label=None):
    bodies = entry.get(side, [])
    if isinstance(bodies, str):
        bodies = [bodies]
        lines = [entry.get(f"__line_{side}__", entry["__line__"])]
    else:
        lines = entry.get(f"__lines_{side}__", [entry["__line__"]] * len(bodies))
    if not isinstance(bodies, list) or not all(isinstance(b, str) for b in bodies):
        raise RuleError(f"{file}:{entry['__line__']}: {cid}.{side}: expected a list of rule bodies (text)")
    head = head or f"{HOLDS if side == 'holds' else LACKS}(P, '{trial}', '{cid}')"
    return [parse_body(body, head, file, line, (trial, cid, label or side)) for body, line in zip(bodies, lines)]


def load_trial(path):
    file = _relative(path)
    try:
        doc = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as err:
        raise RuleError(f"{file}: invalid YAML: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("trial"), dict):
        raise RuleError(f"{file}: expected a mapping with `trial:` metadata")
    meta = doc["trial"]
    where = f"{file}:{meta['__line__']}"
    tid = _need(meta, "id", where)
    if not TRIAL_ID.match(tid) or Path(path).stem != tid:
        raise RuleError(f"{where}: trial id {tid!r} must be lower-case [a-z0-9_] and equal the file name")
    stages = tuple(meta.get("stages") or (None,))
    helpers = []
    if doc.get("rules"):
        helpers = parse_program(doc["rules"], file, doc["__line_rules__"])
        for clause in helpers:
            if not clause.head.pred.startswith(tid + "_"):
                raise RuleError(f"{clause.where}: helper predicate {clause.head.pred!r} must be named {tid}_...")
    phrases = parse_annotations(Path(path).read_text(encoding="utf-8"), file)   # `#:` lines anywhere in the file
    criteria, seen = [], set()
    for entry in doc.get("criteria") or []:
        cwhere = f"{file}:{entry['__line__']}"
        cid = _need(entry, "id", cwhere)
        if not CRITERION_ID.match(cid) or cid in seen:
            raise RuleError(f"{cwhere}: criterion id {cid!r} must be unique and look like I1, E2, P10, S3")
        seen.add(cid)
        kind = _need(entry, "kind", cwhere)
        if kind not in KINDS:
            raise RuleError(f"{cwhere}: {cid}.kind: expected inclusion or exclusion, got {kind!r}")
        stage = entry.get("stage")
        crit_stages = tuple(stage) if isinstance(stage, list) else (stage,)
        if any(s not in stages for s in crit_stages):
            raise RuleError(f"{cwhere}: {cid}.stage: expected one of {[s for s in stages if s]}, got {stage!r}")
        criteria.append(Criterion(
            trial=tid, id=cid, kind=kind, stages=crit_stages,
            text=_need(entry, "text", cwhere).strip(), reading=_need(entry, "reading", cwhere).strip(),
            holds=_bodies(entry, "holds", tid, cid, file), lacks=_bodies(entry, "lacks", tid, cid, file),
            file=file, line=entry["__line__"], needs=" ".join(str(entry.get("needs") or "").split())))
    if not criteria:
        raise RuleError(f"{file}: no criteria")
    strata, stratum_clauses = _strata(doc.get("strata"), tid, file)
    extra = {k: _strip_lines(v) for k, v in doc.items() if k not in ("trial", "rules", "criteria", "strata") and not k.startswith("__")}
    return Trial(id=tid, name=_need(meta, "name", where), title=meta.get("title", ""), registry=meta.get("registry", ""),
                 version=str(meta.get("version", "")), source=meta.get("source", ""), stages=stages,
                 criteria=criteria, clauses=helpers + stratum_clauses, file=file, extra=extra, strata=strata,
                 phrases=phrases)


def _strip_lines(value):
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def rule_files(root=None):
    root = Path(root) if root else rules_dir()
    return sorted((root / "lib").glob("*.dl")), sorted((root / "trials").glob("*.yaml"))


def ruleset_sha256(lib_files, trial_files, root=None):
    """SHA-256 over every rule and reference file (names and bytes): the rule set's identity.

    Rule files are named as they sit in the rules folder (rules/lib/x.dl), wherever that folder
    is, so a working copy with the installed content has the installed hash."""
    root = Path(root) if root else rules_dir()
    digest = hashlib.sha256()
    for path in list(lib_files) + list(trial_files):
        name = "rules/" + Path(path).relative_to(root).as_posix()
        digest.update(name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    for path in reference().files:
        digest.update(_relative(path).encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.hexdigest()


def folder_name(root):
    """How reports name a rules folder: "rules" for the installed one, else its absolute path."""
    root = Path(root).resolve()
    return "rules" if root == installed_rules_dir().resolve() else str(root)


def build(root=None):
    """Parse every rule file under root (default: the rules in use, paths.rules_dir())."""
    root = Path(root) if root else rules_dir()
    lib_files, trial_files = rule_files(root)
    return _parse(lib_files, trial_files, ruleset_sha256(lib_files, trial_files, root), folder_name(root))


def _parse(lib_files, trial_files, sha256, folder="rules"):
    lib, phrases = [], []
    for path in lib_files:
        text = path.read_text(encoding="utf-8")
        lib += parse_program(text, _relative(path))
        phrases += parse_annotations(text, _relative(path))
    trials = {}
    for path in trial_files:
        trial = load_trial(path)
        trials[trial.id] = trial
        phrases += trial.phrases
    table = {}
    for phrase in phrases:
        if phrase.pred in table:
            raise RuleError(f"{phrase.where}: {phrase.pred} already has words at {table[phrase.pred].where}")
        table[phrase.pred] = phrase
    return Rulebook(trials=trials, lib=lib, sha256=sha256, folder=folder, phrases=table)


def _negation_cycles(clauses):
    import networkx as nx

    graph = nx.DiGraph()
    for clause in clauses:
        head = clause.head.pred
        graph.add_node(head)
        for lit in clause.body:
            if isinstance(lit, (Atom, FunctionValue)):
                negative = (isinstance(lit, Atom) and lit.negated) or isinstance(clause.head, Aggregate)
                if graph.has_edge(head, lit.pred):
                    negative = negative or graph[head][lit.pred]["negative"]
                graph.add_edge(head, lit.pred, negative=negative, where=clause.where)
    problems = []
    for component in nx.strongly_connected_components(graph):
        for a, b, data in graph.subgraph(component).edges(data=True):
            if data["negative"]:
                problems.append((data["where"], a, b))
    return sorted(problems)


def _parser_code_sha():
    """The code that shapes the pickled objects, so a changed parser never reads an old cache."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for name in ("logic/annotations.py", "logic/clauses.py", "logic/rulebook.py", "record/predicates.py", "record/reference.py"):
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:12]


def _cache_file(sha256, folder="rules"):
    """Parsed rule sets are cached per content hash: parsing five trials costs ~0.8 s of a cold
    `eligo check`. A working copy's entry is keyed by its folder too, since its clauses cite its
    own files. ELIGO_CACHE=off disables it; a cache that cannot be read or written is ignored."""
    from .. import __version__

    root = os.environ.get("ELIGO_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eligo")
    tag = f"{__version__}-py{sys.version_info[0]}{sys.version_info[1]}-{_parser_code_sha()}"
    where = "" if folder == "rules" else "-" + hashlib.sha256(folder.encode()).hexdigest()[:16]
    return Path(root) / f"rulebook-{tag}-{sha256}{where}.pickle"


_BOOKS = {}


def rulebook():
    """The parsed rules in use (paths.rules_dir(): the installed rules or a --rules working copy),
    parsed once per folder and process (build() always reads the files afresh)."""
    root = rules_dir()
    book = _BOOKS.get(root)
    if book is None:
        lib_files, trial_files = rule_files(root)
        book = _BOOKS[root] = _load(root, lib_files, trial_files)
    return book


def _load(root, lib_files, trial_files):
    sha256 = ruleset_sha256(lib_files, trial_files, root)
    folder = folder_name(root)
    if os.environ.get("ELIGO_CACHE") == "off":
        return _parse(lib_files, trial_files, sha256, folder)
    path = _cache_file(sha256, folder)
    try:
        book = pickle.loads(path.read_bytes())  # noqa: S301 - our own cache, keyed by the rules' hash
        if isinstance(book, Rulebook) and book.sha256 == sha256 and book.folder == folder:
            return book
    except Exception:  # noqa: BLE001 - absent, stale or unreadable: rebuild
        pass
    book = _parse(lib_files, trial_files, sha256, folder)
    book.negation_cycles()   # cached with the rules
    book.criteria_catalogue()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, path)
        if folder != "rules":   # a working copy changes often: keep only its latest entry
            for older in path.parent.glob("rulebook-*" + path.name[path.name.rindex("-"):]):
                if older != path:
                    older.unlink(missing_ok=True)
    except OSError:
        pass
    return book


def dependencies(book, clauses, calls=(), positive=False):
    """Base-predicate patterns the clauses (and the calls, (pred, pattern) with None = free) can
    read: {(pred, (const-or-None, ...))}; positive: only through literals not negated (what a new
    fact can make true).

    Constants flow from a calling literal into the clauses it may use, so that, e.g., a criterion
    asking about finding(P, 'malignant_ascites', X) depends on that finding only.
    """
    defs, seen, out = book.definitions(), set(), set()

    def visit_body(body, subst):
        for lit in body:
            if positive and getattr(lit, "negated", False):
                continue
            if isinstance(lit, (Atom, FunctionValue)):
                args = lit.args + ((lit.value,) if isinstance(lit, FunctionValue) else ())
                pattern = tuple(bound_value(a, subst) for a in args)
                visit(lit.pred, pattern)

    def visit(pred, pattern):
        if (pred, pattern) in seen:
            return
        seen.add((pred, pattern))
        if pred in BASE:
            out.add((pred, pattern))
            return
        for clause in defs.get(pred, []):
            head_args = clause.head.args + ((clause.head.target,) if hasattr(clause.head, "agg") else ())
            subst = {}
            if match_pattern(head_args, pattern, subst):
                visit_body(clause.body, subst)

    for clause in clauses:
        subst = {}
        match_pattern(clause.head.args, tuple(a.value if isinstance(a, Const) else None for a in clause.head.args), subst)
        visit_body(clause.body, subst)
    for pred, pattern in calls:
        visit(pred, tuple(pattern))
    return out


def takes_attestation(book, trial, crit):
    """True when crit's holds or lacks clauses reach attested(_, trial, crit, _), directly or through helpers."""
    return any(pred == "attested" and pattern[1] in (None, trial.id) and pattern[2] in (None, crit.id)
               for pred, pattern in book.criterion_reads(crit))
