"""Full disks and read-only folders: `train` and `generate --output`.

Outputs go to a small tmpfs the test mounts (`small_filesystem`, tests/disk.py),
filled to the brim or remounted read-only. Each command must fail with one
line on stderr and exit 2, leave an existing output file as it was, and leave
no temporary file (nor a lock file) behind.
"""

import pytest
from conftest import TINY, random_model_file, run_cli
from disk import files_in, fill, remount_read_only

from keras_chargen.models.loading import load_model

_TRAIN = [
    "--epochs", "2", "--units", str(TINY["lstm_units"]),
    "--embedding-dim", str(TINY["embedding_dim"]), "--layers", "1",
    "--sequence-length", "32", "--batch-size", "16", "--quiet",
]  # fmt: skip


def _error_line(capsys, command):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"keras-chargen {command}: error: ")
    return lines[0]


@pytest.fixture
def old_model(small_filesystem, corpus_file):
    """A tmpfs holding `run.keras` (a complete model): the file to keep."""
    folder = small_filesystem("2m")
    random_model_file(folder / "run.keras", corpus_file.read_text())
    return folder / "run.keras"


def _train(corpus_file, output, *extra):
    argv = ["train", "--corpus", str(corpus_file), "--output", str(output)]
    return run_cli([*argv, *_TRAIN, *extra])


def test_train_on_a_full_disk(old_model, corpus_file, capsys):
    before = old_model.read_bytes()
    fill(old_model.parent)
    assert _train(corpus_file, old_model) == 2
    line = _error_line(capsys, "train")
    assert "No space left on device" in line
    assert str(old_model) in line
    assert old_model.read_bytes() == before
    assert files_in(old_model.parent) == ["run.keras"]


def test_train_that_runs_out_of_space_midway_resumes_once_there_is_room(
    old_model, corpus_file, capsys
):
    before = old_model.read_bytes()
    # Room for the lock, the settings and the log, not for a model.
    fill(old_model.parent, leave=16 * 1024)
    assert _train(corpus_file, old_model) == 2
    line = _error_line(capsys, "train")
    assert line.endswith(f"No space left on device: {str(old_model)!r}")
    assert old_model.read_bytes() == before
    # The backup (settings so far) stays for --resume; nothing else is left.
    assert files_in(old_model.parent) == [
        "run.backup",
        "run.backup/settings.json",
        "run.csv",
        "run.keras",
    ]
    (old_model.parent / "filler").unlink()
    assert _train(corpus_file, old_model, "--resume") == 0
    assert old_model.read_bytes() != before
    load_model(old_model)
    assert files_in(old_model.parent) == ["run.csv", "run.keras", "run.png"]


def test_train_into_a_read_only_folder(old_model, corpus_file, capsys):
    before = old_model.read_bytes()
    remount_read_only(old_model.parent)
    assert _train(corpus_file, old_model) == 2
    line = _error_line(capsys, "train")
    assert "is not writable: Read-only file system" in line
    assert old_model.read_bytes() == before
    assert files_in(old_model.parent) == ["run.keras"]


@pytest.fixture
def model_file(tmp_path, corpus_file):
    path = tmp_path / "model.keras"
    random_model_file(path, corpus_file.read_text())
    return path


def _generate(model_file, output):
    argv = ["generate", str(model_file), "--length", "2000", "--seed", "1"]
    return run_cli([*argv, "--prompt", "The ", "--output", str(output)])


def test_generate_output_on_a_full_disk(small_filesystem, model_file, capsys):
    folder = small_filesystem("256k")
    output = folder / "samples.txt"
    output.write_text("the old samples\n")
    fill(folder)
    assert _generate(model_file, output) == 2
    line = _error_line(capsys, "generate")
    assert line.endswith(
        f"cannot write --output {str(output)!r}: No space left on device"
    )
    assert output.read_text() == "the old samples\n"
    assert files_in(folder) == ["samples.txt"]


def test_generate_output_into_a_read_only_folder(small_filesystem, model_file, capsys):
    folder = small_filesystem("256k")
    output = folder / "samples.txt"
    output.write_text("the old samples\n")
    remount_read_only(folder)
    assert _generate(model_file, output) == 2
    line = _error_line(capsys, "generate")
    assert line.endswith(
        f"cannot write --output {str(output)!r}: Read-only file system"
    )
    assert output.read_text() == "the old samples\n"
    assert files_in(folder) == ["samples.txt"]


def test_generate_output_that_fits_is_written(small_filesystem, model_file, capsys):
    folder = small_filesystem("256k")
    output = folder / "samples.txt"
    assert _generate(model_file, output) == 0
    assert output.read_text().startswith("The ")
    assert files_in(folder) == ["samples.txt"]
