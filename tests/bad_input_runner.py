"""Runs the bad-input catalogue (docs/errors.md, tests/bad_inputs/) through the real CLI.

Each case runs as its own `eligo` process under an address-space limit, and its peak memory is
read from that process alone (os.wait4), so "bounded memory" is measured, not assumed.
"""

import os
import re
import resource
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "tests" / "bad_inputs"
DOC = ROOT / "docs" / "errors.md"
ADDRESS_LIMIT = 1024 ** 3          # 1 GiB of address space: a runaway parse dies instead of swapping
H = "schema_version: 1\npatient: {id: BAD-001}\n"


def _big_record(path):
    """A 20 MB record of valid-looking imaging entries (never committed: generated per run)."""
    line = "  - {id: I%06d, modality: ct, date: 2026-01-01, findings: " + "x" * 90 + "}\n"
    with open(path, "w", encoding="utf-8") as out:
        out.write(H + "imaging:\n")
        for i in range(20 * 1024 * 1024 // len(line % 0) + 1):
            out.write(line % i)


def _deep_yaml(path):
    path.write_text(H + "diagnosis: " + "[" * 100_000 + "]" * 100_000 + "\n")


def _many_lesions(path):
    path.write_text(H + "metastases:\n" + "".join(f"  - {{id: M{i}, organ: liver}}\n" for i in range(1001)))


def _fifo(path):
    os.mkfifo(path)


def _socket(path):
    with socket.socket(socket.AF_UNIX) as sock:   # the socket file stays after the socket is closed
        sock.bind(str(path))


def _link_loop(path):
    os.symlink(path.name, path)                    # a link to itself


def _dangling_link(path):
    os.symlink("no-such-record.yaml", path)


# Cases too big, or not files at all, to commit: made in the run's directory under their name.
GENERATED = {
    "a-fifo.yaml": _fifo,
    "a-socket.yaml": _socket,
    "link-loop.yaml": _link_loop,
    "dangling-link.yaml": _dangling_link,
    "huge-20mb.yaml": _big_record,
    "deep-nesting-100k.yaml": _deep_yaml,
    "too-many-lesions.yaml": _many_lesions,
    "a-directory.yaml": lambda path: path.mkdir(),
    "missing.yaml": lambda path: None,
}
DEVICES = ("/dev/zero", "/dev/null")


@dataclass
class Case:
    what: str
    command: str          # as documented, starting with `eligo`
    message: str          # the documented message (without the `eligo: ` prefix)

    @property
    def args(self):
        return shlex.split(self.command)[1:]

    @property
    def input(self):
        """The record argument of `eligo check`."""
        args = self.args
        return next(a for a, before in zip(args[1:], args) if not a.startswith("-") and not before.startswith("--"))


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    max_rss_kb: int


def _cell(text):
    """A table cell's code span (`x` or `` x ``) -> x."""
    text = text.strip()
    match = re.fullmatch(r"(`+) ?(.*?) ?\1", text)
    return match.group(2) if match else text


def documented_cases():
    """Rows of the catalogue table in docs/errors.md: | what | `command` | `message` |."""
    cases = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3 and _cell(cells[1]).startswith("eligo "):
            cases.append(Case(cells[0].strip(), _cell(cells[1]), _cell(cells[2]).replace("\\|", "|")))
    return cases


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))


def run_case(case, workdir):
    """Put the case's input in workdir (copied or generated) and run its command there."""
    workdir.mkdir(parents=True, exist_ok=True)
    name = case.input
    if name in GENERATED:
        GENERATED[name](workdir / name)
    elif name not in DEVICES:
        shutil.copy(CASES_DIR / name, workdir / name)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("ELIGO_DEBUG", None)   # the user-facing behaviour: never a traceback
    with open(workdir / "stdout", "wb") as out, open(workdir / "stderr", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "reasoner", *case.args], cwd=workdir, env=env,
                                stdout=out, stderr=err, preexec_fn=_limit_memory)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Outcome(proc.returncode, (workdir / "stdout").read_text(errors="replace"),
                   (workdir / "stderr").read_text(errors="replace"), usage.ru_maxrss)
