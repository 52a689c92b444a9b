"""`prepare_corpus`: a corpus of any size -> memory-mappable id arrays + a manifest."""

import codecs
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from keras_chargen.data.corpus import _check_options, list_corpora
from keras_chargen.data.downloader import CorpusError
from keras_chargen.data.prepared import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PreparedCorpus,
    ids_dtype,
    is_prepared_corpus,
    read_manifest,
)
from keras_chargen.data.sources import (
    DOCUMENT_SEPARATOR,
    check_not_binary,
    corpus_files,
)
from keras_chargen.data.split import split_sizes
from keras_chargen.layers.char_table import codepoints
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS
from keras_chargen.models.saving import fsync_path
from keras_chargen.training.run_lock import RunLock

_CODE_POINTS = 0x110000
_HINT = 'If the file uses another encoding, pass it, e.g. `encoding="latin-1"`.'


def prepare_corpus(
    source,
    output_dir,
    validation_split=0.1,
    *,
    encoding="utf-8",
    chunk_size=1 << 22,
    verbose=True,
):
    """Writes a corpus as memory-mappable id arrays, for corpora of any size.

    Two streaming passes over the source files, `chunk_size` bytes at a
    time, so memory does not grow with the corpus: the first decodes the
    bytes (an incremental decoder keeps characters split across chunks
    whole), counts every character and hashes each file; the second encodes
    the text with the vocabulary found and writes the ids. The split is
    `keras_chargen.split_text`'s rule applied to the whole stream: the last
    `round(characters * validation_split)` characters are the validation
    split.

    `output_dir` then holds `manifest.json` (the vocabulary as
    `CharVectorizer` stores it, a JSON list of characters; the sizes; the id
    dtype, uint8 when the ids fit, else uint16 or uint32; each source's
    path, size and sha256; the split), `train.npy` and `validation.npy`
    (read them with `keras_chargen.PreparedCorpus`, or `numpy.load(...,
    mmap_mode="r")`). Nothing is pickled.

    The text is what `load_corpus` reads from the same files, except that
    the Project Gutenberg licence is kept and whitespace is never
    normalised (both need a whole file in memory): line endings become
    `\\n`, a UTF-8 byte-order mark is dropped, a folder's or glob's files
    are joined by the separator `"\\x1e"`, and there a file
    holding a NUL character is refused as binary.

    The folder is built beside `output_dir` under a temporary name and
    renamed into place when complete: after a crash or a kill `output_dir`
    is either absent or complete. A lock (`<output_dir>.lock`) refuses a
    second `prepare_corpus` on the same `output_dir` while one runs.

    When `output_dir` already holds a corpus prepared from the same files
    (same paths, sizes and sha256) with the same settings, it is reused as
    it is (and `verbose` says so). When the sources or settings changed, it
    is rebuilt and replaced.

    Args:
        source: a path to a text file, a folder, or a glob (see
            `keras_chargen.corpus_files`).
        output_dir: the folder to write. Its parent must exist; the folder
            itself must not exist, or be empty, or hold a prepared corpus.
        validation_split: float in `[0, 1)`, the tail held out. Defaults to
            `0.1`.
        encoding: the files' text encoding. Defaults to `"utf-8"`.
        chunk_size: int, bytes read at a time. Defaults to `4 MiB`.
        verbose: bool, show progress (bytes per second) on stderr. Defaults
            to `True`.

    Returns:
        The `keras_chargen.PreparedCorpus` in `output_dir`.

    Raises:
        CorpusError: for a source that is not a file, folder or glob, a file
            that cannot be read or decoded, a binary file in a folder, an
            empty corpus, a file that changed while it was read, or an
            `output_dir` that holds something else.
        keras_chargen.training.run_lock.RunLockedError: another prepare is
            writing `output_dir`.
        ValueError: a bad `validation_split`, `encoding` or `chunk_size`.
        OSError: the output cannot be written (a full disk, no permission).

    Example:

    ```python
    corpus = keras_chargen.prepare_corpus("books/", "books.prepared")
    model, summary = keras_chargen.train("books.prepared", "books.keras")
    ```
    """
    _check_options("keep", encoding, 1)
    split_sizes(0, validation_split)
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or chunk_size < 1
    ):
        raise ValueError(
            f"`chunk_size` must be a positive int. Received: chunk_size={chunk_size!r}"
        )
    files = _source_files(source)
    output = Path(output_dir)
    if not output.parent.is_dir():
        raise CorpusError(f"The folder of {str(output)!r} does not exist.")
    settings = {"validation_split": validation_split, "encoding": encoding}
    progress = _Progress(verbose, sum(f.stat().st_size for f in files), chunk_size)
    with RunLock(output, what="prepare"):
        _remove_leftovers(output)
        old = _existing(output)
        sources, counts = _scan(files, encoding, progress)
        if old is not None and _same(old, sources, settings):
            progress.say(f"{output} is up to date with its sources: reusing it.")
            return PreparedCorpus(output)
        if old is not None:
            progress.say(
                f"{output} was prepared from other sources or settings: rebuilding."
            )
        temporary = output.with_name(f".{output.name}.tmp-{uuid.uuid4().hex[:12]}")
        temporary.mkdir()
        try:
            manifest = _write(files, sources, counts, settings, temporary, progress)
            _move_into_place(temporary, output)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    progress.say(
        f"Prepared {output}: {manifest['characters']:,} characters, "
        f"{len(manifest['vocabulary'])} distinct, {manifest['dtype']} ids."
    )
    return PreparedCorpus(output)


