import hashlib
import json
import signal
import subprocess
import sys
import time

import keras
import pytest
from conftest import TINY, run_cli

import keras_chargen
from keras_chargen.training.callbacks import read_log

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_train_writes_model_log_and_plot(trained_model_path):
    folder = trained_model_path.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "run.csv",
        "run.keras",
        "run.png",
    ]
    assert (folder / "run.png").read_bytes()[:8] == PNG_MAGIC
    rows = (folder / "run.csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    assert "val_bits_per_char" in rows[0] and "learning_rate" in rows[0]


def test_trained_model_reloads_and_generates(trained_model_path):
    model = keras.saving.load_model(trained_model_path, safe_mode=True)
    assert isinstance(model, keras_chargen.CharLM)
    text = model.generate(
        "The ", length=40, sampler=keras_chargen.TemperatureSampler(0.0)
    )
    assert text.startswith("The ") and len(text) == 44


def test_summary_reports_the_best_epoch(tmp_path, corpus_file):
    model, summary = keras_chargen.train(
        str(corpus_file), tmp_path / "m.keras", epochs=2, verbose=0, **TINY
    )
    log = read_log(tmp_path / "m.csv")
    best = min(log["val_loss"])
    assert summary["epochs"] == 2
    assert summary["best_val_loss"] == pytest.approx(best)
    assert summary["best_val_bits_per_char"] == pytest.approx(best / 0.6931471805599453)
    assert summary["model_path"] == str(tmp_path / "m.keras")
    assert summary["vocabulary_size"] == model.vocabulary_size
    json.dumps(summary)  # serialisable


def test_time_limit_stops_cleanly_and_still_saves(tmp_path, corpus_file):
    _, summary = keras_chargen.train(
        str(corpus_file),
        tmp_path / "m.keras",
        epochs=50,
        minutes=0.05,
        verbose=0,
        **TINY,
    )
    assert summary["stopped_by_time_limit"] is True
    assert summary["epochs"] < 50
    assert keras.saving.load_model(tmp_path / "m.keras").vocabulary_size > 3
    assert not (tmp_path / "m.backup").exists()


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_limit_anneals_the_learning_rate_along_the_budget(monkeypatch):
    from keras_chargen.models.build_char_lstm import build_char_lstm
    from keras_chargen.training import callbacks as training_callbacks

    clock = _Clock()
    monkeypatch.setattr(training_callbacks.time, "monotonic", clock)
    model = build_char_lstm(vocabulary_size=5, lstm_units=4, embedding_dim=2)
    model.optimizer.learning_rate = 1e-2
    limit = training_callbacks.TimeLimit(minutes=1.0, anneal_to=0.1)
    limit.set_model(model)
    limit.on_train_begin()

    def rate_at(seconds):
        clock.now = seconds
        limit.on_train_batch_begin(0)
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

    assert rate_at(0) == pytest.approx(1e-2)
    assert rate_at(30) == pytest.approx(1e-2 * 0.55)  # halfway down the cosine
    # Another callback (ReduceLROnPlateau) halves the rate: the cut is kept.
    model.optimizer.learning_rate = 1e-2 * 0.55 / 2
    assert rate_at(60) == pytest.approx(1e-2 * 0.1 / 2)
    assert rate_at(90) == pytest.approx(1e-2 * 0.1 / 2)  # stays at the floor


def test_time_limit_anneals_only_after_anneal_from(monkeypatch):
    from keras_chargen.models.build_char_lstm import build_char_lstm
    from keras_chargen.training import callbacks as training_callbacks

    clock = _Clock()
    monkeypatch.setattr(training_callbacks.time, "monotonic", clock)
    model = build_char_lstm(vocabulary_size=5, lstm_units=4, embedding_dim=2)
    limit = training_callbacks.TimeLimit(minutes=1.0, anneal_to=0.1, anneal_from=0.5)
    limit.set_model(model)
    limit.on_train_begin()
    rates = []
    for seconds in (0, 29, 45, 60):
        clock.now = seconds
        limit.on_train_batch_begin(0)
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    assert rates == pytest.approx([3e-3, 3e-3, 3e-3 * 0.55, 3e-4])


def test_time_limit_stops_at_an_epoch_end_that_leaves_no_room_for_a_batch(
    monkeypatch,
):
    from keras_chargen.models.build_char_lstm import build_char_lstm
    from keras_chargen.training import callbacks as training_callbacks

    clock = _Clock()
    monkeypatch.setattr(training_callbacks.time, "monotonic", clock)
    model = build_char_lstm(vocabulary_size=5, lstm_units=4, embedding_dim=2)

    def epoch_ending_at(seconds):
        # 10 s batches until `seconds - 5`, then 5 s of validation.
        limit = training_callbacks.TimeLimit(minutes=1.0)
        limit.set_model(model)
        model.stop_training = False
        clock.now = 0.0
        limit.on_train_begin()
        for start in range(0, seconds - 5, 10):
            clock.now = start
            limit.on_train_batch_begin(0)
            clock.now = start + 10
            limit.on_train_batch_end(0)
        clock.now = seconds
        limit.on_epoch_end(0)
        return limit.stopped, model.stop_training

    assert epoch_ending_at(35) == (False, False)  # 25 s left: room for more
    assert epoch_ending_at(45) == (True, True)  # 15 s left < 10 s + 5 s


def test_time_limit_without_anneal_leaves_the_learning_rate(monkeypatch):
    from keras_chargen.models.build_char_lstm import build_char_lstm
    from keras_chargen.training import callbacks as training_callbacks

    clock = _Clock()
    monkeypatch.setattr(training_callbacks.time, "monotonic", clock)
    model = build_char_lstm(vocabulary_size=5, lstm_units=4, embedding_dim=2)
    limit = training_callbacks.TimeLimit(minutes=1.0)
    limit.set_model(model)
    limit.on_train_begin()
    clock.now = 45
    limit.on_train_batch_begin(0)
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert rate == pytest.approx(3e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "`epochs` must be a positive int. Received: epochs=0"),
        ({"minutes": -1}, "`minutes` must be positive. Received: minutes=-1"),
        ({"validation_split": 0.0}, "`validation_split` must be in (0, 1)"),
        ({"units": 5}, "Unknown argument(s) ['units']"),
    ],
)
def test_bad_settings_raise_before_writing(tmp_path, corpus_file, kwargs, message):
    with pytest.raises(ValueError) as info:
        keras_chargen.train(str(corpus_file), tmp_path / "m.keras", verbose=0, **kwargs)
    assert message in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_output_must_be_a_keras_file_in_an_existing_folder(tmp_path, corpus_file):
    with pytest.raises(ValueError, match="must end in `.keras`. Received: output="):
        keras_chargen.train(str(corpus_file), tmp_path / "m.h5", verbose=0)
    with pytest.raises(OSError, match="does not exist"):
        keras_chargen.train(str(corpus_file), tmp_path / "no" / "m.keras", verbose=0)


