import os
import re
import subprocess
import sys
from pathlib import Path

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
    return result


def test_generation_benchmark_quick_prints_the_table():
    result = run_quick("generation.py", timeout=120)
    rows = re.findall(
        r"^\| (\(\w\)) [^|]+ \| ([\d,]+) \| [\d.]+ \| ([\d,.]+) \| ([\d,]+)x \|$",
        result.stdout,
        re.MULTILINE,
    )
    assert [(label, chars) for label, chars, _, _ in rows] == [
        ("(a)", "3"),
        ("(b)", "50"),
        ("(c)", "80"),
        ("(d)", "80"),
    ]
    assert rows[0][3] == "1"
    assert all(float(rate.replace(",", "")) > 0 for _, _, rate, _ in rows)
    assert "TensorFlow" in result.stdout and "CPUs" in result.stdout


def test_training_benchmark_quick_prints_the_ratio():
    result = run_quick("training.py", timeout=180)
    rows = re.findall(
        r"^\| \((a|b)\) [^|]+ \| ([\d,]+) \| [\d.]+ \| ([\d,]+) \| ([\d,]+)x \|$",
        result.stdout,
        re.MULTILINE,
    )
    assert [(label, per_batch) for label, per_batch, _, _ in rows] == [
        ("a", "64"),
        ("b", "6,400"),
    ]
    rate_a, rate_b = (float(rate.replace(",", "")) for _, _, rate, _ in rows)
    # The printed rates are rounded, so the printed ratio may differ by one.
    assert abs(int(rows[1][3].replace(",", "")) - rate_b / rate_a) <= 1.5
