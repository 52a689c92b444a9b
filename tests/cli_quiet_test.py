"""`keras-chargen` shows no TensorFlow, JAX or torch start-up lines unless --verbose."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from conftest import run_cli

# TensorFlow's C++ log lines (absl format: "I0000 00:00:17.94  123 file.cc:42]")
# and the start-up messages this machine's TensorFlow prints.
NATIVE_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w.-]+:\d+\]")
MARKERS = (
    "absl::InitializeLog",
    "oneDNN custom operations",
    "cuda drivers",
    "cuInit",
    "cpu_feature_guard",
    "This TensorFlow binary is optimized",
)
BACKENDS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            importlib.util.find_spec(name) is None, reason=f"{name} not installed"
        ),
    )
    for name in ("tensorflow", "jax", "torch")
]


def _python(args, backend="tensorflow"):
    """Runs Python in a subprocess whose environment sets no TF_CPP_* level."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP_")}
    env["KERAS_BACKEND"] = backend
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300
    )


def _cli(args, backend="tensorflow"):
    return _python(["-m", "keras_chargen_cli", *args], backend)


def _start_up_lines(stderr):
    return [
        line
        for line in stderr.splitlines()
        if NATIVE_LINE.match(line) or any(marker in line for marker in MARKERS)
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_generate_prints_no_start_up_lines(trained_model_path, backend):
    argv = ["generate", str(trained_model_path), "--prompt", "The "]
    result = _cli([*argv, "--length", "10", "--seed", "1"], backend)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("The ") and len(result.stdout) == len("The ") + 11
    assert _start_up_lines(result.stderr) == []


def test_an_error_is_the_only_line_on_stderr(tmp_path):
    missing = tmp_path / "missing.keras"
    result = _cli(["generate", str(missing)])
    assert result.returncode == 2
    assert result.stderr == (
        f"keras-chargen generate: error: model file {str(missing)!r} does not exist\n"
    )


def test_verbose_shows_tensorflows_start_up_lines():
    result = _cli(["--verbose", "--help"])
    assert result.returncode == 0 and "--verbose" in result.stdout
    if not _start_up_lines(result.stderr):
        plain = _python(["-c", "import tensorflow"])
        if not _start_up_lines(plain.stderr):
            pytest.skip("this TensorFlow prints no start-up lines")
    assert any("absl::InitializeLog" in line for line in _start_up_lines(result.stderr))


HIDDEN_BLOCK = """
import os, sys, warnings
from keras_chargen_cli import native_stderr_hidden
print("BEGIN", file=sys.stderr, flush=True)
with native_stderr_hidden():
    os.write(2, b"native line\\n")
    warnings.warn("a Python warning")
    print("our message", file=sys.stderr)
    {last}
os.write(2, b"native again\\n")
"""


def test_hidden_block_shows_python_output_only():
    result = _python(["-c", HIDDEN_BLOCK.format(last="pass")])
    assert result.returncode == 0, result.stderr[-2000:]
    after = result.stderr.split("BEGIN\n", 1)[1]
    assert "UserWarning: a Python warning" in after
    assert "our message\n" in after and after.endswith("native again\n")
    assert "native line" not in after


def test_hidden_lines_are_shown_on_an_unexpected_error():
    result = _python(["-c", HIDDEN_BLOCK.format(last="raise RuntimeError('boom')")])
    assert result.returncode == 1
    after = result.stderr.split("BEGIN\n", 1)[1]
    assert "RuntimeError: boom" in after
    assert "native line\n" in after.split("Traceback", 1)[0]


def test_main_leaves_stderr_and_the_environment_as_they_were(tmp_path, capsys):
    before = os.fstat(2), sys.stderr, dict(os.environ)
    assert run_cli(["--verbose", "generate", str(tmp_path / "missing.keras")]) == 2
    assert run_cli(["generate", str(tmp_path / "missing.keras")]) == 2
    after = os.fstat(2), sys.stderr, dict(os.environ)
    assert (after[0].st_dev, after[0].st_ino) == (before[0].st_dev, before[0].st_ino)
    assert after[1:] == before[1:]
    assert capsys.readouterr().err.count("does not exist") == 2


def test_verbose_is_a_flag_of_the_main_command(tmp_path, capsys):
    code = run_cli(["generate", str(tmp_path / "run.keras"), "--verbose"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "unrecognized arguments: --verbose" in err and len(err.splitlines()) == 1
