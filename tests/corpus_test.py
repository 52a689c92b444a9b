import collections
import hashlib
import http.server
import pathlib
import re
import threading
import time
import warnings

import pytest

from keras_chargen.data import corpus, downloader
from keras_chargen.data.corpus import CorpusError, load_corpus, strip_gutenberg

BOOK = "It was a bright cold day in April.\nThe clocks were striking thirteen.\n"
GUTENBERG = (
    "\ufeffThe Project Gutenberg eBook of A Book\r\n\r\nlicence text\r\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK A BOOK ***\r\n\r\n"
    "Chapter 1\r\n\r\nOnce upon a time.\r\n\r\n"
    "*** END OF THE PROJECT GUTENBERG EBOOK A BOOK ***\r\nmore licence\r\n"
)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        server.counts[self.path] += 1
        if self.path in server.files:
            self._send(server.files[self.path])
        elif self.path.startswith("/status/"):
            self.send_error(int(self.path.rsplit("/", 1)[1]))
        elif self.path == "/stall/headers":
            server.stopping.wait(5)
        elif self.path == "/stall/body":
            self._send(b"x" * 10, length=1000, flush=True)
            server.stopping.wait(5)
        elif self.path == "/truncated":
            self._send(b"x" * 100, length=1000)
        else:
            self.send_error(404)

    def _send(self, body, length=None, flush=False):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        if flush:
            self.wfile.flush()

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = {}
        self.counts = collections.Counter()
        self.stopping = threading.Event()
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def stop(self):
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join()

    def handle_error(self, request, client_address):
        pass  # the client hanging up on a stalled handler is expected


@pytest.fixture
def server():
    server = _Server()
    yield server
    server.stop()


@pytest.fixture
def offline(server, monkeypatch):
    """Requests goes through a proxy that refuses connections: no internet."""
    refused = server.url("")
    server.stop()
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("http_proxy", refused)
    monkeypatch.setenv("https_proxy", refused)


def _load(source, tmp_path, **kwargs):
    return load_corpus(source, cache_dir=tmp_path, verbose=False, **kwargs)


def _fetch(url, tmp_path, **kwargs):
    """The download layer under `load_corpus`, with no wait between retries."""
    return downloader.fetch(
        url, cache_dir=tmp_path, backoff=0.0, verbose=False, **kwargs
    )


def _cache(folder, url, data, sidecar=True):
    """Puts `data` in the cache as if it had been downloaded from `url`."""
    path = pathlib.Path(folder) / downloader.cache_name(url)
    path.write_bytes(data)
    if sidecar:
        digest = hashlib.sha256(data).hexdigest()
        path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return path


def _files(folder):
    return sorted(path.name for path in pathlib.Path(folder).iterdir())


def test_url_download_returns_text_and_caches_it(server, tmp_path):
    server.files["/book.txt"] = BOOK.encode()
    assert _load(server.url("/book.txt"), tmp_path) == BOOK
    cached = [tmp_path / name for name in _files(tmp_path)]
    assert [path.suffix for path in cached] == [".txt", ".sha256"]
    assert cached[0].read_bytes() == BOOK.encode()
    digest = hashlib.sha256(BOOK.encode()).hexdigest()
    assert cached[1].read_text().split()[0] == digest


def test_cache_hit_does_not_touch_the_network(server, tmp_path):
    server.files["/book.txt"] = BOOK.encode()
    url = server.url("/book.txt")
    _load(url, tmp_path)
    server.stop()
    assert _load(url, tmp_path) == BOOK
    assert server.counts["/book.txt"] == 1


def test_default_cache_folder_is_under_keras_home(server, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    server.files["/book.txt"] = BOOK.encode()
    load_corpus(server.url("/book.txt"), verbose=False)
    assert len(_files(tmp_path / "datasets" / "keras_chargen")) == 2


def test_http_404_raises_naming_url_and_is_not_retried(server, tmp_path):
    url = server.url("/status/404")
    with pytest.raises(CorpusError, match=rf"{url}: HTTP 404 Not Found"):
        _load(url, tmp_path, retries=3)
    assert server.counts["/status/404"] == 1
    assert _files(tmp_path) == []


def test_http_500_is_retried_then_raises(server, tmp_path):
    url = server.url("/status/500")
    with pytest.raises(CorpusError, match=r"HTTP 500 .*gave up after 3 attempts"):
        _fetch(url, tmp_path, retries=3)
    assert server.counts["/status/500"] == 3
    assert _files(tmp_path) == []


@pytest.mark.parametrize("path", ["/stall/headers", "/stall/body"])
def test_stalled_server_times_out_in_bounded_time(server, tmp_path, path):
    start = time.monotonic()
    with pytest.raises(CorpusError, match=r"(?i)timed? ?out.*gave up after 2"):
        _fetch(server.url(path), tmp_path, timeout=(1.0, 0.3), retries=2)
    assert time.monotonic() - start < 4.0
    assert server.counts[path] == 2
    assert _files(tmp_path) == []


def test_truncated_response_raises_and_leaves_no_cache_file(server, tmp_path):
    with pytest.raises(CorpusError, match=r"/truncated.*gave up after 2 attempts"):
        _fetch(server.url("/truncated"), tmp_path, retries=2)
    assert server.counts["/truncated"] == 2
    assert _files(tmp_path) == []


def test_corrupted_cache_file_is_detected_and_fetched_again(server, tmp_path):
    server.files["/book.txt"] = BOOK.encode()
    url = server.url("/book.txt")
    _load(url, tmp_path)
    cached = next(path for path in tmp_path.iterdir() if path.suffix == ".txt")
    cached.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="failed its sha256 check"):
        assert _load(url, tmp_path) == BOOK
    assert server.counts["/book.txt"] == 2
    assert cached.read_bytes() == BOOK.encode()


