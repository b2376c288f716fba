"""Eligo: explainable eligibility reasoning for oligometastatic breast cancer trials."""

import re
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "reasoner" / "__init__.py").read_text()).group(1)


TEST = ["pytest>=8,<10", "hypothesis>=6.100,<7", "pytest-timeout>=2.3,<3", "markdown-it-py>=3,<5",
        "jsonschema>=4.18,<5",
        "datalog-conformance>=0.1,<0.2"]   # tests/test_conformance.py: fastlog against outside Datalog cases


def data_files():
    """rules/ and facts/ are installed under <prefix>/share/eligo (see reasoner/paths.py)."""
    folders = ["rules/lib", "rules/trials", "rules/tests", "rules/tests/records", "facts/reference", "facts/patients"]
    out = []
    for folder in folders:
        files = sorted(f for f in glob(f"{folder}/*") if Path(f).is_file())
        if files:
            out.append((f"share/eligo/{folder}", files))
    return out


setup(
    name="eligo",
    version=VERSION,
    description="Explainable eligibility reasoning (pyDatalog) for oligometastatic breast cancer trials",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["reasoner", "reasoner.*"]),
    data_files=data_files(),
    install_requires=[
        "pyDatalog==0.22.4",      # explanations read its behaviour; pinned (docs/pydatalog.md)
        "networkx>=3.2,<4",
        "click>=8.1,<9",
        "PyYAML>=6.0,<7",
        "ucumvert==0.3.2",        # UCUM unit conversion (on pint)
        "pint>=0.24,<1",
    ],
    extras_require={
        # What the test suite needs (README's set-up installs it): pytest also hosts the rule-test
        # plugin; markdown-it-py renders the Markdown report as a CommonMark reader would;
        # jsonschema checks `eligo schema` against the example records; datalog-conformance holds
        # the screening evaluator to outside Datalog cases.
        "test": TEST,
        "dev": TEST + ["ruff==0.17.6", "wheel>=0.42,<1"],
        "dask": ["dask[distributed]>=2024.1,<2027"],
    },
    entry_points={
        "console_scripts": ["eligo = reasoner.cli.main:run"],
        "pytest11": ["eligo_rules = reasoner.authoring.plugin"],   # rules/tests/*.yaml under plain pytest
    },
)
