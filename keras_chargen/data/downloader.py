"""Downloads for `load_corpus`: timeouts, retries, an atomic hash-checked cache."""

import hashlib
import os
import re
import tempfile
import time
import urllib.parse
import warnings

import requests

# Seconds before the first retry; it doubles on each further retry.
RETRY_BACKOFF_SECONDS = 0.5

_CHUNK_SIZE = 1 << 16
_TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class CorpusError(ValueError):
    """A corpus could not be found, downloaded, decoded, or holds no text."""


class _TransientError(CorpusError):
    """A failure worth retrying: network trouble, HTTP 5xx, a truncated body."""


def fetch(
    url,
    sha256=None,
    *,
    cache_dir=None,
    timeout=(5.0, 30.0),
    retries=3,
    backoff=RETRY_BACKOFF_SECONDS,
    verbose=True,
):
    """Returns the bytes at `url`, from the cache when it passes its hash check.

    The cached copy is checked against `sha256` when given, else against the
    `<file>.sha256` sidecar written when it was downloaded. A copy that fails
    the check is reported with a `UserWarning` that points at the caller of
    `load_corpus`, and downloaded again.

    Args:
        url: an http(s) URL.
        sha256: Optional hex digest the file must have. Defaults to `None`.
        cache_dir: see `load_corpus`. Defaults to `None`.
        timeout: seconds, or a `(connect, read)` pair, passed to `requests`.
            Defaults to `(5.0, 30.0)`.
        retries: int >= 1, download attempts. Defaults to `3`.
        backoff: seconds before the first retry, doubled on each further
            one. Defaults to `RETRY_BACKOFF_SECONDS`.
        verbose: print one line per download with its size. Defaults to `True`.

    Raises:
        CorpusError: the file cannot be downloaded or saved, or its download
            does not have `sha256`.
    """
    path = os.path.join(_cache_folder(cache_dir), cache_name(url))
    data = _read_cache(path, sha256)
    if data is None:
        _download(url, path, sha256, timeout, retries, backoff, verbose)
        with open(path, "rb") as file:
            data = file.read()
    return data


def cache_name(url):
    """The file name of `url` in the cache folder."""
    # The URL's hash keeps two URLs with the same file name apart.
    basename = os.path.basename(urllib.parse.urlsplit(url).path) or "corpus"
    basename = re.sub(r"[^A-Za-z0-9._-]", "_", basename)[-60:]
    return f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{basename}"


def _cache_folder(cache_dir):
    if cache_dir is None:
        home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
        cache_dir = os.path.join(home, "datasets", "keras_chargen")
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as error:
        raise CorpusError(
            f"Could not create the cache folder {cache_dir}: {error}"
        ) from error
    return os.fspath(cache_dir)


def _read_cache(path, expected):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as file:
        data = file.read()
    expected = expected or _read_sidecar(path)
    found = hashlib.sha256(data).hexdigest()
    if found == expected:
        return data
    warnings.warn(
        f"The cached file {path} failed its sha256 check (expected "
        f"{expected}, found {found}): it was truncated or altered. "
        f"Downloading it again.",
        UserWarning,
        # _read_cache, fetch, corpus._load_url or _load_named, load_corpus,
        # then the caller of `load_corpus`.
        stacklevel=5,
    )
    return None


def _read_sidecar(path):
    try:
        with open(path + ".sha256", encoding="ascii") as file:
            return file.read().split()[0]
    except (OSError, ValueError, IndexError):
        return None


def _download(url, path, expected, timeout, retries, backoff, verbose):
    with requests.Session() as session:
        for attempt in range(retries):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            try:
                return _download_once(session, url, path, expected, timeout, verbose)
            except _TransientError as error:
                last_error = error
    if retries > 1:
        raise CorpusError(f"{last_error} (gave up after {retries} attempts)")
    raise CorpusError(str(last_error))


def _download_once(session, url, path, expected, timeout, verbose):
    # "identity" so that Content-Length counts the bytes we store and hash.
    headers = {"Accept-Encoding": "identity"}
    try:
        with session.get(url, stream=True, timeout=timeout, headers=headers) as r:
            _check_status(r, url)
            announced = r.headers.get("Content-Length", "").strip()
            announced = int(announced) if announced.isdigit() else None
            if verbose:
                size = "size unknown" if announced is None else _format_size(announced)
                print(f"Downloading {url} ({size})")
            _save(r.iter_content(_CHUNK_SIZE), url, path, announced, expected)
    except _TRANSIENT_ERRORS as error:
        message = f"Could not download {url}: {type(error).__name__}: {error}"
        raise _TransientError(message) from error
    except requests.RequestException as error:
        message = f"Could not download {url}: {type(error).__name__}: {error}"
        raise CorpusError(message) from error
    except OSError as error:  # after RequestException, an OSError subclass
        raise CorpusError(f"Could not save {url} to {path}: {error}") from error


def _check_status(response, url):
    status = response.status_code
    if status < 400:
        return
    transient = status >= 500 or status in (408, 429)
    error_class = _TransientError if transient else CorpusError
    raise error_class(f"Could not download {url}: HTTP {status} {response.reason}")


def _save(chunks, url, path, announced, expected):
    """Writes `chunks` to `path` atomically, plus its `.sha256` sidecar."""
    folder, name = os.path.split(path)
    digest, size = hashlib.sha256(), 0
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        if announced is not None and size != announced:
            raise _TransientError(
                f"Could not download {url}: received {size} of the "
                f"{announced} bytes announced by Content-Length"
            )
        if expected is not None and digest.hexdigest() != expected:
            raise CorpusError(
                f"The file downloaded from {url} has sha256 "
                f"{digest.hexdigest()}, expected {expected}"
            )
        os.replace(tmp_path, path)
        with open(path + ".sha256", "w", encoding="ascii") as file:
            file.write(f"{digest.hexdigest()}  {name}\n")
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def _format_size(size):
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"
