"""Small, full and read-only file systems for tests (a tmpfs we mount).

`tests/conftest.py` wraps `mounted_tmpfs` as the `small_filesystem`
fixture. Mounting needs root (or `CAP_SYS_ADMIN`); where it is refused the
fixture skips and says why. Like `test_case.py`, this is a helper module,
not a test module.
"""

import contextlib
import errno
import os
import subprocess
import tempfile
from pathlib import Path


class MountError(RuntimeError):
    """`mount -t tmpfs` was refused (not root, or inside a locked-down container)."""


@contextlib.contextmanager
def mounted_tmpfs(size="1m"):
    """Mounts a tmpfs of `size` (`mount`'s syntax: `"256k"`, `"1m"`) on a new folder.

    Yields:
        The mount point, a `pathlib.Path`; unmounted and removed afterwards.

    Raises:
        MountError: if the mount is refused.
    """
    folder = Path(tempfile.mkdtemp(prefix="tmpfs-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        folder.rmdir()
        raise MountError(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()


def remount_read_only(folder):
    """Makes the tmpfs at `folder` read-only (root ignores file modes, not this)."""
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


def fill(folder, leave=0):
    """Fills the file system of `folder`, leaving at most `leave` bytes free.

    Writes `folder/filler` until `ENOSPC`, then frees `leave` bytes from its
    end. Returns the free bytes left, as `os.statvfs` reports them.
    """
    path = Path(folder) / "filler"
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 4096, 1):  # the last page too
            chunk = b"\0" * size
            try:
                while True:
                    f.write(chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
        f.truncate(max(0, os.path.getsize(path) - leave))
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def files_in(folder, *, exclude=("filler",)):
    """Every file and folder under `folder` (relative names, sorted)."""
    folder = Path(folder)
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.name not in exclude
    )
