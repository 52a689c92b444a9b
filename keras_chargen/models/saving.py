"""`save_model`: write a `.keras` file atomically."""

import glob
import os
import re
import tempfile
from pathlib import Path


def save_model(model, filepath):
    """Saves `model` to a `.keras` file without ever leaving a broken file.

    `model.save()` writes in place, so a save interrupted by a crash, a full
    disk or Ctrl-C destroys the previous file. This writes to a temporary
    file in the same folder and then renames it over `filepath`
    (`os.replace` is atomic on one file system): readers see the old file or
    the new one, never half of one.

    Args:
        filepath: path ending in `.keras`.

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: if `filepath` does not end in `.keras`.
        OSError: if the folder does not exist or is not writable; the
            previous file, if any, is left untouched.

    Example:

    ```python
    keras_chargen.save_model(model, "run.keras")
    ```
    """
    path = Path(filepath)
    if path.suffix != ".keras":
        raise ValueError(
            f"`filepath` must end in `.keras`. Received: filepath={str(filepath)!r}"
        )
    return replace_atomically(path, model.save)


def replace_atomically(path, write, suffix=None):
    """Calls `write(tmp)` on a temporary file beside `path`, then renames it.

    The temporary file is `.<name>.<random><suffix>` in `path`'s folder. It is
    flushed to disk (`fsync`) before the rename, so after a crash or power
    loss `path` holds the old content or the new, and it is removed if
    `write` fails (a full disk, Ctrl-C); `path` is untouched until the
    rename. A `SIGKILL` can still leave the temporary file behind:
    `remove_temporary_files(path)` removes those.

    Args:
        path: the file to replace.
        write: a function writing the new content to the path it is given.
        suffix: the temporary file's suffix, for writers that check it
            (Keras wants `.keras` or `.weights.h5`). Defaults to `None`:
            `path`'s own suffix.

    Returns:
        `path`, as a `pathlib.Path`.

    Raises:
        OSError: if the folder does not exist or `write` fails with one
            (a full disk, a read-only folder); its `filename` is `path`.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise OSError(f"Cannot write {path}: folder {str(folder)!r} does not exist.")
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600 files
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename in (None, tmp):
            # A failed write names no file, or the temporary one: name `path`.
            raise OSError(
                error.errno, error.strerror or str(error), str(path)
            ) from None
        raise
    return path


def remove_temporary_files(path):
    """Removes what `replace_atomically(path, ...)` runs killed midway left.

    Only call it while no other process writes `path` (e.g. under a
    `RunLock`): a live writer's temporary file looks the same.

    Returns:
        The list of `pathlib.Path`s removed.
    """
    path = Path(path)
    # mkstemp's random part: 8 characters of [a-z0-9_].
    pattern = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}(\.[^/]*)?")
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*"):
        if pattern.fullmatch(candidate.name) and candidate.is_file():
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def fsync_path(filepath):
    """Flushes a file or a folder (its entries) to disk."""
    fd = os.open(filepath, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
