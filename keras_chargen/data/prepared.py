"""`PreparedCorpus`: a corpus written by `prepare_corpus`, read through memory maps."""

import json
import math
import mmap
import os
from pathlib import Path

import numpy as np

from keras_chargen.data.downloader import CorpusError
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS

MANIFEST = "manifest.json"
FORMAT = "keras_chargen.prepared_corpus"
FORMAT_VERSION = 1
SPLITS = ("train", "validation")
_DECODE_CHUNK = 1 << 22


def ids_dtype(vocabulary_size):
    """The smallest unsigned dtype that holds every id: uint8, uint16 or uint32."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocabulary_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise CorpusError(f"A vocabulary of {vocabulary_size} ids does not fit uint32.")


def is_prepared_corpus(path):
    """Whether `path` is a folder holding a prepared corpus's manifest."""
    try:
        return os.path.isfile(os.path.join(os.fspath(path), MANIFEST))
    except TypeError:
        return False


class PreparedCorpus:
    """A corpus written by `keras_chargen.prepare_corpus`, opened for reading.

    The folder holds `manifest.json` (the vocabulary as a JSON list of
    characters, the sizes, the id dtype, the split, the sources' sha256) and
    one `.npy` id array per split, `train.npy` and `validation.npy`. Opening
    checks the manifest against the arrays' headers (dtype, length) and reads
    no ids; `ids(split)` maps an array into memory (read-only), so a corpus
    larger than memory costs only the pages a reader touches.

    Ids are those of `vectorizer()`: 0 and 1 are reserved, character `i` of
    `vocabulary` is id `i + 2`.

    Args:
        path: the folder `prepare_corpus` wrote.

    Attributes:
        path: the folder, a `pathlib.Path`.
        manifest: the manifest, a dict.
        vocabulary: the list of characters.
        num_characters: int, characters of both splits together (`len()`).
        validation_split: the float the split was made with.

    Raises:
        CorpusError: if the folder, its manifest or an array is missing,
            unreadable, or does not match the manifest.

    Example:

    ```python
    corpus = keras_chargen.PreparedCorpus("books.prepared")
    train_ds, val_ds = keras_chargen.make_datasets(corpus, corpus.vectorizer())
    ```
    """

    def __init__(self, path):
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.vocabulary = self.manifest["vocabulary"]
        self.dtype = np.dtype(self.manifest["dtype"])
        self.validation_split = self.manifest["validation_split"]
        self.num_characters = self.manifest["characters"]
        for split in SPLITS:
            _array_offset(self._file(split), self.dtype, self.split_size(split))

    def __len__(self):
        return self.num_characters

    def __repr__(self):
        return (
            f"PreparedCorpus({str(self.path)!r}: {self.num_characters:,} characters, "
            f"{len(self.vocabulary)} distinct, {self.dtype.name})"
        )

    def split_size(self, split):
        """Characters in `split` (`"train"` or `"validation"`)."""
        return self.manifest["splits"][_check_split(split)]["characters"]

    def vectorizer(self):
        """A `CharVectorizer` whose ids are those stored in the arrays."""
        return CharVectorizer(vocabulary=self.vocabulary)

    def ids(self, split="train"):
        """The ids of `split`, a read-only array mapped from its file.

        The mapping is advised for random access (no read-ahead), as
        training windows start at random places.
        """
        path = self._file(split)
        size = self.split_size(split)
        offset = _array_offset(path, self.dtype, size)
        with open(path, "rb") as file:
            if size == 0:
                return np.zeros(0, self.dtype)
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_RANDOM)
        return np.frombuffer(mapped, self.dtype, size, offset)

    def text(self, split="validation"):
        """The characters of `split` as one `str` (it must fit in memory).

        Decoded a chunk at a time, so that only the `str` grows with the split.
        """
        table = np.array(
            [0, ord("\ufffd"), *map(ord, self.vocabulary)], dtype=np.uint32
        )
        ids = self.ids(split)
        pieces = []
        for start in range(0, len(ids), _DECODE_CHUNK):
            codes = table[ids[start : start + _DECODE_CHUNK]]
            pieces.append(codes.tobytes().decode("utf-32-le", "surrogatepass"))
        release_pages(ids)
        return "".join(pieces)

    def _file(self, split):
        return self.path / self.manifest["splits"][_check_split(split)]["file"]


