import math

import matplotlib.image
import pytest

import keras_chargen

HISTORY = {
    "loss": [2.5, 1.9, 1.6],
    "val_loss": [2.2, 1.8, 1.7],
    "accuracy": [0.3, 0.45, 0.5],
    "val_accuracy": [0.35, 0.47, 0.49],
    "learning_rate": [3e-3, 3e-3, 1.5e-3],
}


def test_plot_is_a_png_with_content(tmp_path):
    path = keras_chargen.plot_history(HISTORY, tmp_path / "h.png", title="t")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 400 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["h.png"]


def test_plot_accepts_missing_optional_curves(tmp_path):
    path = keras_chargen.plot_history({"loss": [1.0, math.nan]}, tmp_path / "h.png")
    assert path.exists()


def test_history_without_loss_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"Received keys: \['accuracy'\]"):
        keras_chargen.plot_history({"accuracy": [0.1]}, tmp_path / "h.png")
    assert list(tmp_path.iterdir()) == []
