"""Load a text corpus: a named book, a local file, a URL or the embedded default."""

import codecs
import os
import re
import warnings
from typing import NamedTuple

from keras_chargen.data import downloader
from keras_chargen.data.downloader import CorpusError
from keras_chargen.data.sources import (
    DOCUMENT_SEPARATOR,
    check_not_binary,
    corpus_files,
)

_WHITESPACE_MODES = ("keep", "lines", "collapse")
_GUTENBERG_START = re.compile(r"^\*{3}\s*START OF.*PROJECT GUTENBERG.*$", re.I | re.M)
_GUTENBERG_END = re.compile(r"^\*{3}\s*END OF.*PROJECT GUTENBERG.*$", re.I | re.M)


class _NamedCorpus(NamedTuple):
    url: str
    # None where upstream edits the file (Gutenberg rewrites its licence text);
    # the hash recorded at download time then guards the cached copy.
    sha256: str | None


_NAMED_CORPORA = {
    "alice": _NamedCorpus("https://www.gutenberg.org/cache/epub/11/pg11.txt", None),
    "shakespeare": _NamedCorpus(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
        "tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
}


def list_corpora():
    """Returns the names `load_corpus` accepts: `"pydoc"` and the downloadable books.

    >>> keras_chargen.list_corpora()
    ('pydoc', 'alice', 'shakespeare')
    """
    return ("pydoc", *sorted(_NAMED_CORPORA))


def load_corpus(
    source="pydoc",
    *,
    cache_dir=None,
    normalize_whitespace="keep",
    encoding="utf-8",
    timeout=(5.0, 30.0),
    retries=3,
    verbose=True,
):
    """Loads a text corpus as one string.

    `source` is one of:

    - `"pydoc"`: the embedded offline corpus, the help topics every Python
      ships in `pydoc_data.topics` (sorted by name, a blank line between).
    - `"alice"` (Project Gutenberg #11) or `"shakespeare"` (tiny-shakespeare):
      downloaded once, then read from the cache. When the download fails,
      a `UserWarning` says why and the `"pydoc"` corpus is returned instead.
    - an `http://` or `https://` URL: downloaded once, then read from the cache.
    - a path to a local file (`str` or `os.PathLike`). A file whose name is a
      corpus name must be given with its folder, e.g. `"./alice"`.
    - a folder, or a glob such as `"books/**/*.txt"`: its files as documents
      (see `keras_chargen.corpus_files` for which files and in what order),
      each read and cleaned like a single file, joined by
      the separator `"\\x1e"` (ASCII's record separator), so that the model
      learns where a document ends. A file holding a NUL character is taken
      for a binary file and refused with a `CorpusError` naming it. For
      corpora larger than memory use `keras_chargen.prepare_corpus`.

    A URL or path never falls back: any failure raises `CorpusError`.

    Downloads use a connect/read timeout and retry network errors, truncated
    bodies and HTTP 5xx with exponential backoff; HTTP 4xx is not retried.
    A download is written to a temporary file and moved into the cache only
    when complete; its sha256 goes to a `<file>.sha256` sidecar. A cached file
    that fails its hash check is reported with a warning and downloaded again.

    Line endings become `\\n` (as Python's text mode does). Text between the
    Project Gutenberg `*** START OF ... ***` and `*** END OF ... ***` lines is
    kept and the licence around it removed, for any source that has them.

    Args:
        source: a corpus name, a URL or a path. Defaults to `"pydoc"`.
        cache_dir: folder for downloads. Defaults to
            `$KERAS_HOME/datasets/keras_chargen`, or
            `~/.keras/datasets/keras_chargen` when `KERAS_HOME` is not set.
        normalize_whitespace: `"keep"` keeps the text as is; `"lines"`
            collapses runs of spaces and tabs to one space, drops trailing
            spaces, limits blank lines to one and strips the ends; `"collapse"`
            turns every whitespace run, newlines included, into one space.
            Defaults to `"keep"`.
        encoding: text encoding of a path or URL; a UTF-8 byte-order mark is
            dropped. Named corpora are always UTF-8. Defaults to `"utf-8"`.
        timeout: seconds, or a `(connect, read)` pair, passed to `requests`.
            Defaults to `(5.0, 30.0)`.
        retries: download attempts before giving up. Defaults to `3`.
        verbose: print one line per download with its size. Defaults to `True`.

    Returns:
        The text, a non-empty `str`.

    Raises:
        CorpusError: the source is unknown, cannot be read or downloaded, is
            not valid text in `encoding`, or is empty.
        ValueError: an invalid `normalize_whitespace`, `encoding` or `retries`.

    Example:

    ```python
    text = keras_chargen.load_corpus("alice", normalize_whitespace="lines")
    ```
    """
    _check_options(normalize_whitespace, encoding, retries)
    options = dict(
        cache_dir=cache_dir, timeout=timeout, retries=retries, verbose=verbose
    )
    files = None
    if isinstance(source, str) and source == "pydoc":
        text = _pydoc_text()
    elif isinstance(source, str) and source in _NAMED_CORPORA:
        text = _load_named(source, options)
    elif isinstance(source, str) and re.match(r"https?://", source, re.I):
        text = _load_url(source, encoding, options)
    elif (files := corpus_files(source)) is None:
        text = _decode(_read_file(source), encoding, os.fspath(source))
    if files is None:
        text = _clean(text, normalize_whitespace)
    else:
        text = DOCUMENT_SEPARATOR.join(
            _read_document(path, encoding, normalize_whitespace) for path in files
        )
    if not text.strip():
        raise CorpusError(f"The corpus is empty. Received: source={source!r}")
    return text


def _clean(text, normalize_whitespace):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _normalize_spaces(strip_gutenberg(text), normalize_whitespace)


def _read_document(path, encoding, normalize_whitespace):
    text = _decode(_read_file(path), encoding, str(path))
    check_not_binary(text, str(path))
    return _clean(text, normalize_whitespace)


def strip_gutenberg(text):
    """Removes the Project Gutenberg licence header and footer.

    Keeps the text between the `*** START OF ... PROJECT GUTENBERG ...` line
    and the matching `*** END OF ...` line (case-insensitive), stripped of
    surrounding whitespace. Without an END line everything after START is
    kept; without a START line the text is returned unchanged.

    Args:
        text: a `str`.

    Returns:
        The text of the book itself.

    >>> keras_chargen.strip_gutenberg(
    ...     "licence\\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\\n"
    ...     "Book.\\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\\nlicence")
    'Book.'
    """
    start = _GUTENBERG_START.search(text)
    if start is None:
        return text
    end = _GUTENBERG_END.search(text, start.end())
    return text[start.end() : end.start() if end else len(text)].strip()


def _check_options(normalize_whitespace, encoding, retries):
    if normalize_whitespace not in _WHITESPACE_MODES:
        raise ValueError(
            f"`normalize_whitespace` must be one of {_WHITESPACE_MODES}. "
            f"Received: normalize_whitespace={normalize_whitespace!r}"
        )
    try:
        # Not `codecs.lookup`: it also knows bytes-to-bytes codecs such as
        # "base64" and "zlib", which `bytes.decode` refuses. (`b"".decode`
        # returns "" before it looks the codec up.)
        "".encode(encoding)
    except (LookupError, TypeError):
        raise ValueError(
            f"`encoding` must be the name of a Python text codec such as "
            f"'utf-8' or 'latin-1'. Received: encoding={encoding!r}"
        ) from None
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
        raise ValueError(
            f"`retries` must be an integer >= 1. Received: retries={retries!r}"
        )


def _pydoc_text():
    try:
        from pydoc_data.topics import topics
    except ImportError as error:
        raise CorpusError(
            f"The embedded 'pydoc' corpus needs the standard library's "
            f"`pydoc_data` package, which this Python lacks: {error}"
        ) from error
    return "\n\n".join(topics[name].strip() for name in sorted(topics))


def _load_named(name, options):
    entry = _NAMED_CORPORA[name]
    try:
        data = downloader.fetch(entry.url, entry.sha256, **options)
    except CorpusError as error:
        warnings.warn(
            f"Could not load the {name!r} corpus from {entry.url}: {error}. "
            f"Using the embedded 'pydoc' corpus instead.",
            UserWarning,
            stacklevel=3,
        )
        return _pydoc_text()
    return _decode(data, "utf-8", entry.url)


def _load_url(url, encoding, options):
    return _decode(downloader.fetch(url, **options), encoding, url)


def _read_file(source):
    try:
        path = os.fspath(source)
    except TypeError:
        raise CorpusError(
            f"`source` must be a corpus name, an http(s) URL or a path. "
            f"Received: source={source!r}"
        ) from None
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise CorpusError(
            f"`source` is not a known corpus name {list_corpora()}, not an "
            f"http(s) URL, and no file exists at that path. "
            f"Received: source={source!r}"
        ) from None
    except OSError as error:
        raise CorpusError(f"Could not read {path}: {error}") from error


def _decode(data, encoding, where):
    # Strip the BOM by hand (not "utf-8-sig") so error offsets count from byte 0.
    is_utf8 = codecs.lookup(encoding).name == "utf-8"
    skip = len(codecs.BOM_UTF8) if is_utf8 and data.startswith(codecs.BOM_UTF8) else 0
    hint = 'If the file uses another encoding, pass it, e.g. `encoding="latin-1"`.'
    try:
        return data[skip:].decode(encoding)
    except UnicodeError as error:
        # "idna" and "punycode" decode the text piece by piece: their errors
        # give an offset in a piece, or none at all.
        whole = getattr(error, "object", None)
        if not isinstance(whole, bytes) or len(whole) != len(data) - skip:
            # Escaped: the codec's message may quote a newline.
            reason = repr(str(error))[1:-1]
            raise CorpusError(
                f"{where} is not valid {encoding!r} text: {reason}. {hint}"
            ) from None
        offset = skip + error.start
        raise CorpusError(
            f"{where} is not valid {encoding!r} text: byte "
            f"{data[offset]:#04x} at offset {offset} cannot be decoded. {hint}"
        ) from None


def _normalize_spaces(text, mode):
    if mode == "collapse":
        return " ".join(text.split())
    if mode == "lines":
        text = re.sub(r"[^\S\n]+", " ", text)
        text = re.sub(r" \n", "\n", text)
        return re.sub(r"\n{3,}", "\n\n", text).strip()
    return text
