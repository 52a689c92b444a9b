import math
import os
import struct
import subprocess
import sys
from pathlib import Path

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


# Run in a fresh interpreter: the caller picks a backend before importing
# keras_chargen, and every plot must leave it, and the rcParams, alone.
LEAVES_MATPLOTLIB_ALONE = """
import sys
from pathlib import Path

import matplotlib

matplotlib.use("svg")
rc_params = dict(matplotlib.rcParams)

import keras_chargen
from keras_chargen.tuning.results import COLUMNS, plot_search

folder = Path(sys.argv[1])
keras_chargen.plot_history({"loss": [2.0, 1.5], "val_loss": [1.9, 1.7]}, folder / "h.png")
model = keras_chargen.CharLM(
    keras_chargen.CharVectorizer(vocabulary=list("abc d.")),
    embedding_dim=4, units=4, num_layers=1,
)
keras_chargen.plot_embeddings(model, folder / "e.png")
rows = [
    {**dict.fromkeys(COLUMNS), "trial": str(i), "dropout": i / 10,
     "val_bits_per_char": bits, "epochs": 1}
    for i, bits in enumerate([3.1, 2.8, None])
]
plot_search(rows, folder / "r.png", ["dropout"])
import matplotlib.pyplot as plt  # `import keras` imports it anyway

print(matplotlib.get_backend())
print(dict(matplotlib.rcParams) == rc_params)
print(len(plt.get_fignums()))  # figures left open in pyplot
"""


def test_plots_leave_the_callers_matplotlib_setup_alone(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", LEAVES_MATPLOTLIB_ALONE, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    backend, same_rc_params, open_figures = result.stdout.split()[-3:]
    assert (backend, same_rc_params, open_figures) == ("svg", "True", "0")
    for name in ("h.png", "e.png", "r.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", name
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 400 and height >= 300 and len(data) > 10_000, name
        assert data[-8:-4] == b"IEND", name  # written to the end
