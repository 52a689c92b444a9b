"""`keras-chargen export`: the artifact it writes, and every bad input.

The full-disk and read-only cases mount a small tmpfs, which needs root
(CI runs as root); elsewhere those two tests are skipped with that reason.
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from conftest import make_text, random_model_file, run_cli

import keras_chargen
from keras_chargen.export import driver

DRIVER = Path(driver.__file__)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "run.keras"
    random_model_file(path, make_text(600), scale=1.0, seed=3)
    return path


@pytest.fixture(scope="module")
def greedy_text(model_file):
    """What the library generates from the file: 80 greedy characters."""
    model = keras.saving.load_model(model_file)
    return model.generate("the ", 80, sampler=keras_chargen.samplers.GreedySampler())


def error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def mount(tmp_path):
    """`mount(options)`: a fresh tmpfs folder mounted with `options`."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = []

    def make(options):
        point = tmp_path / f"mount{len(mounted)}"
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                       check=True)  # fmt: skip
        mounted.append(point)
        return point

    yield make
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def test_export_replaces_an_existing_folder(model_file, greedy_text, tmp_path, capsys):
    out = tmp_path / "litert"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert run_cli(["export", str(model_file), "--format", "litert",
                    "--output", str(out), "--overwrite"]) == 0  # fmt: skip
    assert f"Wrote {out} (litert, model.tflite: " in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["model.tflite", "step_model.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["litert"]  # no temp folders
    assert driver.generate(driver.StepRunner(out), "the ", 80) == greedy_text


def test_driver_script_runs_without_keras(model_file, greedy_text, tmp_path):
    out = tmp_path / "onnx"
    assert run_cli(["export", str(model_file), "--format", "onnx",
                    "--output", str(out)]) == 0  # fmt: skip
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['driver.py', {str(out)!r}, '--prompt', 'the ', '--length', '80']\n"
        f"runpy.run_path({str(DRIVER)!r}, run_name='__main__')\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('keras', 'tensorflow', 'keras_chargen')]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == greedy_text + "\n"


def test_full_disk_leaves_the_existing_output_intact(model_file, mount, capsys):
    disk = mount("size=24k")
    out = disk / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code = run_cli(["export", str(model_file), "--format", "onnx",
                    "--output", str(out), "--overwrite"])  # fmt: skip
    assert code == 2
    err = error_line(capsys)
    assert err == (
        f"keras-chargen export: error: cannot write --output {str(out)!r}: "
        "No space left on device; nothing was written"
    )
    assert [p.name for p in disk.iterdir()] == ["out"]  # no temp folder left
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "mine"


def test_read_only_output_folder(model_file, mount, capsys):
    disk = mount("size=64k,ro")
    code = run_cli(["export", str(model_file), "--format", "savedmodel",
                    "--output", str(disk / "out")])  # fmt: skip
    assert code == 2
    assert "Read-only file system; nothing was written" in error_line(capsys)
    assert list(disk.iterdir()) == []


def test_existing_output(model_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code = run_cli(["export", str(model_file), "--format", "onnx",
                    "--output", str(out)])  # fmt: skip
    assert code == 2
    assert error_line(capsys) == (
        f"keras-chargen export: error: --output {str(out)!r} exists "
        "(pass --overwrite to replace it)"
    )
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_missing_output_folder(model_file, tmp_path, capsys):
    out = tmp_path / "no" / "out"
    code = run_cli(["export", str(model_file), "--format", "onnx",
                    "--output", str(out)])  # fmt: skip
    assert code == 2
    assert "folder of --output" in error_line(capsys)


def test_unknown_format(model_file, tmp_path, capsys):
    code = run_cli(["export", str(model_file), "--format", "tflite",
                    "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    err = error_line(capsys)
    assert "invalid choice: 'tflite'" in err
    assert "'savedmodel', 'onnx', 'litert'" in err
    assert list(tmp_path.iterdir()) == []


def test_not_a_keras_chargen_model(tmp_path, capsys):
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp_path / "plain.keras"
    plain.save(path)
    code = run_cli(["export", str(path), "--format", "onnx",
                    "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert str(path) in error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.keras"]


def test_missing_optional_package_names_the_extra(model_file, tmp_path):
    # A `None` entry in sys.modules makes `import tf2onnx` raise ImportError:
    # the way Python documents to stand for a package that is not installed.
    code = (
        "import sys\n"
        "sys.modules['tf2onnx'] = None\n"
        "from keras_chargen_cli import main\n"
        f"sys.exit(main(['export', {str(model_file)!r}, '--format', 'onnx', "
        f"'--output', {str(tmp_path / 'out')!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "keras-chargen export: error: Exporting to onnx needs tf2onnx: "
        'pip install "keras-chargen[export]"'
    )
    assert list(tmp_path.iterdir()) == []
