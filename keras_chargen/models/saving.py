"""`save_model`: write a `.keras` file atomically."""

import os
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


def replace_atomically(path, write):
    """Calls `write(tmp)` on a temporary file beside `path`, then renames it.

    The temporary file keeps `path`'s suffix (Keras checks it) and is removed
    if `write` fails; `path` is untouched until the rename.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise OSError(f"Cannot write {path}: folder {str(folder)!r} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
