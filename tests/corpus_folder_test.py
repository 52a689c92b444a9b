"""Folders and globs as corpora: which files, in what order, and bad folders."""

import pytest

from keras_chargen import CorpusError, corpus_files, load_corpus
from keras_chargen.data.sources import DOCUMENT_SEPARATOR


@pytest.fixture
def books(tmp_path):
    folder = tmp_path / "books"
    (folder / "b").mkdir(parents=True)
    (folder / "z.txt").write_text("Zed.\r\n", encoding="utf-8")
    (folder / "a.txt").write_text("\ufeffAlpha one.\n", encoding="utf-8")
    (folder / "b" / "c.md").write_text("Chapter   two.\n", encoding="utf-8")
    (folder / ".hidden").write_text("never read", encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "x.txt").write_text("never read", encoding="utf-8")
    return folder


def test_folder_files_are_sorted_and_hidden_ones_left_out(books):
    files = corpus_files(books)
    assert [p.relative_to(books).as_posix() for p in files] == [
        "a.txt",
        "b/c.md",
        "z.txt",
    ]


def test_folder_documents_are_joined_by_the_separator(books):
    text = load_corpus(books)
    assert text == DOCUMENT_SEPARATOR.join(
        ["Alpha one.\n", "Chapter   two.\n", "Zed.\n"]
    )


def test_whitespace_is_normalised_per_document(books):
    text = load_corpus(str(books), normalize_whitespace="lines")
    assert text.split(DOCUMENT_SEPARATOR) == ["Alpha one.", "Chapter two.", "Zed."]


def test_glob_picks_matching_files_recursively(books):
    text = load_corpus(str(books / "**" / "*.txt"))
    assert text == f"Alpha one.\n{DOCUMENT_SEPARATOR}Zed.\n"


def test_non_folder_sources_are_not_file_lists(tmp_path, books):
    assert corpus_files(books / "a.txt") is None
    assert corpus_files("pydoc") is None
    assert corpus_files(42) is None


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.mkdir(), "corpus folder is empty"),
        (lambda d: (d / ".only").mkdir(parents=True), "holds no files"),
    ],
)
def test_bad_folders_raise(tmp_path, make, message):
    folder = tmp_path / "corpus"
    make(folder)
    with pytest.raises(CorpusError, match=message) as info:
        load_corpus(folder)
    assert str(folder) in str(info.value)


def test_glob_without_matches_raises(tmp_path):
    pattern = str(tmp_path / "*.txt")
    with pytest.raises(CorpusError, match="matches no file") as info:
        load_corpus(pattern)
    assert pattern in str(info.value)


def test_binary_file_in_folder_is_refused_by_name(books):
    (books / "image.png").write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00")
    with pytest.raises(CorpusError, match="looks like a binary file") as info:
        load_corpus(books)
    assert "image.png" in str(info.value)


def test_undecodable_file_in_folder_is_named(books):
    (books / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(CorpusError, match="latin.txt is not valid 'utf-8'"):
        load_corpus(books)


def test_folder_of_empty_files_is_an_empty_corpus(tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("  \n")
    with pytest.raises(CorpusError, match="The corpus is empty"):
        load_corpus(tmp_path)
