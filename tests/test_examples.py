"""The bundled example patients give the answers their headers document.

Each facts/patients/*.yaml states its expected verdicts in header lines such as
`# expect taormina: eligible` or `# expect oligami/secondary: indeterminate`.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from reasoner.pipeline import judge, load_input
from tests.conftest import AS_OF, ROOT

EXAMPLES = sorted((ROOT / "facts" / "patients").glob("*.yaml"))
EXPECT = re.compile(r"^# expect ([a-z0-9_]+)(?:/([a-z]+))?: (eligible|ineligible|indeterminate)\s*$", re.M)


def expectations(path):
    return [(m.group(1), m.group(2), m.group(3)) for m in EXPECT.finditer(Path(path).read_text())]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_gives_its_documented_verdicts(path):
    expected = expectations(path)
    assert expected, f"{path.name}: no '# expect <trial>: <verdict>' header line"
    judgement = judge(load_input(path, AS_OF), sorted({t for t, _, _ in expected}))
    actual = {(v.trial.id, v.stage): v.verdict for v in judgement.verdicts}
    for trial, stage, verdict in expected:
        key = (trial, stage) if stage else next(k for k in actual if k[0] == trial)
        assert actual[key] == verdict, f"{path.name}: {trial}/{stage}: expected {verdict}, got {actual[key]}"


def test_patient_record_doc_is_generated_from_the_schema():
    run = subprocess.run([sys.executable, "-m", "reasoner.record.docgen", "--check"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