def _source_files(source):
    files = corpus_files(source)
    if files is not None:
        return files
    try:
        path = Path(os.fspath(source))
    except TypeError:
        path = None
    if path is None or not path.is_file():
        raise CorpusError(
            "`prepare_corpus` reads a text file, a folder or a glob; no file or "
            f"folder exists at that path. Named corpora {list_corpora()} and URLs "
            "are read by `load_corpus`. Received: source={source!r}"
        )
    return [path]


def _remove_leftovers(output):
    """Removes what a killed prepare of `output` left (we hold its lock)."""
    for stale in output.parent.glob(f".{output.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in output.parent.glob(f".{output.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _existing(output):
    """The manifest already in `output`, `None` if absent or empty."""
    if not output.exists() or (output.is_dir() and not any(output.iterdir())):
        return None
    if not is_prepared_corpus(output):
        raise CorpusError(
            f"{str(output)!r} exists and is not a prepared corpus: it has no "
            f"{MANIFEST}. Choose another output folder, or empty this one."
        )
    try:
        PreparedCorpus(output)
        return read_manifest(output)
    except CorpusError:
        return {}  # damaged: rebuilt


def _same(old, sources, settings):
    return (
        bool(old)
        and all(old.get(k) == v for k, v in settings.items())
        and old.get("sources") == sources
    )


def _scan(files, encoding, progress):
    """Pass 1: each file's size, characters and sha256; counts per code point."""
    sources = []
    counts = np.zeros(_CODE_POINTS, np.int64)
    progress.start("1/2 vocabulary")
    for path in files:
        digest = hashlib.sha256()
        size = characters = 0
        for raw, text in _read_text(path, encoding, len(files) > 1, progress):
            digest.update(raw)
            size += len(raw)
            characters += len(text)
            if text:
                # Without `minlength`: as long as the largest code point seen.
                found = np.bincount(codepoints(text))
                counts[: len(found)] += found
        sources.append(
            {
                "path": str(path.resolve()),
                "bytes": size,
                "characters": characters,
                "sha256": digest.hexdigest(),
            }
        )
    progress.end()
    return sources, counts


def _write(files, sources, counts, settings, folder, progress):
    """Pass 2: the ids of every file, into the two split arrays."""
    counts = counts.copy()
    separators = len(files) - 1
    counts[ord(DOCUMENT_SEPARATOR)] += separators
    codes = np.flatnonzero(counts)
    vocabulary = [chr(c) for c in codes]
    if not any(not c.isspace() for c in vocabulary):
        raise CorpusError(f"The corpus is empty. Received {len(files)} file(s).")
    dtype = ids_dtype(len(vocabulary) + NUM_RESERVED_IDS)
    table = np.zeros(_CODE_POINTS, dtype)
    table[codes] = np.arange(NUM_RESERVED_IDS, NUM_RESERVED_IDS + len(codes))
    total = int(counts.sum())
    train, validation = split_sizes(total, settings["validation_split"])
    writer = _SplitWriter(folder, dtype, (train, validation))
    progress.start("2/2 ids")
    try:
        for index, (path, source) in enumerate(zip(files, sources, strict=True)):
            if index:
                writer.write(table[[ord(DOCUMENT_SEPARATOR)]])
            digest = hashlib.sha256()
            for raw, text in _read_text(
                path, settings["encoding"], len(files) > 1, progress
            ):
                digest.update(raw)
                if text:
                    writer.write(table[codepoints(text)], path)
            if digest.hexdigest() != source["sha256"]:
                _changed(path)
        writer.finish()
    finally:
        writer.close()
    progress.end()
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "vocabulary": vocabulary,
        "dtype": dtype.name,
        "characters": total,
        **settings,
        "splits": {
            "train": {"file": "train.npy", "characters": train},
            "validation": {"file": "validation.npy", "characters": validation},
        },
        "documents": len(files),
        "document_separator": DOCUMENT_SEPARATOR if len(files) > 1 else None,
        "character_counts": counts[codes].tolist(),
        "sources": sources,
    }
    _write_json(folder / MANIFEST, manifest)
    fsync_path(folder)
    return manifest


def _changed(path):
    raise CorpusError(
        f"{path} changed while it was being prepared (its contents differ "
        "between the two passes). Nothing was written; run prepare again "
        "once it has stopped changing."
    )


def _read_text(path, encoding, many, progress):
    """Yields `(raw bytes, text)` chunks of one file, decoded and cleaned."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    is_utf8 = codecs.lookup(encoding).name == "utf-8"
    chunk_size = progress.chunk_size
    held = ""  # a final "\r" waits for the next chunk: it may start "\r\n"
    position = characters = 0
    try:
        file = open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise CorpusError(f"Could not read {path}: {error}") from None
    with file:
        while True:
            try:
                # The first read is long enough to hold a whole byte-order mark.
                raw = file.read(chunk_size if position else max(chunk_size, 4))
            except OSError as error:
                raise CorpusError(f"Could not read {path}: {error}") from None
            data, start = raw, position - len(decoder.getstate()[0])
            if position == 0 and is_utf8 and data.startswith(codecs.BOM_UTF8):
                data, start = data[len(codecs.BOM_UTF8) :], len(codecs.BOM_UTF8)
            try:
                text = held + decoder.decode(data, final=not raw)
            except UnicodeError as error:
                _decode_error(path, encoding, error, start)
            held = ""
            if text.endswith("\r") and raw:
                text, held = text[:-1], "\r"
            if "\r" in text:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            if many:
                check_not_binary(text, str(path), characters)
            characters += len(text)
            progress.advance(len(raw))
            yield raw, text
            position += len(raw)
            if not raw:
                return


def _decode_error(path, encoding, error, start):
    offset = getattr(error, "start", None)
    if isinstance(getattr(error, "object", None), bytes) and offset is not None:
        where = start + offset
        raise CorpusError(
            f"{path} is not valid {encoding!r} text: the byte at offset {where} "
            f"cannot be decoded. {_HINT}"
        ) from None
    reason = repr(str(error))[1:-1]
    raise CorpusError(
        f"{path} is not valid {encoding!r} text: {reason}. {_HINT}"
    ) from None


class _SplitWriter:
    """Writes one stream of ids into the train array, then the validation one."""

    def __init__(self, folder, dtype, sizes):
        self.sizes = sizes
        self.files = []
        for name, size in zip(("train", "validation"), sizes, strict=True):
            file = open(folder / f"{name}.npy", "wb")  # noqa: SIM115
            self.files.append(file)
            np.lib.format.write_array_header_1_0(
                file,
                {
                    "descr": np.lib.format.dtype_to_descr(dtype),
                    "fortran_order": False,
                    "shape": (size,),
                },
            )
        self.split = 0
        self.left = sizes[0]

    def write(self, ids, path=None):
        while len(ids):
            while self.left == 0:
                if self.split == 1:
                    _changed(path)
                self.split, self.left = 1, self.sizes[1]
            part, ids = ids[: self.left], ids[self.left :]
            self.files[self.split].write(part.tobytes())
            self.left -= len(part)

    def finish(self):
        if self.split == 0 and self.sizes[1]:
            self.left += self.sizes[1]
        if self.left:
            raise CorpusError(
                f"The sources shrank while they were being prepared: "
                f"{self.left} characters fewer than counted. Run prepare again."
            )
        for file in self.files:
            file.flush()
            os.fsync(file.fileno())

    def close(self):
        for file in self.files:
            file.close()


def _write_json(path, data):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=1, ensure_ascii=True)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())


def _move_into_place(temporary, output):
    """Renames the finished folder to `output`, replacing an older one."""
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}.old-{uuid.uuid4().hex[:12]}")
        os.replace(output, old)
    os.replace(temporary, output)
    fsync_path(output.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class _Progress:
    """Bytes read and bytes per second, on stderr, at most twice a second."""

    def __init__(self, verbose, total, chunk_size):
        self.verbose = verbose
        self.total = total
        self.chunk_size = chunk_size

    def say(self, line):
        if self.verbose:
            print(line, file=sys.stderr, flush=True)

    def start(self, name):
        self.name, self.done = name, 0
        self.started = self.shown = time.monotonic()

    def advance(self, size):
        self.done += size
        now = time.monotonic()
        if self.verbose and now - self.shown >= 0.5:
            self.shown = now
            end = "\r" if sys.stderr.isatty() else "\n"
            print(self._line(now), end=end, file=sys.stderr, flush=True)

    def end(self):
        self.say(self._line(time.monotonic()))

    def _line(self, now):
        rate = self.done / max(now - self.started, 1e-9) / 1e6
        return (
            f"pass {self.name}: {self.done / 1e6:,.1f} / {self.total / 1e6:,.1f} MB, "
            f"{rate:,.1f} MB/s"
        )
