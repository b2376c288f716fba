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
        return visible(text)   # one problem, one line: a file name or value cannot add a line


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


class OutputError(EligoError):
    """An output that cannot be written safely: it is an input, another output, locked by another
    run, or the disk refused it (full, read-only). Nothing half-written is left behind."""


def visible(text, keep=""):
    """Text safe to print: every character that is not printable (newlines, ESC, bidi overrides such
    as U+202E, zero-width characters) as a visible escape (\\n, \\x1b, \\u202e), so a value can never
    start a new line, move the cursor or reorder what a reader sees. Spaces stay spaces; characters
    in `keep` (e.g. newlines where the format treats them as plain white space) stay as they are."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in keep else _escape(ch) for ch in text)


def visible_json(text):
    """JSON text (json.dumps output) with every non-printable character inside its strings written as
    a \\uXXXX escape: the same JSON value when read back, but no raw bidi override or zero-width
    character reaches a terminal or an editor. Raw newlines in JSON text are its own indentation."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else _json_escape(ch) for ch in text)


def _json_escape(ch):
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def visible_lines(text):
    """A message whose lines are its structure (one problem per line): each line made visible."""
    return "\n".join(visible(line) for line in str(text).split("\n"))


def _escape(ch):
    code = ord(ch)
    if ch in "\n\t\r":
        return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
