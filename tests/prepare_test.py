"""`prepare_corpus`, `PreparedCorpus`, windows from memory maps, and their faults."""

import json
import os
import random
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import make_text, run_cli

import keras_chargen
from keras_chargen import (
    CorpusError,
    PreparedCorpus,
    load_corpus,
    make_datasets,
    prepare_corpus,
    split_text,
)
from keras_chargen.data.sources import DOCUMENT_SEPARATOR
from keras_chargen.training.run_lock import RunLock, RunLockedError


@pytest.fixture
def books(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text(make_text(600, seed=i), encoding="utf-8")
    (folder / "3.txt").write_bytes("\ufeffCaf\u00e9 \U0001f600\r\nend\r".encode())
    return folder


def whole_text(corpus):
    return corpus.text("train") + corpus.text("validation")


def test_prepared_ids_are_load_corpus_text_split_by_the_one_rule(books, tmp_path):
    corpus = prepare_corpus(books, tmp_path / "out", 0.1, verbose=False)
    expected = load_corpus(books)
    head, tail = split_text(expected, 0.1)
    assert corpus.text("train") == head
    assert corpus.text("validation") == tail
    assert len(corpus) == len(expected)
    assert corpus.vocabulary == sorted(set(expected))
    assert DOCUMENT_SEPARATOR in corpus.vocabulary
    assert corpus.dtype == np.uint8


def test_manifest_records_sources_and_counts(books, tmp_path):
    corpus = prepare_corpus(books, tmp_path / "out", 0.25, verbose=False)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest == corpus.manifest
    assert [os.path.basename(s["path"]) for s in manifest["sources"]] == [
        "0.txt",
        "1.txt",
        "2.txt",
        "3.txt",
    ]
    assert manifest["sources"][3]["bytes"] == (books / "3.txt").stat().st_size
    assert sum(manifest["character_counts"]) == manifest["characters"]
    assert manifest["validation_split"] == 0.25
    assert manifest["documents"] == 4


def test_tiny_chunks_decode_the_same(books, tmp_path):
    whole = prepare_corpus(books, tmp_path / "a", verbose=False)
    chunked = prepare_corpus(books, tmp_path / "b", chunk_size=1, verbose=False)
    assert whole_text(chunked) == whole_text(whole)


def test_large_vocabulary_uses_wider_ids(tmp_path):
    text = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 300)) * 3
    (tmp_path / "cjk.txt").write_text(text, encoding="utf-8")
    corpus = prepare_corpus(tmp_path / "cjk.txt", tmp_path / "out", verbose=False)
    assert corpus.dtype == np.uint16
    assert whole_text(corpus) == text


def test_rerun_reuses_and_changed_source_rebuilds(books, tmp_path, capsys):
    out = tmp_path / "out"
    prepare_corpus(books, out)
    before = (out / "train.npy").stat().st_mtime_ns
    prepare_corpus(books, out)
    assert "reusing it" in capsys.readouterr().err
    assert (out / "train.npy").stat().st_mtime_ns == before
    (books / "4.txt").write_text("A new document.\n")
    corpus = prepare_corpus(books, out)
    assert "rebuilding" in capsys.readouterr().err
    assert whole_text(corpus) == load_corpus(books)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["books", "out"]


def test_output_holding_other_files_is_refused(books, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(CorpusError, match="is not a prepared corpus"):
        prepare_corpus(books, tmp_path / "out", verbose=False)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "train.npy").unlink(), "train.npy is missing"),
        (
            lambda d: (d / "validation.npy").write_bytes(
                (d / "validation.npy").read_bytes()[:-3]
            ),
            "truncated",
        ),
        (lambda d: (d / "manifest.json").write_text("{"), "Cannot read"),
        (lambda d: _edit(d, characters=5), "not the sum"),
        (lambda d: _edit(d, vocabulary=["a", "a"]), "distinct single characters"),
        (lambda d: _edit(d, dtype="uint16"), "does not suit"),
    ],
)
def test_damaged_prepared_corpus_is_refused(books, tmp_path, damage, message):
    prepare_corpus(books, tmp_path / "out", verbose=False)
    damage(tmp_path / "out")
    with pytest.raises(CorpusError, match=message):
        PreparedCorpus(tmp_path / "out")