def test_leftover_backup_needs_resume(tmp_path, corpus_file):
    (tmp_path / "m.backup").mkdir()
    (tmp_path / "m.backup" / "settings.json").write_text("{}")
    with pytest.raises(ValueError, match="interrupted run left a backup"):
        keras_chargen.train(str(corpus_file), tmp_path / "m.keras", verbose=0, **TINY)


def test_resume_without_backup_is_an_error(tmp_path, corpus_file):
    with pytest.raises(ValueError, match="Nothing to resume"):
        keras_chargen.train(
            str(corpus_file), tmp_path / "m.keras", resume=True, verbose=0
        )


def test_resume_refuses_changed_settings(tmp_path, corpus_file):
    (tmp_path / "m.backup").mkdir()
    settings = {
        "corpus": str(corpus_file), "seed": 1337, "sequence_length": 100,
        "batch_size": 64, "validation_split": 0.1, "cell": "lstm",
        "layer_norm": False, "clipnorm": 1.0, "lstm_units": 16,
    }  # fmt: skip
    (tmp_path / "m.backup" / "settings.json").write_text(json.dumps(settings))
    with pytest.raises(
        ValueError, match=r"Changed \(was, now\): \{'lstm_units': \(16, 32\)\}"
    ):
        keras_chargen.train(
            str(corpus_file),
            tmp_path / "m.keras",
            resume=True,
            verbose=0,
            lstm_units=32,
        )


def _text_setting(text):
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"<text: {len(text):,} characters, sha256 {digest}>"


def test_train_on_a_text_records_its_length_and_hash(tmp_path, corpus_file):
    text = corpus_file.read_text(encoding="utf-8")
    _, summary = keras_chargen.train(
        text=text, output=tmp_path / "m.keras", epochs=1, verbose=0, **TINY
    )
    assert summary["corpus"] == _text_setting(text)
    assert summary["corpus_characters"] == len(text)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "m.keras", "m.png"]


