"""Many-file corpora: the files a folder or a glob stands for, and how they join."""

import glob
import os
import re
from pathlib import Path

from keras_chargen.data.downloader import CorpusError

# Joins the documents of a folder or glob corpus into one stream. ASCII's
# "record separator": a character ordinary text does not hold, so a model
# learns where a document ends and a window that spans two documents says so.
DOCUMENT_SEPARATOR = "\x1e"
_GLOB_CHARACTERS = re.compile(r"[*?[]")


def corpus_files(source):
    """The files of a folder or glob `source`, sorted; `None` for other sources.

    A folder stands for every regular file below it (recursively), leaving
    out hidden files and folders (names starting with `.`), in the order of
    their paths relative to it. A string holding `*`, `?` or `[` that is not
    an existing path is a glob (`**` matches folders recursively); folders
    it matches are left out.

    Args:
        source: anything `load_corpus` accepts.

    Returns:
        A non-empty list of `pathlib.Path`, or `None` when `source` is not a
        folder or a glob (a name, a URL or a single file).

    Raises:
        CorpusError: for an empty folder, a folder with no files, or a glob
            that matches no file.
    """
    if not isinstance(source, str | os.PathLike):
        return None
    path = os.fspath(source)
    if not isinstance(path, str):
        return None
    if os.path.isdir(path):
        return _folder_files(path)
    if os.path.exists(path) or not _GLOB_CHARACTERS.search(path):
        return None
    files = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
    if not files:
        raise CorpusError(f"The glob matches no file. Received: source={path!r}")
    return [Path(p) for p in files]


def _folder_files(folder):
    if not os.listdir(folder):
        raise CorpusError(f"The corpus folder is empty. Received: source={folder!r}")
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files.extend(
            Path(root, n)
            for n in names
            if not n.startswith(".") and os.path.isfile(os.path.join(root, n))
        )
    if not files:
        raise CorpusError(
            "The corpus folder holds no files (hidden files and folders, whose "
            f"names start with '.', are left out). Received: source={folder!r}"
        )
    return sorted(files, key=lambda p: p.relative_to(folder).parts)


def check_not_binary(text, where, start=0):
    """Refuses a document of a many-file corpus that holds a NUL character.

    Text files do not hold NUL; binary files (images, archives, compiled
    files) put in a corpus folder by mistake nearly always do.

    Args:
        text: the document, or a piece of it.
        where: the file, for the message.
        start: int, the position of `text` in the document. Defaults to `0`.

    Raises:
        CorpusError: naming the file and the character's position.
    """
    position = text.find("\x00")
    if position >= 0:
        raise CorpusError(
            f"{where} looks like a binary file, not text: it holds a NUL "
            f"character at character {start + position}. Remove it from the folder, "
            "or pass a glob that leaves it out (e.g. 'folder/**/*.txt')."
        )