def test_cache_file_without_sidecar_is_fetched_again(server, tmp_path):
    server.files["/book.txt"] = BOOK.encode()
    url = server.url("/book.txt")
    _load(url, tmp_path)
    next(path for path in tmp_path.iterdir() if path.suffix == ".sha256").unlink()
    with pytest.warns(UserWarning, match="failed its sha256 check"):
        assert _load(url, tmp_path) == BOOK
    assert server.counts["/book.txt"] == 2


def test_known_hash_is_checked_instead_of_the_sidecar(server, tmp_path):
    server.files["/input.txt"] = BOOK.encode()
    url = server.url("/input.txt")
    digest = hashlib.sha256(BOOK.encode()).hexdigest()
    assert _fetch(url, tmp_path, sha256=digest) == BOOK.encode()
    # Truncated, with a sidecar that matches the truncated bytes.
    _cache(tmp_path, url, BOOK.encode()[:-5])
    with pytest.warns(UserWarning, match=f"expected {digest}"):
        assert _fetch(url, tmp_path, sha256=digest) == BOOK.encode()
    assert server.counts["/input.txt"] == 2


def test_download_with_wrong_hash_raises_and_is_not_cached(server, tmp_path):
    server.files["/input.txt"] = BOOK.encode()
    url = server.url("/input.txt")
    with pytest.raises(CorpusError, match=f"{url} has sha256 .*, expected 0000"):
        _fetch(url, tmp_path, sha256="0" * 64)
    assert _files(tmp_path) == []


def test_named_corpus_is_read_from_the_cache(offline, tmp_path):
    _cache(tmp_path, corpus._NAMED_CORPORA["alice"].url, GUTENBERG.encode())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _load("alice", tmp_path) == "Chapter 1\n\nOnce upon a time."


def test_named_corpus_cache_is_checked_against_its_known_hash(offline, tmp_path):
    entry = corpus._NAMED_CORPORA["shakespeare"]
    _cache(tmp_path, entry.url, BOOK.encode())  # its sidecar matches: altered
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = _load("shakespeare", tmp_path, retries=1)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert f"failed its sha256 check (expected {entry.sha256}, found" in messages[0]
    assert messages[1].endswith("Using the embedded 'pydoc' corpus instead.")
    # Both point at the caller of `load_corpus`.
    assert [w.filename for w in caught] == [__file__, __file__]
    assert text == load_corpus("pydoc")


def test_named_corpus_falls_back_to_pydoc_with_one_warning(offline, tmp_path):
    url = corpus._NAMED_CORPORA["alice"].url
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = _load("alice", tmp_path, retries=1)
    assert len(caught) == 1
    assert re.fullmatch(
        rf"Could not load the 'alice' corpus from {re.escape(url)}: Could not "
        rf"download {re.escape(url)}: ProxyError: .+\. Using the embedded "
        r"'pydoc' corpus instead\.",
        str(caught[0].message),
        re.S,
    )
    assert caught[0].category is UserWarning
    assert caught[0].filename == __file__
    assert text == load_corpus("pydoc")
    assert _files(tmp_path) == []


def test_named_corpus_fallback_is_normalized_like_the_book(offline, tmp_path):
    with pytest.warns(UserWarning, match="embedded 'pydoc' corpus instead"):
        text = _load("alice", tmp_path, retries=1, normalize_whitespace="collapse")
    assert text == load_corpus("pydoc", normalize_whitespace="collapse")


def test_user_url_never_falls_back(server, tmp_path):
    url = server.url("/book.txt")
    server.stop()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CorpusError, match=f"Could not download {url}"):
            _load(url, tmp_path, retries=1)


