"""User-facing errors. Each carries what the CLI prints; none should surface as a traceback."""


class EligoError(Exception):
    """Base of errors the CLI reports as a message (exit code 2 unless stated)."""

    exit_code = 2


class InputError(EligoError):
    """Bad user input: a record, an option, a file."""


class FieldProblem:
    """One validation problem at one place in a record."""

    __slots__ = ("path", "expected", "got")

    def __init__(self, path, expected, got=None):
        self.path = path
        self.expected = expected
        self.got = got

    def render(self, filename):
        where = f"{filename}: {self.path}" if self.path else filename
        text = f"{where}: expected {self.expected}"
        if self.got is not None:
            text += f", got {self.got}"
        return text


class RecordError(InputError):
    """A record failed validation; holds every problem found, not just the first."""

    def __init__(self, filename, problems):
        self.filename = filename
        self.problems = list(problems)
        super().__init__("\n".join(p.render(filename) for p in self.problems))


class RuleError(EligoError):
    """A rule file is malformed (syntax, metadata) or the rules contradict themselves."""

    exit_code = 1


class RuleConflict(RuleError):
    """A criterion's condition was derived both true and false for one patient."""
