"""Phrase annotations beside the rules: the words a derived predicate reads as, written by the rule
author next to its clauses (after s(CASP)'s `#pred` declarations), so no helper name is ever shown
and no Python is edited to give one words.

    #: taormina_known(P, R): {R} status known

One comment line per predicate: `#:`, the predicate with one variable per argument, a colon, and
the words, where {Var} stands for that argument's value (shown as the record holds it). The
patient argument P is not shown. Lint checks each annotation against the clauses it words.
"""

import re
from dataclasses import dataclass

from ..errors import RuleError

ANNOTATION = re.compile(r"^\s*#:\s*(?P<pred>[a-z][a-z0-9_]*)\((?P<args>[^)]*)\)\s*:\s*(?P<words>\S.*?)\s*$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Phrase:
    pred: str
    args: tuple          # variable names, as written
    words: str           # with {Var} placeholders
    file: str
    line: int

    @property
    def where(self):
        return f"{self.file}:{self.line}"

    @property
    def template(self):
        """The words with positional placeholders after the patient ({0} = first argument after P)."""
        offset = 1 if self.args and self.args[0] == "P" else 0
        index = {name: i - offset for i, name in enumerate(self.args)}
        return PLACEHOLDER.sub(lambda m: "{" + str(index[m.group(1)]) + "}", self.words.replace("{{", "\0").replace("}}", "\1")
                               ).replace("\0", "{{").replace("\1", "}}")


def parse_annotations(source, file, first_line=1):
    """Every `#:` phrase annotation of a rule text; a malformed one is a RuleError naming its line."""
    out = []
    for number, line in enumerate(source.splitlines(), start=first_line):
        if not line.lstrip().startswith("#:"):
            continue
        match = ANNOTATION.match(line)
        where = f"{file}:{number}"
        if not match:
            raise RuleError(f"{where}: phrase annotation: expected `#: pred(P, X): words with {{X}}`, got {line.strip()!r}")
        args = tuple(a.strip() for a in match["args"].split(",")) if match["args"].strip() else ()
        if any(not re.fullmatch(r"[A-Z][A-Za-z0-9_]*", a) for a in args) or len(set(args)) != len(args):
            raise RuleError(f"{where}: phrase annotation of {match['pred']}: arguments must be distinct variables "
                            f"(P, X, ...), got ({match['args']})")
        for name in PLACEHOLDER.findall(match["words"]):
            if name not in args or (name == "P" and args[0] == "P"):
                raise RuleError(f"{where}: phrase annotation of {match['pred']}: {{{name}}} is not one of its "
                                f"shown arguments ({', '.join(a for a in args if a != 'P') or 'none'})")
        out.append(Phrase(match["pred"], args, match["words"], file, number))
    return out
