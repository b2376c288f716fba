"""Where rules/ and facts/ live: the source checkout, or the installed share/eligo copy.

A working copy of the rules (`--rules DIR`, same layout as rules/) replaces rules/ for one command
or one `with using_rules(DIR):` block: it is held in a context variable, so it never outlives the
block that set it nor leaks into another thread or test. facts/reference/ is never replaced.
"""

import contextvars
import os
import sys
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

_RULES = contextvars.ContextVar("eligo_rules", default=None)
_CHECKED = {}   # rules folder as given -> resolved, once checked


def data_root() -> Path:
    """Checkout first (editable installs, running from the repo), then the installed data files."""
    override = os.environ.get("ELIGO_HOME")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "rules" / "trials").is_dir():
        return checkout
    for prefix in (sys.prefix, sys.base_prefix):
        installed = Path(prefix) / "share" / "eligo"
        if (installed / "rules" / "trials").is_dir():
            return installed
    raise FileNotFoundError("Eligo's rules/ and facts/ were not found; reinstall the package")


@lru_cache(maxsize=1)
def installed_rules_dir() -> Path:
    return (data_root() / "rules").resolve()


def rules_dir() -> Path:
    """The rules in use: the working copy set by using_rules(), else the installed rules/."""
    return _RULES.get() or installed_rules_dir()


def rules_folder_problem(path):
    """Why path is not a rules folder (None if it is one): lib/*.dl and trials/*.yaml, as in rules/."""
    path = Path(path)
    if not path.is_dir():
        return "no such folder; expected a rules folder with lib/*.dl and trials/*.yaml (the layout of rules/)"
    lacking = [f"{sub}/*{ext}" for sub, ext in (("lib", ".dl"), ("trials", ".yaml"))
               if not any((path / sub).glob(f"*{ext}"))]
    if lacking:
        return f"not a rules folder: expected {' and '.join(lacking)} inside (the layout of rules/)"
    return None


@contextmanager
def using_rules(path):
    """Within the block, rules_dir() is path (resolved); None keeps the current rules."""
    if path is None:
        yield
        return
    token = set_rules(path)
    try:
        yield
    finally:
        _RULES.reset(token)


def set_rules(path):
    """Make path the rules in use in this context (a worker process, a CLI invocation); returns the
    token that restores the previous value. Refuses (InputError) a path that is not a rules folder."""
    from .errors import InputError

    key = str(path)
    if key not in _CHECKED:    # checked once per process: a cohort run sets it per batch or patient
        problem = rules_folder_problem(path)
        if problem:
            raise InputError(f"--rules {path}: {problem}")
        _CHECKED[key] = Path(path).resolve()
    return _RULES.set(_CHECKED[key])


def restore_rules(token):
    try:
        _RULES.reset(token)
    except (ValueError, RuntimeError):   # already restored by an enclosing rules_scope()
        pass


@contextmanager
def rules_scope():
    """Whatever is set inside (set_rules) is undone on leaving: one CLI invocation, one test."""
    token = _RULES.set(_RULES.get())
    try:
        yield
    finally:
        _RULES.reset(token)


def reference_dir() -> Path:
    return data_root() / "facts" / "reference"


def patients_dir() -> Path:
    return data_root() / "facts" / "patients"
