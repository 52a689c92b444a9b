"""`RunLock`: one writer at a time for an output path.

`keras_chargen.train`, `keras_chargen.search` and `prepare` write several
files beside their output (a checkpoint, a log, a backup folder) over
minutes or hours. Two runs given the same output would interleave their
writes, so each holds a `RunLock` on its output while it runs, and a second
run refuses to start with a `RunLockedError` that names the live one.

The lock is `fcntl.flock` on a lock file beside the output (`run.keras` ->
`run.keras.lock`). The kernel releases a `flock` when the process that
holds it exits in any way, `SIGKILL` and power loss included, so a killed
run never leaves the next one stuck:

- **live run**: the lock file's `flock` is held. That is the only test;
  the file's contents (pid, hostname, start time, command line) only say
  *who* holds it, for the error message.
- **stale run**: a lock file left by a killed run has no `flock` on it.
  The next run takes the lock at once and writes its own details into the
  file; nothing has to be deleted by hand.

A run that ends normally removes the lock file.

**Note:** `flock` is POSIX (Linux, macOS). On a network file system it is
only as good as the server's lock support (NFSv4 maps it onto its byte-range
locks; some FUSE file systems ignore it): keep concurrent runs' outputs on a
local disk, or give each run its own output.
"""

import datetime
import json
import os
import socket
import sys
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: `RunLock.acquire` says so
    fcntl = None


class RunLockedError(OSError):
    """Another live process holds the run lock on this output.

    Attributes:
        holder: the dict the live run wrote into the lock file (`pid`,
            `hostname`, `started`, `command`), or `{}` if unreadable.
        lock_path: the `pathlib.Path` of the lock file.
    """

    def __init__(self, message, holder, lock_path):
        super().__init__(message)
        self.holder = holder
        self.lock_path = lock_path

    def __str__(self):
        return self.args[0]


class RunLock:
    """An exclusive lock on one output path for the length of a run.

    A context manager: `__enter__` takes the lock or raises
    `RunLockedError` at once (it never waits), `__exit__` releases it and
    removes the lock file. See the module docstring for how a killed run's
    lock is released and how a stale lock file is told from a live one.

    Locks are per open file, so two `RunLock`s on one output conflict even
    within one process.

    Args:
        path: the output the run writes (a file such as `run.keras`, or a
            folder such as a tuning project). It need not exist; its folder
            must. The lock file is `<path>.lock`, beside it.
        what: a word or two for the error message, e.g. `"training run"`.
            Defaults to `"run"`.

    Raises:
        RunLockedError: on `acquire` / `with`, if a live process holds the
            lock; its message names that process's pid, host and start time.
        OSError: if the lock file cannot be created (a missing or read-only
            folder, a full disk), or on a system without `fcntl`.

    Example:

    ```python
    with RunLock("run.keras", what="training run"):
        ...  # the only process writing run.keras, run.csv, run.backup/
    ```
    """

    def __init__(self, path, what="run"):
        self.path = Path(path)
        self.what = what
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._file = None

    @property
    def locked(self):
        """Whether this object holds the lock now."""
        return self._file is not None

    def acquire(self):
        """Takes the lock; returns `self`. See the class docstring."""
        if fcntl is None:
            raise OSError(
                f"Cannot lock {str(self.path)!r}: run locks need `fcntl` (POSIX)."
            )
        if self._file is not None:
            raise RuntimeError(f"{self.lock_path} is already locked by this RunLock.")
        while True:
            try:
                # Unbuffered: closing it never writes (nor fails on a full disk).
                file = open(self.lock_path, "a+b", buffering=0)  # noqa: SIM115
            except OSError as error:
                raise self._os_error(error) from None
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.seek(0)
                text = file.read()
                file.close()
                raise self._locked_error(text) from None
            except BaseException:
                file.close()
                raise
            # A run that released the lock removed the file after we opened
            # it: our lock is on a deleted file, which nobody else sees.
            if _same_file(file, self.lock_path):
                break
            file.close()
        try:
            self._write_holder(file)
        except BaseException as error:
            # Still ours (locked): remove it rather than leave an empty file.
            self.lock_path.unlink(missing_ok=True)
            file.close()
            if isinstance(error, OSError):
                raise self._os_error(error) from None
            raise
        self._file = file
        return self

    def release(self):
        """Removes the lock file and releases the lock (no-op if not held)."""
        if self._file is None:
            return
        try:
            # Removed while still locked, so a run that opens the path now
            # gets a new file and `acquire`'s check makes it retry on that.
            self.lock_path.unlink(missing_ok=True)
        finally:
            self._file.close()  # closing releases the flock
            self._file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()

    def _write_holder(self, file):
        holder = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started": datetime.datetime.now()
            .astimezone()
            .isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }
        file.seek(0)
        file.truncate()
        file.write(json.dumps(holder).encode("utf-8") + b"\n")

    def _os_error(self, error):
        """`error` as one line naming the lock file; `errno` kept."""
        new = OSError(
            f"Cannot create the lock file {str(self.lock_path)!r} for "
            f"{str(self.path)!r}: {error.strerror or error}"
        )
        new.errno = error.errno
        return new

    def _locked_error(self, text):
        try:
            holder = json.loads(text)  # bytes: UTF-8
        except ValueError:
            holder = None
        if not isinstance(holder, dict):
            holder = {}
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('hostname', '?')}, "
            f"started {holder.get('started', '?')}"
            if holder
            else "a process that has not written its details yet"
        )
        return RunLockedError(
            f"Another {self.what} is writing {str(self.path)!r}: {who} (it holds "
            f"the lock {str(self.lock_path)!r}). Wait for it to end or stop it, "
            "or choose another output; a run that was killed releases its lock "
            "by itself.",
            holder,
            self.lock_path,
        )


def _same_file(file, path):
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(file.fileno())
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)
