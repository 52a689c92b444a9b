"""`keras-chargen evaluate` and `keras-chargen inspect`."""

import json
import os
import subprocess
import sys
import unicodedata

import pytest
from conftest import random_model_file

from keras_chargen.commands.cli import main
from keras_chargen.data.split import split_text
from keras_chargen.evaluation.evaluate import evaluate
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.char_lm import CharLM
from keras_chargen.models.saving import save_model

TRAIN_TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n" * 3
TEXT = "the dog sat on the mat, then the cat.\n" * 2
KEYS = [
    "characters",
    "loss",
    "bits_per_char",
    "perplexity",
    "accuracy",
    "confidence",
    "oov_rate",
    "unigram_bits_per_char",
    "ngram_bits_per_char",
    "ngram_order",
    "baseline_fit_on",
    "generation",
    "adapted",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    model = random_model_file(folder / "run.keras", TRAIN_TEXT)
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    (folder / "train.txt").write_text(TRAIN_TEXT, encoding="utf-8")
    return folder, model


def test_json_report_has_stable_keys_and_the_library_values(files):
    folder, model = files
    command = [sys.executable, "-m", "keras_chargen_cli", "evaluate"]
    command += [str(folder / "run.keras"), "--text", str(folder / "text.txt")]
    command += ["--train-text", str(folder / "train.txt"), "--batch-size", "5"]
    command += ["--generations", "2", "--generation-length", "30", "--seed", "1"]
    result = subprocess.run(
        [*command, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report) == KEYS
    assert list(report["generation"]) == [
        "generations",
        "characters",
        "distinct_1",
        "distinct_2",
        "distinct_3",
        "memorized_8",
        "memorized_16",
        "memorized_32",
    ]
    expected = evaluate(model, TEXT, train_text=TRAIN_TEXT, verbose=0)
    for key in (k for k in KEYS if k != "generation"):
        if isinstance(expected[key], str):  # newer pytest refuses approx on str
            assert report[key] == expected[key], key
        else:
            assert report[key] == pytest.approx(expected[key], rel=1e-5), key


def test_human_output_is_a_table_with_the_baselines(files, capsys):
    folder, _ = files
    argv = ["evaluate", str(folder / "run.keras"), "--text", str(folder / "text.txt")]
    assert main([*argv, "--train-text", str(folder / "train.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("metric"))) :]
    assert [line.rsplit(None, 1)[0].strip() for line in table[1:]] == [
        "characters",
        "loss (nats/char)",
        "bits per character",
        "perplexity",
        "top-1 accuracy",
        "mean top-1 confidence",
        "out-of-vocabulary rate",
        "baseline: unigram bits/char (fit on training text)",
        "baseline: 5-gram Kneser-Ney bits/char",
    ]
    assert len({len(line) for line in table}) == 1  # aligned columns


def test_adapt_scores_with_dynamic_evaluation(files, capsys):
    folder, model = files
    argv = ["evaluate", str(folder / "run.keras"), "--text", str(folder / "text.txt")]
    flags = ["--adapt", "--adapt-learning-rate", "0.01", "--adapt-decay", "0.05"]
    assert main([*argv, *flags, "--quiet"]) == 0
    out = capsys.readouterr().out
    row = next(x for x in out.splitlines() if x.startswith("bits per character"))
    assert row.startswith("bits per character (dynamic evaluation)")
    expected = evaluate(
        model, TEXT, adapt=True, adapt_learning_rate=0.01, adapt_decay=0.05, verbose=0
    )
    assert float(row.split()[-1]) == pytest.approx(expected["bits_per_char"], abs=1e-4)
    static = evaluate(model, TEXT, verbose=0)
    assert expected["bits_per_char"] != pytest.approx(static["bits_per_char"], abs=1e-3)


def test_adapt_decay_out_of_range_is_a_one_line_error(files, capsys):
    folder, _ = files
    argv = ["evaluate", str(folder / "run.keras"), "--text", str(folder / "text.txt")]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--adapt", "--adapt-decay", "1.5"])
    assert exit_info.value.code == 2
    assert (
        "--adapt-decay: expected a number in [0, 1), got '1.5'"
        in capsys.readouterr().err
    )


def test_corpus_tail_is_scored_with_its_head_as_training_text(files, capsys):
    folder, model = files
    argv = [
        "evaluate",
        str(folder / "run.keras"),
        "--corpus",
        str(folder / "train.txt"),
    ]
    assert main([*argv, "--validation-split", "0.25", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cut = len(TRAIN_TEXT) - round(len(TRAIN_TEXT) * 0.25)
    expected = evaluate(model, TRAIN_TEXT[cut:], train_text=TRAIN_TEXT[:cut], verbose=0)
    assert report["characters"] == len(TRAIN_TEXT) - cut
    assert report["ngram_bits_per_char"] == pytest.approx(
        expected["ngram_bits_per_char"]
    )


def test_evaluate_missing_text_file_is_a_one_line_error(files, capsys):
    folder, _ = files
    argv = ["evaluate", str(folder / "run.keras"), "--text", str(folder / "nope.txt")]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("keras-chargen evaluate: error: ")
    assert "nope.txt" in error and error.count("\n") == 1


def test_evaluate_needs_text_or_corpus(files, capsys):
    folder, _ = files
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(folder / "run.keras")])
    assert exit_info.value.code == 2
    assert "one of the arguments --text --corpus is required" in capsys.readouterr().err


def test_inspect_prints_neighbours_and_writes_the_plot(files, capsys):
    folder, model = files
    plot = folder / "embeddings.png"
    argv = ["inspect", str(folder / "run.keras"), "--chars", r"a \n", "--k", "2"]
    assert main([*argv, "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    rows = [
        line.split("|") for line in out.splitlines() if "|" in line and "(" not in line
    ]
    rows = {name.strip(): cells.split() for name, cells in rows if name.strip()}
    from keras_chargen.evaluation.nearest_characters import (
        char_name,
        nearest_characters,
    )

    for char in "a \n":
        expected = nearest_characters(model, char, k=2)
        assert rows[char_name(char)] == [
            item for c, s in expected for item in (char_name(c), f"{s:.3f}")
        ]
    assert "lstm_0" in out  # the layer summary
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspect_unknown_character_is_a_one_line_error(files, capsys):
    folder, _ = files
    assert main(["inspect", str(folder / "run.keras"), "--chars", "aZ"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("keras-chargen inspect: error: Character 'Z' (Z) is not")
    assert error.count("\n") == 1


def test_inspect_k_below_one_is_rejected(files, capsys):
    folder, _ = files
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(folder / "run.keras"), "--k", "0"])
    assert exit_info.value.code == 2
    assert "--k: expected a positive integer, got '0'" in capsys.readouterr().err


def test_corpus_is_split_before_normalisation_as_in_train(tmp_path, capsys):
    # Decomposed accents in the head: NFC shortens the text, so a split of
    # the normalised text would cut elsewhere than `train` did.
    corpus = "cafe\u0301 au lait, " * 20 + "the cat sat on the mat.\n" * 8
    vectorizer = CharVectorizer(
        vocabulary=sorted(set(unicodedata.normalize("NFC", corpus))),
        normalization="NFC",
    )
    model = CharLM(vectorizer, embedding_dim=4, units=8, num_layers=1)
    save_model(model, tmp_path / "run.keras")
    (tmp_path / "corpus.txt").write_text(corpus, encoding="utf-8")
    argv = ["evaluate", str(tmp_path / "run.keras"), "--corpus"]
    argv += [str(tmp_path / "corpus.txt"), "--validation-split", "0.3", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    head, tail = split_text(corpus, 0.3)
    expected = evaluate(model, tail, train_text=head, verbose=0)
    assert report["characters"] == len(tail) == expected["characters"]
    assert report["bits_per_char"] == pytest.approx(expected["bits_per_char"])
    assert report["ngram_bits_per_char"] == pytest.approx(
        expected["ngram_bits_per_char"]
    )
