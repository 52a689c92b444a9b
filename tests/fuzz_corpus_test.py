"""Property-based fuzzing of `load_corpus`: arbitrary bytes, codecs and servers.

Why hypothesis rather than atheris: the properties are about Python-level
contracts ("text or a `CorpusError`, never another exception"), hypothesis
runs inside pytest on every platform and Python the project supports (atheris
needs a libFuzzer build and has no wheels for every Python), it shrinks a
failure to a minimal input and prints it as a test case, and its strategies
reach the interesting inputs directly: every Python codec, byte-order marks,
lone `\\r`, Gutenberg markers, wrong `Content-Length` headers. The code
under test is a thin layer over the standard library's codecs, where
coverage guidance would add little.

The short runs are part of the default suite; `-m large` runs each property
on many more, random, inputs (see `fuzzing.py`).
"""

import encodings.aliases
import http.server
import itertools
import os
import re
import tempfile
import threading
import warnings

import pytest
from fuzzing import fuzz
from hypothesis import example
from hypothesis import strategies as st

from keras_chargen import CorpusError, load_corpus, strip_gutenberg
from keras_chargen.data.downloader import cache_name

# Every codec Python knows by an alias, plus a few more: text codecs, the
# bytes-to-bytes ones (`base64_codec`, `zlib_codec`, ...) that `load_corpus`
# must refuse as options, and names that are no codec at all.
CODECS = sorted(
    set(encodings.aliases.aliases.values())
    | {"utf-8", "utf-8-sig", "idna", "punycode", "unicode_escape", "charmap"}
)
ENCODINGS = st.sampled_from([*CODECS, "klingon", "", "utf-9"])
TEXT_ENCODINGS = st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-16-le"])


def is_text_codec(name):
    # Independent of `load_corpus`'s own check: decode one byte.
    try:
        b"x".decode(name)
    except LookupError:
        return False
    except UnicodeError:
        return True
    return True


def write_tmp(data):
    fd, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return path


