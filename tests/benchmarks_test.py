"""The benchmarks' --quick tables: rows, positive rates, ratios that match them.

Each script runs its TensorFlow, JAX and torch workers as subprocesses and
prints one Markdown table; these tests read that table as data. No timed
assertions: the rates only have to be positive and the ratios consistent.
"""

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run_quick(script, timeout):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def table(stdout):
    """The Markdown table's rows as dicts keyed by the header's column names."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [
        dict(
            zip(
                header,
                (cell.strip() for cell in line.strip("|").split("|")),
                strict=True,
            )
        )
        for line in lines[2:]
    ]


def number(text):
    return float(text.replace(",", "").rstrip("x"))


def assert_ratio(printed, rate, reference):
    # Rates and ratios are printed with three significant digits or more.
    assert math.isclose(number(printed), rate / reference, rel_tol=0.02), (
        printed,
        rate,
        reference,
    )


# Each --quick run takes ~35-80 s on a quiet 2-core CPU (three backend
# processes start and compile); the timeouts leave room for a loaded machine.
@pytest.fixture(scope="module")
def generation_stdout():
    return run_quick("generation.py", timeout=300)


@pytest.fixture(scope="module")
def training_stdout():
    return run_quick("training.py", timeout=300)


def test_generation_quick_table_has_one_row_per_method_and_backend(generation_stdout):
    rows = table(generation_stdout)
    assert [r["row"] for r in rows] == [f"({c})" for c in "abcdefghijkl"]
    assert [
        (r["backend"], r["batch"], r["matmuls"], r["characters"]) for r in rows
    ] == [
        ("TensorFlow", "1", "float32", "3"),  # (a) predict loop
        ("TensorFlow", "1", "float32", "50"),  # (b) OneStep
        ("TensorFlow", "4", "float32", "80"),  # (c) OneStep
        *[
            (backend, batch, dtype, chars)
            for backend in ("TensorFlow", "JAX", "torch")
            for batch, dtype, chars in (
                ("1", "float32", "50"),
                ("4", "float32", "80"),
                ("4", "bfloat16", "80"),
            )
        ],
    ]
    assert "model.predict" in rows[0]["method"]
    assert all("OneStep" in r["method"] for r in rows[1:3])
    assert all("TextGenerator" in r["method"] for r in rows[3:])


def test_generation_quick_ratios_match_the_rates(generation_stdout):
    rows = table(generation_stdout)
    rates = [number(r["chars/s"]) for r in rows]
    assert all(rate > 0 for rate in rates)
    for r, rate in zip(rows, rates, strict=True):
        assert_ratio(r["chars/s"], number(r["characters"]), number(r["seconds"]))
        assert_ratio(r["vs (a) predict"], rate, rates[0])
        onestep = rates[1] if r["batch"] == "1" else rates[2]
        assert_ratio(r["vs OneStep"], rate, onestep)


def test_generation_quick_prints_targets_cpu_and_same_weights(generation_stdout):
    assert "target >= 1000x" in generation_stdout
    assert "target >= 8x" in generation_stdout
    assert "target >= 2x" in generation_stdout
    assert "AMX: " in generation_stdout and "AVX512-BF16: " in generation_stdout
    assert "the same weights in every worker" in generation_stdout


def test_training_quick_table_has_the_tutorial_then_each_backends_rows(
    training_stdout,
):
    rows = table(training_stdout)
    assert [r["row"] for r in rows] == [f"({chr(97 + i)})" for i in range(len(rows))]
    tutorial, *ours = rows
    assert "tutorial" in tutorial["method"]
    assert (tutorial["backend"], tutorial["supervised chars / batch"]) == (
        "TensorFlow",
        "64",
    )
    assert all(r["supervised chars / batch"] == "6,400" for r in ours)
    backends = [r["backend"] for r in ours]
    assert list(dict.fromkeys(backends)) == ["TensorFlow", "JAX", "torch"]
    for backend in ("TensorFlow", "JAX", "torch"):
        group = [r for r in ours if r["backend"] == backend]
        default = group[0]
        assert "defaults" in default["method"]
        # Where the defaults run the fused loop, the other products dtype and
        # Keras' own loop follow; elsewhere the defaults are Keras' loop.
        if default["LSTM loop"] == "fused":
            assert [(r["LSTM loop"], r["products"]) for r in group[1:]] == [
                (
                    "fused",
                    {"bfloat16": "float32", "float32": "bfloat16"}[default["products"]],
                ),
                ("Keras", "float32"),
            ]
        else:
            assert [(r["LSTM loop"], r["products"]) for r in group] == [
                ("Keras", "float32")
            ]
    # CPU tests: the TensorFlow defaults train with the fused loop, torch has none.
    assert ours[0]["LSTM loop"] == "fused"
    assert [r["LSTM loop"] for r in ours if r["backend"] == "torch"] == ["Keras"]


def test_training_quick_ratios_match_the_rates(training_stdout):
    rows = table(training_stdout)
    rates = [number(r["supervised chars/s"]) for r in rows]
    assert all(rate > 0 for rate in rates)
    keras_tensorflow = next(
        rate
        for r, rate in zip(rows[1:], rates[1:], strict=True)
        if r["backend"] == "TensorFlow" and r["LSTM loop"] == "Keras"
    )
    for r, rate in zip(rows, rates, strict=True):
        per_batch = number(r["supervised chars / batch"])
        assert_ratio(r["supervised chars/s"], per_batch, number(r["seconds per batch"]))
        assert_ratio(r["vs (a)"], rate, rates[0])
        assert_ratio(r["vs TensorFlow Keras loop"], rate, keras_tensorflow)
    assert "target >= 50x" in training_stdout


def test_cpu_description_reads_model_name_and_bfloat16_flags(tmp_path):
    spec = importlib.util.spec_from_file_location("workers", BENCHMARKS / "workers.py")
    workers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(workers)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Example CPU 9000\n"
        "flags\t\t: fpu avx512f avx512_bf16\n"
    )
    description = workers.cpu_description(cpuinfo)
    assert description.startswith("Example CPU 9000, ")
    assert description.endswith("AMX: no, AVX512-BF16: yes")