def test_non_utf8_download_raises_naming_encoding_and_offset(server, tmp_path):
    server.files["/latin1.txt"] = "café au lait".encode("latin-1")
    url = server.url("/latin1.txt")
    with pytest.raises(CorpusError, match=r"not valid 'utf-8' text: byte 0xe9 at"):
        _load(url, tmp_path)
    with pytest.raises(CorpusError, match=r"offset 3 .*encoding=\"latin-1\""):
        _load(url, tmp_path)


def test_non_utf8_download_loads_with_latin1(server, tmp_path):
    server.files["/latin1.txt"] = "café au lait".encode("latin-1")
    assert _load(server.url("/latin1.txt"), tmp_path, encoding="latin-1") == (
        "café au lait"
    )


def test_empty_download_raises(server, tmp_path):
    server.files["/empty.txt"] = b""
    with pytest.raises(CorpusError, match=r"empty. Received: source='http://"):
        _load(server.url("/empty.txt"), tmp_path)


def test_gutenberg_download_is_stripped_and_newlines_normalized(server, tmp_path):
    server.files["/pg.txt"] = GUTENBERG.encode()
    assert _load(server.url("/pg.txt"), tmp_path) == "Chapter 1\n\nOnce upon a time."


def test_verbose_prints_one_line_with_size(server, tmp_path, capsys):
    server.files["/book.txt"] = BOOK.encode()
    url = server.url("/book.txt")
    load_corpus(url, cache_dir=tmp_path)
    load_corpus(url, cache_dir=tmp_path)
    assert capsys.readouterr().out == f"Downloading {url} (0.1 kB)\n"


def test_local_path_str_and_pathlike(tmp_path):
    path = tmp_path / "book.txt"
    path.write_bytes(b"\xef\xbb\xbfline one\r\nline two\rend\n")
    assert load_corpus(path) == "line one\nline two\nend\n"
    assert load_corpus(str(path)) == "line one\nline two\nend\n"


def test_local_non_utf8_error_counts_offset_from_file_start(tmp_path):
    path = tmp_path / "book.txt"
    path.write_bytes(b"\xef\xbb\xbfab\xff")
    with pytest.raises(CorpusError, match=rf"{path} is not .* at offset 5"):
        load_corpus(path)


def test_local_whitespace_only_file_raises(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\t\n")
    with pytest.raises(CorpusError, match="The corpus is empty"):
        load_corpus(path)


def test_unknown_name_raises_listing_known_names(tmp_path):
    with pytest.raises(
        CorpusError,
        match=r"'alice', 'shakespeare'.*no file exists.*Received: source='nope'",
    ):
        load_corpus("nope")


def test_missing_path_raises(tmp_path):
    with pytest.raises(CorpusError, match="no file exists at that path"):
        load_corpus(tmp_path / "missing.txt")


def test_source_of_wrong_type_raises():
    with pytest.raises(CorpusError, match="Received: source=3"):
        load_corpus(3)


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("keep", "  a \t b  \n\n\n\nc \n"),
        ("lines", "a b\n\nc"),
        ("collapse", "a b c"),
    ],
)
def test_normalize_whitespace_modes(tmp_path, mode, expected):
    path = tmp_path / "spaces.txt"
    path.write_text("  a \t b  \n\n\n\nc \n")
    assert load_corpus(path, normalize_whitespace=mode) == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"normalize_whitespace": "tidy"}, "Received: normalize_whitespace='tidy'"),
        ({"encoding": "klingon"}, "Received: encoding='klingon'"),
        ({"retries": 0}, "Received: retries=0"),
    ],
)
def test_invalid_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_corpus("pydoc", **kwargs)


def test_strip_gutenberg_keeps_text_between_markers():
    text = (
        "header\n*** Start of the Project Gutenberg eBook X ***\n\nBody.\n\n"
        "*** end of the project gutenberg ebook x ***\nfooter\n"
    )
    assert strip_gutenberg(text) == "Body."


def test_strip_gutenberg_without_end_marker_keeps_rest():
    text = "header\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nBody.\n"
    assert strip_gutenberg(text) == "Body."


def test_strip_gutenberg_without_markers_is_identity():
    text = "*** not a marker ***\n  Plain text.\n"
    assert strip_gutenberg(text) == text


def test_pydoc_corpus_is_the_sorted_help_topics():
    from pydoc_data.topics import topics

    text = load_corpus("pydoc")
    first = sorted(topics)[0]
    assert text.startswith(topics[first].strip() + "\n\n")
    assert len(text) > 100_000
    assert len(set(text)) > 80
    assert text == load_corpus()


def test_list_corpora():
    assert corpus.list_corpora() == ("pydoc", "alice", "shakespeare")


def test_save_rejects_fewer_bytes_than_content_length(tmp_path):
    path = tmp_path / "book.txt"
    with pytest.raises(CorpusError, match="received 3 of the 10 bytes announced"):
        downloader._save(iter([b"abc"]), "http://host/book.txt", str(path), 10, None)
    assert _files(tmp_path) == []
