"""What generation.py and training.py share: backend workers, timing, the table.

A Keras process has one backend, so each benchmark's parent process starts
its own script once per backend (`--backend-worker NAME`, with
`KERAS_BACKEND=NAME`); the worker measures its rows and prints them as one
line of JSON, and the parent prints one table. The parent itself never
imports Keras.
"""

import json
import os
import platform
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "torch"}


def timed(function, *args, repeats=2):
    """Seconds the fastest of `repeats` calls takes (load bursts count against none)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - start)
    return best


def run_worker(script, backend, arguments, timeout):
    """Runs `script --backend-worker backend *arguments`; returns its JSON line."""
    # Child-process settings only: this process imports no backend.
    env = {**os.environ, "KERAS_BACKEND": backend}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    command = [sys.executable, str(script), "--backend-worker", backend, *arguments]
    print(
        f"Running the {BACKEND_NAMES[backend]} worker...", file=sys.stderr, flush=True
    )
    start = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"The {backend} worker failed (exit {result.returncode}): "
            f"{' '.join(command)}\n{result.stderr[-4000:]}"
        )
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    report["wall_seconds"] = time.perf_counter() - start
    return report


def emit(report):
    """A worker's last line of standard output: its report as JSON."""
    print(json.dumps(report), flush=True)


def worker_versions():
    """The versions a worker runs with (its own backend's library included)."""
    import keras

    backend = keras.backend.backend()  # also the name of its Python package
    return {
        "backend": backend,
        "keras": keras.__version__,
        BACKEND_NAMES[backend]: __import__(backend).__version__,
    }


def cpu_description(cpuinfo_path="/proc/cpuinfo"):
    """`"<model name>, N CPUs, AMX: yes|no, AVX512-BF16: yes|no"` (Linux)."""
    try:
        lines = open(cpuinfo_path, encoding="utf-8").read().splitlines()
    except OSError:
        return f"{platform.processor() or 'unknown CPU'}, {os.cpu_count()} CPUs"

    def field(name):
        line = next((ln for ln in lines if ln.startswith(name)), ":")
        return line.split(":", 1)[1].strip()

    flags = set(field("flags").split())
    amx = "yes" if "amx_bf16" in flags else "no"
    avx512_bf16 = "yes" if "avx512_bf16" in flags else "no"
    return (
        f"{field('model name') or 'unknown CPU'}, {os.cpu_count()} CPUs, "
        f"AMX: {amx}, AVX512-BF16: {avx512_bf16}"
    )


def machine_line(reports):
    """One line: CPU, platform, Python and every worker's library versions."""
    versions = {}
    for report in reports:
        versions.update({k: v for k, v in report["versions"].items() if k != "backend"})
    libraries = ", ".join(f"{name} {version}" for name, version in versions.items())
    return (
        f"Machine: {cpu_description()}; {platform.platform()}, Python "
        f"{platform.python_version()}, {libraries}; load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end."
    )


def format_number(value):
    """Three or more significant digits, thousands separated."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return f"{value:.3g}"


def format_ratio(ratio):
    """A ratio as `format_number`, then `x`."""
    return f"{format_number(ratio)}x"


def verdict(value, target):
    return f"{format_ratio(value)} (target >= {target:g}x: {'met' if value >= target else 'NOT met'})"
