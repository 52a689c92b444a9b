"""`keras-chargen score`: bits/char of a text or of each line, and bad input."""

import json
import math
import re

import numpy as np
import pytest
from conftest import random_model_file, run_cli

TEXT = "the cat sat on the mat.\n\nthe dog sat on the log.\n"
LINES = ["the cat sat on the mat.", "", "the dog sat on the log."]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    model = random_model_file(folder / "run.keras", TEXT)
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    return folder, model


def bits_per_char(score):
    return -float(np.sum(score, dtype=np.float64)) / len(score) / math.log(2)


def score_json(capsys, folder, *options):
    argv = ["score", str(folder / "run.keras"), "--text", str(folder / "text.txt")]
    assert run_cli([*argv, *options, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_whole_text_json_is_the_library_score(files, capsys):
    folder, model = files
    report = score_json(capsys, folder)
    assert list(report) == ["characters", "bits", "bits_per_char"]
    assert report["characters"] == len(TEXT)
    expected = bits_per_char(model.score(TEXT))
    assert report["bits_per_char"] == pytest.approx(expected, rel=1e-5)


def test_per_line_json_scores_each_line_on_its_own(files, capsys):
    folder, model = files
    report = score_json(capsys, folder, "--per-line")
    assert [line["text"] for line in report["lines"]] == LINES
    assert [line["characters"] for line in report["lines"]] == [23, 0, 23]
    scores = model.score(LINES)
    assert report["lines"][1]["bits_per_char"] is None
    for line, score in zip(report["lines"][::2], scores[::2], strict=True):
        assert line["bits_per_char"] == pytest.approx(bits_per_char(score), rel=1e-5)
    assert report["characters"] == 46
    total = np.concatenate(scores)
    assert report["bits_per_char"] == pytest.approx(bits_per_char(total), rel=1e-5)


def test_per_line_text_output_has_one_line_per_input_line_and_a_total(files, capsys):
    folder, _ = files
    report = score_json(capsys, folder, "--per-line")
    argv = ["score", str(folder / "run.keras"), "--text", str(folder / "text.txt")]
    assert run_cli([*argv, "--per-line"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(LINES) + 1
    values = [line.split()[0] for line in out]
    expected = [line["bits_per_char"] for line in report["lines"]]
    assert values[1] == "n/a"
    for value, bits in zip(values[::2], expected[::2], strict=True):
        assert float(value) == pytest.approx(bits, abs=1e-4)
    assert float(values[-1]) == pytest.approx(report["bits_per_char"], abs=1e-4)
    assert out[-1].endswith("total: 3 lines, 46 characters")


def test_whole_text_output_is_one_line(files, capsys):
    folder, _ = files
    report = score_json(capsys, folder)
    argv = ["score", str(folder / "run.keras"), "--text", str(folder / "text.txt")]
    assert run_cli(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{report['bits_per_char']:.4f} bits/char over {len(TEXT)} characters"
    ]


def test_trained_model_scores_its_corpus(trained_model_path, corpus_file, capsys):
    argv = ["score", str(trained_model_path), "--text", str(corpus_file), "--json"]
    assert run_cli(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0 < report["bits_per_char"] < math.log2(40)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, r"text file '.*nosuch\.txt' does not exist"),
        (b"ok \xff bad", r"is not UTF-8 text: byte 0xff at offset 3"),
        (b"", r"is empty: there is nothing to score"),
        (b"\n\n", r"has only empty lines: there are no characters to score"),
    ],
)
def test_bad_text_is_one_line_and_exit_2(files, tmp_path, capsys, content, message):
    folder, _ = files
    path = tmp_path / "nosuch.txt"
    if content is not None:
        path.write_bytes(content)
    argv = ["score", str(folder / "run.keras"), "--text", str(path), "--per-line"]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("keras-chargen score: error: ")
    assert re.search(message, err)


def test_missing_model_is_exit_2(files, tmp_path, capsys):
    folder, _ = files
    argv = ["score", str(tmp_path / "none.keras"), "--text", str(folder / "text.txt")]
    assert run_cli(argv) == 2
    assert "keras-chargen score: error: " in capsys.readouterr().err