def test_train_on_a_text_matches_train_on_its_file(tmp_path, corpus_file):
    text = corpus_file.read_text(encoding="utf-8")
    runs = {}
    for name, source in (("file", {"corpus": corpus_file}), ("text", {"text": text})):
        runs[name] = keras_chargen.train(
            output=tmp_path / f"{name}.keras", epochs=1, verbose=0, **source, **TINY
        )
    assert runs["file"][1]["corpus"] == str(corpus_file)
    for key in ("best_val_loss", "corpus_characters", "vocabulary_size"):
        assert runs["text"][1][key] == pytest.approx(runs["file"][1][key]), key


def test_corpus_and_text_together_raise(tmp_path):
    with pytest.raises(ValueError) as info:
        keras_chargen.train("pydoc", tmp_path / "m.keras", text="abc", verbose=0)
    assert str(info.value) == (
        "Pass either `corpus` (a corpus name, path or URL) or `text` (the text "
        "itself), not both. Received: corpus='pydoc' and a `text`"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", [b"abc", ["abc"]])
def test_text_of_wrong_type_raises(tmp_path, text):
    with pytest.raises(TypeError) as info:
        keras_chargen.train(text=text, output=tmp_path / "m.keras", verbose=0)
    assert str(info.value) == (
        f"`text` must be a str. Received type {type(text).__name__}"
    )
    assert list(tmp_path.iterdir()) == []


def test_too_short_text_raises_before_writing(tmp_path):
    with pytest.raises(ValueError, match=r"validation split has 5 characters .* = 33"):
        keras_chargen.train(
            text="x" * 50, output=tmp_path / "m.keras", verbose=0, **TINY
        )
    assert list(tmp_path.iterdir()) == []


def test_resume_refuses_another_text(tmp_path, corpus_file):
    text = corpus_file.read_text(encoding="utf-8")
    (tmp_path / "m.backup").mkdir()
    settings = {
        "corpus": _text_setting(text),
        "seed": 1337, "validation_split": 0.1, "cell": "lstm",
        "layer_norm": False, "clipnorm": 1.0, **TINY,
    }  # fmt: skip
    (tmp_path / "m.backup" / "settings.json").write_text(json.dumps(settings))
    other = text[:-1] + "!"
    with pytest.raises(ValueError, match=r"Changed \(was, now\): \{'corpus': "):
        keras_chargen.train(
            text=other, output=tmp_path / "m.keras", resume=True, verbose=0, **TINY
        )
    with pytest.raises(ValueError, match=r"'corpus': \('<text: .*', 'pydoc'\)"):
        keras_chargen.train(output=tmp_path / "m.keras", resume=True, verbose=0, **TINY)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--corpus", "no-such-corpus"], "not a known corpus name"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
        (
            ["--dropout", "1.5"],
            "argument --dropout: expected a number in [0, 1), got '1.5'",
        ),
        (["--learning-rate", "-1"], "expected a positive number, got '-1'"),
        (["--output", "/nonexistent-dir/run.keras"], "does not exist"),
    ],
)
def test_cli_train_bad_input_is_one_line_exit_2(
    tmp_path, capsys, monkeypatch, argv, message
):
    monkeypatch.chdir(tmp_path)
    code = run_cli(["train", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def _train_command(corpus, output, *extra):
    return [
        sys.executable, "-m", "keras_chargen_cli", "train", "--corpus", str(corpus),
        "--output", str(output), "--epochs", "5", "--units", "16",
        "--embedding-dim", "8", "--layers", "1", "--sequence-length", "32",
        "--batch-size", "8", "--quiet", *extra,
    ]  # fmt: skip


def test_killed_run_resumes_from_its_last_epoch(tmp_path, corpus_file):
    output, log = tmp_path / "run.keras", tmp_path / "run.csv"
    process = subprocess.Popen(
        _train_command(corpus_file, output),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if log.exists() and len(log.read_text().splitlines()) >= 2:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    epochs_done = len(log.read_text().splitlines()) - 1
    assert 1 <= epochs_done < 5, (
        "the run must be killed after an epoch and before the end"
    )
    assert (tmp_path / "run.backup").is_dir()

    result = subprocess.run(
        _train_command(corpus_file, output, "--resume", "--json"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    epochs = [int(row.split(",")[0]) for row in log.read_text().splitlines()[1:]]
    assert epochs == list(range(5))  # continued, nothing repeated
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["epochs"] == 5
    assert not (tmp_path / "run.backup").exists()
    assert keras.saving.load_model(output, safe_mode=True).vocabulary_size > 3
