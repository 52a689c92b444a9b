"""Every example runs top to bottom in SMOKE mode and prints what it promises.

Each example runs in a subprocess, in a temporary folder, with no network:
requests goes through a proxy address that refuses connections, so
`load_corpus("alice")` takes its offline fallback, and `KERAS_HOME` points
into the temporary folder so no cached download is used.
"""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_NUMBER = r"([0-9][0-9,]*\.?[0-9]*)"


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"no match for {pattern!r} in the output"
    return float(match.group(1).replace(",", ""))


def _check_drop_in_layers(out, err):
    assert "vocabulary restored: True" in out
    assert "2 samples kept" in out
    assert math.isfinite(_number(rf"validation: {_NUMBER} bits/char", out))


def _check_train_alice(out, err):
    assert "Using the embedded 'pydoc' corpus instead" in err
    assert "Reloaded model, same seed, same text: True" in out
    model = _number(rf"  model +{_NUMBER} bits/char", out)
    unigram = _number(rf"  unigram +{_NUMBER} bits/char", out)
    assert 0 < model < 10 and 0 < unigram < 10
    assert _number(rf"64 stream\(s\): {_NUMBER} characters/s", out) > 0
    assert "temperature 1.0 ===" in out


def _check_generate_from_checkpoint(out, err):
    for name in ("greedy", "temperature 0.5", "top-k 5", "top-p 0.9"):
        row = re.search(rf"^\| {re.escape(name)} +\|(.*)\|$", out, re.M)
        assert row, f"no table row for {name}"
        cells = [float(c.replace(",", "")) for c in row.group(1).split("|")]
        assert all(0 <= c <= 1 for c in cells[:3])  # distinct-1, -2, -3
    # Greedy decoding repeats itself: 4 identical samples.
    greedy = re.search(r"^\| greedy +\| ([0-9.]+)", out, re.M)
    sampled = re.search(r"^\| temperature 1.0 +\| ([0-9.]+)", out, re.M)
    assert float(greedy.group(1)) < float(sampled.group(1))


def _check_gru_and_layernorm(out, err):
    for name in ("LSTM (default)", "GRU + LayerNorm"):
        row = re.search(rf"^\| {re.escape(name)} \|(.*)\|$", out, re.M)
        assert row, f"no table row for {name}"
        params, speed, epochs, bits, generate = (
            float(c.replace(",", "")) for c in row.group(1).split("|")
        )
        assert params > 0 and speed > 0 and epochs >= 1 and generate > 0
        assert 0 < bits < 10
    assert "GRU + LayerNorm vs LSTM:" in out


def _check_tune_then_train(out, err):
    assert "| trial | status |" in out
    assert out.count("| COMPLETED |") == 2
    assert "Trained 1 epoch(s)" in out
    assert math.isfinite(_number(rf"min: {_NUMBER} val bits/char", out))


CHECKS = {
    "drop_in_layers.py": _check_drop_in_layers,
    "train_alice.py": _check_train_alice,
    "generate_from_checkpoint.py": _check_generate_from_checkpoint,
    "gru_and_layernorm.py": _check_gru_and_layernorm,
    "tune_then_train.py": _check_tune_then_train,
}


def test_every_example_is_checked():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example_runs_in_smoke_mode(name, tmp_path):
    if name == "tune_then_train.py":
        pytest.importorskip("keras_tuner")
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in ("no_proxy", "http_proxy", "https_proxy")
    }
    env.update(
        SMOKE="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_HOME=str(tmp_path / "keras_home"),
        # Port 9 (discard) refuses connections: downloads fail fast, offline.
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
    )
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    CHECKS[name](result.stdout, result.stderr)
