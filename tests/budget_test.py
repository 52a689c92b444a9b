"""Budgets that mean what they say: `epochs`, `minutes` and why a run stopped."""

import math

import keras
import pytest
from conftest import TINY, run_cli

import keras_chargen
from keras_chargen.models.loading import load_model
from keras_chargen.training.callbacks import STOP_REASONS, TimeLimit, stop_reason
from keras_chargen.training.run_settings import (
    DEFAULT_EPOCHS,
    SIZE_RULE,
    UNTIL_STOPPED,
    corpus_size_defaults,
    epoch_limit,
)

pytestmark = pytest.mark.all_backends


def test_minutes_without_epochs_sets_no_epoch_limit():
    assert epoch_limit(None, 15.0) == UNTIL_STOPPED
    # A million epochs: far beyond what any budget reaches.
    assert UNTIL_STOPPED >= 10**6


def test_explicit_epochs_cap_a_budget():
    assert epoch_limit(7, 15.0) == 7
    assert epoch_limit(7, None) == 7


def test_no_budget_and_no_epochs_is_the_default_epoch_count():
    assert epoch_limit(None, None) == DEFAULT_EPOCHS == 20


def test_train_defaults_to_no_epoch_count():
    import inspect

    assert inspect.signature(keras_chargen.train).parameters["epochs"].default is None


def test_time_budget_run_without_epochs_stops_by_the_budget(tmp_path, corpus_file):
    # patience 50: early stopping cannot end a run this short first.
    _, summary = keras_chargen.train(
        str(corpus_file), tmp_path / "m.keras", minutes=0.1, patience=50,
        verbose=0, **TINY,
    )  # fmt: skip
    assert summary["stop_reason"] == "time budget"
    assert summary["stopped_by_time_limit"] is True
    assert (tmp_path / "m.keras").exists()


def test_explicit_epochs_stop_a_budgeted_run(tmp_path, corpus_file):
    model, summary = keras_chargen.train(
        str(corpus_file), tmp_path / "m.keras", epochs=2, minutes=10, verbose=0, **TINY
    )
    assert summary["epochs"] == 2
    # The corpus (~40k characters) is small: the rule's dropout, reported.
    assert summary["corpus_size_defaults"] == {"dropout": 0.4} and model.dropout == 0.4
    assert summary["corpus_size_rule"] == SIZE_RULE
    assert summary["stop_reason"] == "epoch limit"
    assert summary["stopped_by_time_limit"] is False


def _early_stopping_after(val_losses, patience):
    early = keras.callbacks.EarlyStopping(patience=patience)
    early.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    early.on_train_begin()
    for epoch, value in enumerate(val_losses):
        early.on_epoch_end(epoch, {"val_loss": value})
    return early


def test_stop_reason_early_stopping():
    early = _early_stopping_after([1.0, 1.1, 1.2, 1.3], patience=2)
    history = {"loss": [1.0, 0.9, 0.8, 0.7]}
    assert stop_reason(history, 100, None, early) == "early stopping"


def test_stop_reason_epoch_limit_when_nothing_else_stopped():
    early = _early_stopping_after([1.0, 0.9, 0.8], patience=2)
    history = {"loss": [1.0, 0.9, 0.8]}
    assert stop_reason(history, 3, None, early) == "epoch limit"


def test_stop_reason_nan_comes_first():
    limit = TimeLimit(1.0)
    limit.stopped = True
    for bad in (math.nan, math.inf):
        assert stop_reason({"loss": [1.0, bad]}, 100, limit) == "NaN loss"
    assert stop_reason({"loss": [1.0, 0.9]}, 100, limit) == "time budget"
    assert set(STOP_REASONS) == {
        "NaN loss", "time budget", "early stopping", "epoch limit"
    }  # fmt: skip


def test_cli_train_says_why_it_stopped(tmp_path, corpus_file, capsys):
    code = run_cli([
        "train", "--corpus", str(corpus_file), "--output", str(tmp_path / "m.keras"),
        "--epochs", "1", "--minutes", "5", "--units", "16", "--embedding-dim", "8",
        "--layers", "1", "--sequence-length", "32", "--batch-size", "16", "--quiet",
        "--dropout", "0.05",
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "after 1 epoch(s)" in out and "(stopped by epoch limit)" in out
    # An explicit setting wins over the corpus-size rule.
    assert load_model(tmp_path / "m.keras").dropout == 0.05


@pytest.mark.parametrize("epochs", [0, -3, 2.5, True])
def test_bad_epochs_raise(tmp_path, corpus_file, epochs):
    with pytest.raises(ValueError, match="`epochs` must be a positive int"):
        keras_chargen.train(
            str(corpus_file), tmp_path / "m.keras", epochs=epochs, verbose=0
        )
    assert list(tmp_path.iterdir()) == []


def test_corpus_size_rule_keeps_large_corpora_and_regularises_small_ones():
    # 1 MB and more (tiny-shakespeare: 1,115,394): the measured default.
    assert corpus_size_defaults(1_115_394) == {"dropout": 0.1}
    assert corpus_size_defaults(50_000_000) == {"dropout": 0.1}
    assert corpus_size_defaults(500_000) == {"dropout": 0.2}  # one halving
    assert corpus_size_defaults(150_000) == {"dropout": 0.37}
    assert corpus_size_defaults(20_000) == {"dropout": 0.4}  # the cap
    assert corpus_size_defaults(0) == {"dropout": 0.4}
    sizes = [10_000 * 2**i for i in range(10)]
    rates = [corpus_size_defaults(n)["dropout"] for n in sizes]
    assert rates == sorted(rates, reverse=True)