def _edit(folder, **changes):
    path = folder / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_bad_sources_raise(tmp_path):
    with pytest.raises(CorpusError, match="reads a text file, a folder or a glob"):
        prepare_corpus(tmp_path / "missing.txt", tmp_path / "out", verbose=False)
    (tmp_path / "blank.txt").write_text("\n\n")
    with pytest.raises(CorpusError, match="The corpus is empty"):
        prepare_corpus(tmp_path / "blank.txt", tmp_path / "out", verbose=False)
    (tmp_path / "bad.txt").write_bytes(b"abc\xffdef")
    with pytest.raises(CorpusError, match=r"bad.txt is not valid 'utf-8'.*offset 3"):
        prepare_corpus(tmp_path / "bad.txt", tmp_path / "out", verbose=False)
    assert not (tmp_path / "out").exists()


def test_binary_file_in_folder_is_named(books, tmp_path):
    (books / "x.bin").write_bytes(b"ELF\x00\x01\x02")
    with pytest.raises(CorpusError, match="x.bin looks like a binary file"):
        prepare_corpus(books, tmp_path / "out", verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["books"]


def test_file_changing_between_passes_is_detected(books, tmp_path, monkeypatch):
    from keras_chargen.data import prepare

    scan = prepare._scan

    def scan_then_edit(*args):
        result = scan(*args)
        (books / "1.txt").write_text("changed!" * 10)
        return result

    monkeypatch.setattr(prepare, "_scan", scan_then_edit)
    with pytest.raises(CorpusError, match="1.txt changed while it was being prepared"):
        prepare_corpus(books, tmp_path / "out", verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["books"]


def test_windows_from_the_memory_map_match_the_text(books, tmp_path):
    corpus = prepare_corpus(books, tmp_path / "out", verbose=False)
    vectorizer = corpus.vectorizer()
    train_ds, val_ds = make_datasets(corpus, vectorizer, 16, 8, seed=3)
    head, tail = split_text(load_corpus(books), 0.1)
    seen = set()
    for _ in range(2):
        starts = []
        for inputs, targets in train_ds:
            assert inputs.shape[1] == 16
            for x, y in zip(inputs.numpy(), targets.numpy(), strict=True):
                window = vectorizer.decode(np.append(x, y[-1]))
                assert head.find(window) >= 0
                starts.append(window)
        # A permutation of the windows at one offset: at 16 * k + offset.
        count = (len(head) - 1) // 16 - 1
        offsets = [
            o
            for o in range(len(head) - 16 * count)
            if sorted(starts)
            == sorted(head[o + 16 * k : o + 16 * k + 17] for k in range(count))
        ]
        assert offsets
        seen.add(tuple(starts))
    assert len(seen) == 2  # a new offset and order each epoch
    val_text = "".join(vectorizer.decode(x) for x, _ in val_ds.unbatch())
    assert val_text == tail[: len(val_text)] and len(val_text) > len(tail) - 17


def test_windows_map_to_another_vectorizer(books, tmp_path):
    corpus = prepare_corpus(books, tmp_path / "out", verbose=False)
    other = keras_chargen.CharVectorizer(vocabulary=list("Tthe "))
    train_ds, _ = make_datasets(corpus, other, 8, 4, seed=0)
    inputs, _ = next(iter(train_ds))
    assert set(np.unique(inputs.numpy())) <= {1, 2, 3, 4, 5, 6}


def test_validation_split_must_match_the_prepared_one(books, tmp_path):
    corpus = prepare_corpus(books, tmp_path / "out", 0.2, verbose=False)
    with pytest.raises(ValueError, match="prepared with validation_split=0.2"):
        make_datasets(corpus, corpus.vectorizer(), 8, 4, validation_split=0.1)


def test_cli_prepare_then_train_and_evaluate(books, tmp_path, capsys):
    out = tmp_path / "prepared"
    assert run_cli(["prepare", str(books), "--output", str(out), "--quiet"]) == 0
    assert "characters" in capsys.readouterr().out
    model_path = tmp_path / "m.keras"
    tiny = ["--units", "16", "--embedding-dim", "8", "--layers", "1"]
    argv = ["train", "--corpus", str(out), "--output", str(model_path), "--quiet"]
    argv += [*tiny, "--sequence-length", "32", "--batch-size", "16", "--epochs", "1"]
    assert run_cli(argv) == 0
    argv = ["evaluate", str(model_path), "--corpus", str(out), "--json", "--quiet"]
    assert run_cli(argv) == 0
    report = json.loads(capsys.readouterr().out.split("\n", 2)[-1].strip() or "{}")
    _, tail = split_text(load_corpus(books), 0.1)
    assert report["characters"] == len(tail)


def test_cli_prepare_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli(["prepare", str(empty), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "corpus folder is empty" in err


def test_second_prepare_on_a_locked_output_refuses(books, tmp_path):
    with RunLock(tmp_path / "out", what="prepare"):
        with pytest.raises(RunLockedError, match="Another prepare is writing"):
            prepare_corpus(books, tmp_path / "out", verbose=False)
    assert not (tmp_path / "out").exists()


def _fork_prepare(source, out, chunk_size):
    """`prepare_corpus` in a forked child, read in small chunks (slowly)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            prepare_corpus(source, out, chunk_size=chunk_size, verbose=False)
            code = 0
        finally:
            os._exit(code)
    return pid


def test_two_concurrent_prepares_one_refuses(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text(make_text(30_000), encoding="utf-8")
    pid = _fork_prepare(big, tmp_path / "out", chunk_size=256)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "out.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        with pytest.raises(RunLockedError, match=f"pid {pid}"):
            prepare_corpus(big, tmp_path / "out", verbose=False)
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(PreparedCorpus(tmp_path / "out")) == len(big.read_text())


def test_kill_during_prepare_leaves_nothing_or_a_complete_corpus(tmp_path):
    """SIGKILLs a forked `prepare_corpus` at random instants, then re-runs it."""
    source = tmp_path / "big.txt"
    source.write_text(make_text(30_000), encoding="utf-8")
    expected = load_corpus(source)
    started = time.monotonic()
    prepare_corpus(source, tmp_path / "timed", chunk_size=1024, verbose=False)
    duration = time.monotonic() - started
    shutil.rmtree(tmp_path / "timed")
    out = tmp_path / "out"
    rng = random.Random(0)
    interrupted = 0
    for _ in range(5):
        pid = _fork_prepare(source, out, chunk_size=1024)
        time.sleep(rng.uniform(0.1, 0.9) * duration)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if out.exists():
            assert whole_text(PreparedCorpus(out)) == expected
            shutil.rmtree(out)
        # What a kill mid-build leaves: the temporary folder, never `out`.
        interrupted += any(p.name.startswith(".out.tmp-") for p in tmp_path.iterdir())
    corpus = prepare_corpus(source, out, verbose=False)
    assert whole_text(corpus) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt", "out"]
    assert interrupted >= 1


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_fails_cleanly_and_keeps_the_old_output(tmp_path, tiny_disk):
    small = tmp_path / "small.txt"
    small.write_text("A small corpus.\n" * 100)
    out = tiny_disk / "out"
    prepare_corpus(small, out, verbose=False)
    big = tmp_path / "big.txt"
    big.write_text(make_text(80_000), encoding="utf-8")  # ~450 kB > 256 kB
    code = run_cli(["prepare", str(big), "--output", str(out), "--quiet"])
    assert code == 2
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["out"]
    assert whole_text(PreparedCorpus(out)) == small.read_text()
