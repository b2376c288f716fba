"""A plain (non-editable) `pip install .` finds its rules and reference facts from any directory."""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

from tests.conftest import EXAMPLE, ROOT


def test_installed_copy_finds_rules_and_facts(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", "build", ".*cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Build a wheel and install it into the new venv with that venv's own pip (installing with the
    # running pip would uninstall the running environment's Eligo). Dependencies come from the
    # running environment through PYTHONPATH.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"),
                    str(source)], check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("eligo-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    plain = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert plain and not any("pytest" in line for line in plain), plain   # a plain install does not pull pytest
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, cwd=tmp_path)
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"] + os.pathsep + sysconfig.get_paths()["platlib"])
    env.pop("ELIGO_HOME", None)
    shutil.rmtree(source)   # nothing may come from the source tree
    check = subprocess.run([str(python), "-m", "reasoner", "check", str(EXAMPLE), "--trial", "taormina", "--as-of", "2026-11-23"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stderr
    assert "ELIGIBLE" in check.stdout
    where = subprocess.run([str(python), "-c", "import reasoner.paths as p; print(p.data_root())"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    assert where.stdout.strip() == str(venv / "share" / "eligo")
    script = (venv / "bin" / "eligo").read_text()
    assert "from reasoner.cli.main import run" in script