def release_pages(ids):
    """Unmaps the pages of a mapped id array that a reader has touched.

    They stay in the page cache; the next access maps them again. Keeps a
    long scan over a large corpus from growing the process's resident size.
    """
    base = ids.base
    if isinstance(base, memoryview):  # what `np.frombuffer` keeps
        base = base.obj
    if isinstance(base, mmap.mmap) and hasattr(base, "madvise"):
        base.madvise(mmap.MADV_DONTNEED)


def read_manifest(path):
    """The checked manifest of the prepared corpus in folder `path`."""
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(
            f"{str(path)!r} is not a prepared corpus: it has no {MANIFEST} "
            "(write one with `keras-chargen prepare SOURCE --output DIR`)."
        ) from None
    except (OSError, UnicodeError, ValueError) as error:
        raise CorpusError(f"Cannot read {file}: {error}") from None
    _check_manifest(manifest, file)
    return manifest


def _check_manifest(manifest, file):
    def fail(what):
        raise CorpusError(f"{file} is not a valid prepared-corpus manifest: {what}.")

    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        fail(f"its 'format' is not {FORMAT!r}")
    if manifest.get("version") != FORMAT_VERSION:
        fail(
            f"version {manifest.get('version')!r}; this keras_chargen reads "
            f"version {FORMAT_VERSION}"
        )
    vocabulary = manifest.get("vocabulary")
    if (
        not isinstance(vocabulary, list)
        or not vocabulary
        or not all(isinstance(c, str) and len(c) == 1 for c in vocabulary)
        or len(set(vocabulary)) != len(vocabulary)
    ):
        fail("'vocabulary' must be a non-empty list of distinct single characters")
    try:
        dtype = np.dtype(manifest.get("dtype"))
    except TypeError:
        dtype = None
    if dtype != ids_dtype(len(vocabulary) + NUM_RESERVED_IDS):
        fail(
            f"'dtype' {manifest.get('dtype')!r} does not suit a vocabulary of "
            f"{len(vocabulary)} characters"
        )
    splits = manifest.get("splits")
    if not isinstance(splits, dict) or set(splits) != set(SPLITS):
        fail(f"'splits' must name {SPLITS}")
    for split, entry in splits.items():
        if (
            not isinstance(entry, dict)
            or not _is_count(entry.get("characters"))
            or not isinstance(entry.get("file"), str)
            or Path(entry["file"]).name != entry["file"]
        ):
            fail(f"split {split!r} needs a file name and a character count")
    total = manifest.get("characters")
    if not _is_count(total) or total != sum(s["characters"] for s in splits.values()):
        fail("'characters' is not the sum of the splits' characters")
    share = manifest.get("validation_split")
    if not isinstance(share, int | float) or not math.isfinite(share):
        fail("'validation_split' must be a number")


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: split={split!r}")
    return split


def _array_offset(path, dtype, size):
    """Where the ids start in `.npy` file `path`, after checking its header."""
    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(file)
            else:
                header = np.lib.format.read_array_header_2_0(file)
            offset = file.tell()
            length = os.fstat(file.fileno()).st_size
    except FileNotFoundError:
        raise CorpusError(
            f"The prepared corpus is incomplete: {path} is missing."
        ) from None
    except (OSError, ValueError) as error:
        raise CorpusError(f"{path} is not a readable .npy id array: {error}") from None
    shape, fortran, stored = header
    expected = ((size,), dtype)
    if (shape, stored) != expected or fortran:
        raise CorpusError(
            f"{path} does not match the manifest: it holds {stored} of shape "
            f"{shape}, the manifest says {dtype} of shape ({size},)."
        )
    if length != offset + size * dtype.itemsize:
        raise CorpusError(
            f"{path} does not match the manifest: {length - offset} bytes of ids "
            f"where {size} {dtype} ids take {size * dtype.itemsize} (truncated?)."
        )
    return offset
