"""Where rules/ and facts/ live: the source checkout, or the installed share/eligo copy."""

import os
import sys
from pathlib import Path


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


def rules_dir() -> Path:
    return data_root() / "rules"


def reference_dir() -> Path:
    return data_root() / "facts" / "reference"


def patients_dir() -> Path:
    return data_root() / "facts" / "patients"
