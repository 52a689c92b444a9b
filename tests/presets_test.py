"""Presets: shipped model files, `CharLM.from_preset`, `--preset` in the CLI."""

import hashlib

import pytest
from conftest import run_cli

import keras_chargen
from keras_chargen.models.presets import PRESETS, PRESETS_DIR

pytestmark = pytest.mark.all_backends

MAX_TOTAL_BYTES = 10 * 2**20  # all presets together ship in the wheel


@pytest.fixture(scope="module")
def shakespeare():
    return keras_chargen.CharLM.from_preset("shakespeare")


def test_list_presets_names_the_shipped_files():
    assert keras_chargen.list_presets() == ("shakespeare",)
    total = 0
    for name in keras_chargen.list_presets():
        filename, sha256, description = PRESETS[name]
        data = (PRESETS_DIR / filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256, name
        assert description
        total += len(data)
    assert total <= MAX_TOTAL_BYTES


def test_from_preset_loads_a_model_that_writes_shakespeare(shakespeare):
    assert isinstance(shakespeare, keras_chargen.CharLM)
    assert set("ROMEO:JULIET") <= set(shakespeare.vectorizer.vocabulary)
    text = shakespeare.generate(
        "ROMEO:", length=60, sampler=keras_chargen.TemperatureSampler(0.0)
    )
    assert text.startswith("ROMEO:") and len(text) == 66
    # A trained model, not random weights: most of the greedy continuation is
    # letters and spaces, and it holds an English word or two.
    continuation = text[6:]
    assert sum(c.isalpha() or c.isspace() for c in continuation) >= 50
    assert any(w in continuation.lower().split() for w in ("the", "i", "and", "to"))


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="Unknown preset 'nope'. Presets: shakespeare"):
        keras_chargen.CharLM.from_preset("nope")


def test_cli_generate_with_a_preset(capsys):
    argv = ["generate", "--preset", "shakespeare", "--prompt", "ROMEO:"]
    assert run_cli([*argv, "--temperature", "0", "--length", "40"]) == 0
    out = capsys.readouterr().out
    assert "ROMEO:" in out


def test_cli_score_with_a_preset(tmp_path, capsys):
    (tmp_path / "t.txt").write_text(
        "ROMEO:\nWhat light through yonder window breaks?\n"
    )
    argv = ["score", "--preset", "shakespeare", "--text", str(tmp_path / "t.txt")]
    assert run_cli([*argv, "--json"]) == 0
    assert "bits_per_char" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["generate", "chat", "evaluate", "score"])
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--preset", "nope"], "Unknown preset 'nope'. Presets: shakespeare"),
        ([], "give a model file or --preset NAME (one of: shakespeare), not neither"),
        (["m.keras", "--preset", "shakespeare"], "not both"),
    ],
)
def test_cli_model_or_preset_errors_are_one_line_exit_2(
    tmp_path, monkeypatch, capsys, command, argv, message
):
    monkeypatch.chdir(tmp_path)
    needs = {"score": ["--text", "t.txt"], "evaluate": ["--text", "t.txt"]}
    (tmp_path / "t.txt").write_text("some text\n")
    code = run_cli([command, *argv, *needs.get(command, [])])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_train_init_from_the_preset_extends_it(tmp_path, shakespeare):
    text = "Ünïcode lines, new to the preset.\n" * 30
    model, _ = keras_chargen.train(
        text=text, output=tmp_path / "tuned.keras", init_from="shakespeare",
        epochs=1, sequence_length=32, batch_size=8, verbose=0,
    )  # fmt: skip
    old = shakespeare.vectorizer.vocabulary
    assert model.vectorizer.vocabulary[: len(old)] == old
    assert {"Ü", "ï"} <= set(model.vectorizer.vocabulary[len(old) :])
    assert (model.units, model.num_layers) == (
        shakespeare.units,
        shakespeare.num_layers,
    )
