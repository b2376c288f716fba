"""What judged: a hash of the installed reasoner/ code and the versions of the libraries it ran on,
so an audit report names the code, not only the version number (which need not change between
commits) and the rules' hash."""

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

# The distributions whose behaviour decides a verdict or its explanation (setup.py install_requires).
DEPENDENCIES = ("pyDatalog", "networkx", "click", "PyYAML", "ucumvert", "pint")


@lru_cache(maxsize=1)
def code_sha256():
    """SHA-256 over every .py file of the installed reasoner package (relative names and bytes, in
    name order): the same value means the same code judged."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@lru_cache(maxsize=1)
def dependencies():
    """((name, version), ...) of DEPENDENCIES as installed; "not installed" when one is missing."""
    out = []
    for name in DEPENDENCIES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return tuple(out)