# Bytes that look like text in some encoding more often than random bytes do.
PIECES = st.sampled_from(
    [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\r\n", b"\r", b"\n", b"\x00"]
    + [b"*** START OF THE PROJECT GUTENBERG EBOOK X ***\n"]
    + [b"*** END OF THE PROJECT GUTENBERG EBOOK X ***\n", b"xn--", b"\\x", b"\\u"]
)
BYTES = st.one_of(
    st.binary(max_size=200),
    st.lists(st.one_of(PIECES, st.binary(max_size=8)), max_size=20).map(b"".join),
)


# ------------------------------------------------------------------ files
@fuzz(BYTES, ENCODINGS, st.sampled_from(["keep", "lines", "collapse"]))
@example(b"9", "punycode", "keep")  # UnicodeError, not UnicodeDecodeError
@example(b"a-\xff", "punycode", "keep")  # an offset in a piece of the text
@example(b"\n", "punycode", "keep")  # a message quoting a newline
@example(b"abc", "base64_codec", "keep")  # a bytes-to-bytes codec
def test_any_bytes_give_text_or_a_corpus_error(data, encoding, whitespace):
    path = write_tmp(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # unicode_escape
            text = load_corpus(path, encoding=encoding, normalize_whitespace=whitespace)
    except CorpusError as error:
        assert path in str(error) and "\n" not in str(error)
        named = re.search(r"byte (0x[0-9a-f]{2}) at offset (\d+)", str(error))
        if named:  # the byte named is the one at that offset
            assert data[int(named[2])] == int(named[1], 16)
    except ValueError as error:
        assert not is_text_codec(encoding)
        assert f"Received: encoding={encoding!r}" in str(error)
    else:
        assert isinstance(text, str) and text.strip()
        assert "\r" not in text
    finally:
        os.remove(path)


test_any_bytes_give_text_or_a_corpus_error_large = (
    test_any_bytes_give_text_or_a_corpus_error.large
)


@fuzz(st.text(), TEXT_ENCODINGS, st.booleans())
def test_text_written_in_an_encoding_reads_back(text, encoding, bom):
    data = text.encode(encoding)
    if bom and encoding == "utf-8":
        data = b"\xef\xbb\xbf" + data
    path = write_tmp(data)
    expected = strip_gutenberg(text.replace("\r\n", "\n").replace("\r", "\n"))
    try:
        if not expected.strip():
            with pytest.raises(CorpusError, match="The corpus is empty"):
                load_corpus(path, encoding=encoding)
        else:
            assert load_corpus(path, encoding=encoding) == expected
    finally:
        os.remove(path)


test_text_written_in_an_encoding_reads_back_large = (
    test_text_written_in_an_encoding_reads_back.large
)


@fuzz(st.text(), st.sampled_from(["lines", "collapse"]))
def test_whitespace_modes_leave_no_runs(text, mode):
    path = write_tmp(text.encode("utf-8"))
    try:
        result = load_corpus(path, normalize_whitespace=mode)
    except CorpusError as error:
        assert "The corpus is empty" in str(error)
        return
    finally:
        os.remove(path)
    assert result == result.strip()
    if mode == "collapse":
        assert result.split() == result.split(" ")
    else:
        assert "\n\n\n" not in result and " \n" not in result and "  " not in result


test_whitespace_modes_leave_no_runs_large = test_whitespace_modes_leave_no_runs.large


# -------------------------------------------------------------- downloads
class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, length, body = self.server.responses.get(self.path, (404, None, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    with pytest.MonkeyPatch.context() as patch:
        # No proxy between the test and its own server.
        for name in ("http_proxy", "https_proxy", "all_proxy"):
            patch.delenv(name, raising=False)
            patch.delenv(name.upper(), raising=False)
        yield from _serve()


def _serve():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.responses = {}
    server.paths = itertools.count()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


RESPONSES = st.tuples(
    st.sampled_from([200, 200, 200, 204, 301, 404, 500, 503]),
    st.one_of(st.none(), st.integers(0, 300)),  # Content-Length, None: correct
    BYTES,
)


@fuzz(
    response=RESPONSES,
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "ascii", "punycode"]),
    cached=st.one_of(st.none(), BYTES),
    sidecar=st.one_of(st.none(), st.binary(max_size=80)),
)
def test_any_download_or_cache_gives_text_or_a_corpus_error(
    server, cache_dir, response, encoding, cached, sidecar
):
    path = f"/{next(server.paths)}.txt"
    server.responses[path] = response
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    cache_file = os.path.join(cache_dir, cache_name(url))
    if cached is not None:
        with open(cache_file, "wb") as file:
            file.write(cached)
    if sidecar is not None:
        with open(cache_file + ".sha256", "wb") as file:
            file.write(sidecar)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # cache check failed
            text = load_corpus(
                url, cache_dir=cache_dir, encoding=encoding, retries=1,
                timeout=5, verbose=False,
            )  # fmt: skip
    except CorpusError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(text, str) and text.strip()
    assert not [name for name in os.listdir(cache_dir) if name.endswith(".part")]


test_any_download_or_cache_gives_text_or_a_corpus_error_large = (
    test_any_download_or_cache_gives_text_or_a_corpus_error.large
)


# ------------------------------------------------------------- found bugs
def test_a_bytes_to_bytes_codec_is_refused_as_an_option(tmp_path):
    # Found by the fuzzer: `codecs.lookup("base64_codec")` passed the option
    # check, then `bytes.decode` raised LookupError from inside load_corpus.
    path = tmp_path / "a.txt"
    path.write_bytes(b"YWJj")
    with pytest.raises(ValueError, match="must be the name of a Python text codec"):
        load_corpus(path, encoding="base64_codec")


def test_a_codec_error_without_offset_is_a_corpus_error(tmp_path):
    # Found by the fuzzer: "punycode" raises UnicodeError, which is not a
    # UnicodeDecodeError and escaped load_corpus.
    path = tmp_path / "a.txt"
    path.write_bytes(b"9")
    with pytest.raises(CorpusError, match="is not valid 'punycode' text"):
        load_corpus(path, encoding="punycode")
    path.write_bytes(b"xn--")
    with pytest.raises(CorpusError, match="is not valid 'idna' text"):
        load_corpus(path, encoding="idna")
    path.write_bytes(b"\n")  # the codec's message quotes the newline
    with pytest.raises(CorpusError, match=r"code point '\\n'") as info:
        load_corpus(path, encoding="punycode")
    assert "\n" not in str(info.value)


def test_an_offset_inside_a_piece_of_the_text_is_not_reported_as_the_files(
    tmp_path,
):
    # Found by the fuzzer: "punycode" reports 0xff in b"a-\xff" at offset 0
    # of the part after "-", and the message named byte 0x61 ("a") at offset
    # 0 of the file.
    path = tmp_path / "a.txt"
    path.write_bytes(b"a-\xff")
    with pytest.raises(CorpusError) as info:
        load_corpus(path, encoding="punycode")
    assert "0x61" not in str(info.value) and "0xff" in str(info.value)
