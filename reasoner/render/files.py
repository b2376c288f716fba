"""Writing output files safely, for every command that writes one (report, import-fhir, screen, test).

- check_outputs(): an output is never an input, never inside an input folder being read, never
  another output of the same run. Paths are compared resolved (symlinks) and, for files that
  exist, by device and inode (hard links).
- write_atomic(): a temporary file in the same folder, fsync, os.replace: a full disk, an error or
  a kill leaves the old file or none, never a truncated one. Any OSError is an OutputError (exit 2)
  naming the file.
- output_locks(): an advisory lock (flock on FILE.lock) per output, so a second run writing the
  same output at the same time refuses instead of interleaving with the first.
- publish(): a file streamed as FILE.partial (screen rows) becomes FILE in one rename.
"""

import contextlib
import fcntl
import os
import stat
import tempfile

from ..errors import OutputError, visible

LOCK_SUFFIX = ".lock"
PARTIAL_SUFFIX = ".partial"


def _real(path):
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _inode(path):
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a, b):
    """True when a and b name one file: the same resolved path, or (both existing) the same inode."""
    if _real(a) == _real(b):
        return True
    ia, ib = _inode(a), _inode(b)
    return ia is not None and ia == ib


def inside(path, folder):
    """True when path is (or would be created) inside folder, through symlinks, bind mounts or '..'."""
    folder_real, target = _real(folder), _real(path)
    if target == folder_real or target.startswith(folder_real.rstrip(os.sep) + os.sep):
        return True
    folder_inode = _inode(folder)
    if folder_inode is None:
        return False
    parent = os.path.dirname(target)
    while True:
        if _inode(parent) == folder_inode:
            return True
        up = os.path.dirname(parent)
        if up == parent:
            return False
        parent = up


def check_outputs(outputs, inputs=(), folders=()):
    """Refuse (OutputError, naming both paths) an output that would overwrite an input or another
    output. outputs, inputs, folders: [(label, path)]; folders are input folders read whole, so
    nothing may be written inside them. Stdout/stdin ('-' or None) are skipped."""
    outputs = [(label, path) for label, path in outputs if path not in (None, "-")]
    for label, path in outputs:
        for _label, in_path in inputs:
            if in_path not in (None, "-") and same_file(path, in_path):
                raise OutputError(f"{label} {visible(path)}: is the input {visible(in_path)}; "
                                  f"choose another file (the input would be overwritten)")
        for _label, folder in folders:
            if folder not in (None, "-") and (same_file(path, folder) or inside(path, folder)):
                raise OutputError(f"{label} {visible(path)}: is inside the input folder {visible(folder)}, which "
                                  f"is being read; choose a path outside it")
    for i, (label, path) in enumerate(outputs):
        for other_label, other in outputs[:i]:
            if same_file(path, other) and not is_special(path):   # two outputs to /dev/null destroy nothing
                raise OutputError(f"{label} {visible(path)}: is also {other_label} {visible(other)}; "
                                  f"choose another file for each output")


def _writable_target(path):
    """The file to replace: symlinks resolved (their target is what the user named)."""
    return _real(path)


def is_special(path):
    """An existing non-regular file (a device such as /dev/null, a FIFO): written in place, never replaced."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_folder(folder):
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path, data, what="output", label=None):
    """Write bytes (or str, as UTF-8) to path all at once: the old file or the new one, never a mix.
    label (e.g. '-o') prefixes the path in the message."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    shown = f"{label} {visible(path)}" if label else visible(path)
    if is_special(path):
        try:
            with open(path, "wb") as handle:
                handle.write(data)
        except OSError as err:
            raise OutputError(f"{shown}: cannot write the {what} ({err.strerror or err})") from None
        return
    target = _writable_target(path)
    folder = os.path.dirname(target)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _mode())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        tmp = None
        _sync_folder(folder)
    except OSError as err:
        raise OutputError(f"{shown}: cannot write the {what} ({err.strerror or err})") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def publish(partial, path, what="output"):
    """Rename a finished FILE.partial (already flushed and synced) to FILE, atomically."""
    try:
        os.replace(partial, _writable_target(path))
    except OSError as err:
        raise OutputError(f"{visible(path)}: cannot write the {what} ({err.strerror or err})") from None
    _sync_folder(os.path.dirname(_writable_target(path)))


def lock_path(path):
    return _writable_target(path) + LOCK_SUFFIX


def _acquire(path, label):
    lock = lock_path(path)
    for _attempt in range(20):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as err:
            raise OutputError(f"{label} {visible(path)}: cannot create its lock file {visible(lock)} "
                              f"({err.strerror or err})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"{label} {visible(path)}: another eligo run is writing it (it holds "
                              f"{visible(lock)}); wait for that run to end or choose another file") from None
        except OSError:
            return fd, lock   # a file system without flock (some network mounts): no lock, as before
        # The previous holder removes the lock file as it lets go: make sure ours is still the one on disk.
        here = os.fstat(fd)
        on_disk = _inode(lock)
        if on_disk == (here.st_dev, here.st_ino):
            return fd, lock
        os.close(fd)
    raise OutputError(f"{label} {visible(path)}: its lock file {visible(lock)} keeps changing; another run is "
                      f"writing it")


@contextlib.contextmanager
def output_locks(outputs):
    """Hold FILE.lock for each (label, path) output (stdout skipped) while the block runs."""
    held = []
    try:
        for label, path in outputs:
            if path not in (None, "-") and not is_special(path):   # /dev/null needs no lock file in /dev
                held.append(_acquire(path, label))
        yield
    finally:
        for fd, lock in reversed(held):
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(fd)
