"""Property-based fuzzing of `prepare_corpus` on arbitrary bytes and encodings.

Hypothesis, as in `fuzz_corpus_test.py` (see there for why not atheris). The
property: for any bytes, split into any files, in any codec and with any
chunk size, `prepare_corpus` either raises `CorpusError` or `ValueError`
and leaves no output folder, or writes a corpus whose ids decode to exactly
the text a reference decoder (the whole file at once) gives. The short run
is part of the default suite; `-m large` runs many more random examples.
"""

import codecs
import shutil
import tempfile
from pathlib import Path

from fuzzing import fuzz
from hypothesis import example
from hypothesis import strategies as st

from keras_chargen import CorpusError, PreparedCorpus, prepare_corpus
from keras_chargen.data.sources import DOCUMENT_SEPARATOR

PIECES = st.sampled_from(
    [b"\xef\xbb\xbf", b"\r\n", b"\r", b"\n", b"\x00", b"\xc3", b"\xa9", b"\xe2\x82"]
    + [b"\xf0\x9f\x98\x80", b"\xff", b"\xed\xa0\x80", "é".encode(), b" "]
)
FILE_BYTES = st.one_of(
    st.binary(max_size=60),
    st.lists(st.one_of(PIECES, st.binary(max_size=4)), max_size=20).map(b"".join),
    st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
ENCODINGS = st.sampled_from(["utf-8", "latin-1", "utf-16", "cp1252", "ascii"])


def reference(files, encoding):
    """What prepare should write: each file decoded whole, cleaned, joined."""
    texts = []
    for data in files:
        if codecs.lookup(encoding).name == "utf-8" and data.startswith(codecs.BOM_UTF8):
            data = data[3:]
        text = data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        if len(files) > 1 and "\x00" in text:
            raise CorpusError("binary")
        texts.append(text)
    text = DOCUMENT_SEPARATOR.join(texts)
    if not text.strip():
        raise CorpusError("empty")
    return text


@fuzz(
    st.lists(FILE_BYTES, min_size=1, max_size=3),
    ENCODINGS,
    st.integers(1, 9),
    st.sampled_from([0.0, 0.1, 0.5]),
    short=15,
)
@example([b"a\r", b"\nb"], "utf-8", 1, 0.5)  # "\r" at a file end stays a "\r"
@example([b"\xef\xbb\xbfx\xc3\xa9"], "utf-8", 1, 0.0)  # BOM and "é" cut by chunks
@example([b"ab\xed\xa0\x80"], "utf-8", 2, 0.1)  # an encoded surrogate: invalid
@example([b"\xff\xfea\x00"], "utf-16", 3, 0.1)  # NUL bytes of UTF-16 are not NUL
def test_prepare_writes_the_reference_text_or_refuses(
    files, encoding, chunk_size, validation_split
):
    folder = Path(tempfile.mkdtemp())
    try:
        source = folder / "src"
        source.mkdir()
        for i, data in enumerate(files):
            (source / f"{i}.txt").write_bytes(data)
        target = source / "0.txt" if len(files) == 1 else source
        try:
            expected = reference(files, encoding)
        except (UnicodeError, CorpusError):
            expected = None
        out = folder / "out"
        try:
            corpus = prepare_corpus(
                target,
                out,
                validation_split,
                encoding=encoding,
                chunk_size=chunk_size,
                verbose=False,
            )
        except CorpusError:
            assert expected is None or not expected.strip()
            assert sorted(p.name for p in folder.iterdir()) == ["src"]
            return
        assert expected is not None
        reopened = PreparedCorpus(out)
        assert reopened.text("train") + reopened.text("validation") == expected
        assert corpus.split_size("validation") == round(
            len(expected) * validation_split
        )
    finally:
        shutil.rmtree(folder)


test_prepare_writes_the_reference_text_or_refuses_large = (
    test_prepare_writes_the_reference_text_or_refuses.large
)
