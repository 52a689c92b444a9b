"""`RunBackup` (what `train(resume=True)` continues from) and the clean-up of
what killed atomic writes leave (`remove_temporary_files`)."""

import json
import shutil

import keras
import numpy as np
import pytest

from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.build_char_lstm import build_char_lstm
from keras_chargen.models.saving import remove_temporary_files
from keras_chargen.training.run_backup import RunBackup


def _model():
    keras.utils.set_random_seed(0)
    vectorizer = CharVectorizer(vocabulary="abc ")
    return build_char_lstm(
        vectorizer=vectorizer, lstm_units=4, embedding_dim=2, num_layers=1
    )


def _fit(model, callbacks, epochs, initial_epoch=0):
    ids = np.random.default_rng(0).integers(2, 6, size=(8, 9))
    model.fit(
        ids[:, :-1], ids[:, 1:], epochs=epochs, initial_epoch=initial_epoch,
        batch_size=4, callbacks=callbacks, verbose=0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model fit for 3 epochs with a CSV log and a `RunBackup` (one fit)."""
    folder = tmp_path_factory.mktemp("trained")
    log = folder / "run.csv"
    model = _model()
    csv_logger = keras.callbacks.CSVLogger(str(log), append=True)
    _fit(model, [csv_logger, RunBackup(folder / "run.backup", log)], epochs=3)
    return folder, [w.numpy() for w in model.weights]


@pytest.fixture
def run(trained, tmp_path):
    """A copy of `trained`'s folder: `run.csv` and `run.backup/`."""
    shutil.copytree(trained[0], tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_restore_gives_the_last_epochs_weights_and_optimizer_state(trained, run):
    backup = run / "run.backup"
    assert sorted(p.name for p in backup.iterdir()) == [
        "epoch-3.weights.h5",
        "state.json",
    ]
    assert json.loads((backup / "state.json").read_text()) == {
        "epoch": 3,
        "weights": "epoch-3.weights.h5",
    }
    restored = _model()
    assert RunBackup(backup).restore(restored) == 3
    for mine, theirs in zip(trained[1], restored.weights, strict=True):
        np.testing.assert_array_equal(mine, theirs.numpy())
    assert int(restored.optimizer.iterations.numpy()) == 6  # 3 epochs x 2 steps


def test_nothing_backed_up_restores_nothing(tmp_path):
    assert RunBackup(tmp_path / "b").restore(_model()) == 0
    (tmp_path / "b").mkdir()
    assert RunBackup(tmp_path / "b").restore(_model()) == 0


def test_restore_cuts_the_log_to_the_epochs_backed_up(run):
    log, backup = run / "run.csv", run / "run.backup"
    rows = log.read_bytes().splitlines(keepends=True)
    assert len(rows) == 4 and rows[1].startswith(b"0,")
    # Killed after logging epoch 4 (and halfway through a 5th row) but before
    # backing it up.
    log.write_bytes(b"".join(rows) + rows[3].replace(b"2,", b"3,", 1) + b"4,0.5")
    model = _model()
    assert RunBackup(backup, log).restore(model) == 3
    assert log.read_bytes() == b"".join(rows)  # byte for byte, \r\n kept
    csv_logger = keras.callbacks.CSVLogger(str(log), append=True)
    _fit(model, [csv_logger, RunBackup(backup, log)], epochs=4, initial_epoch=3)
    epochs = [line.split(b",")[0] for line in log.read_bytes().splitlines()[1:]]
    assert epochs == [b"0", b"1", b"2", b"3"]


def test_a_run_killed_before_its_first_backup_keeps_only_the_header(tmp_path):
    log = tmp_path / "run.csv"
    log.write_bytes(b"epoch,loss\r\n0,2.5\r\n")  # logged, killed before the backup
    (tmp_path / "b").mkdir()
    assert RunBackup(tmp_path / "b", log).restore(_model()) == 0
    assert log.read_bytes() == b"epoch,loss\r\n"


def test_killed_saves_leave_nothing_that_restore_keeps(run):
    folder = run / "run.backup"
    (folder / "epoch-2.weights.h5").write_bytes(b"an older epoch")
    (folder / ".epoch-4.weights.h5.abcd1234.weights.h5").write_bytes(b"half")
    (folder / ".state.json.x1y2z3w4.json").write_text('{"epoch": 4')
    assert RunBackup(folder).restore(_model()) == 3
    assert sorted(p.name for p in folder.iterdir()) == [
        "epoch-3.weights.h5",
        "state.json",
    ]


@pytest.mark.parametrize(
    "state",
    ["{not json", '{"epoch": 0, "weights": "epoch-0.weights.h5"}', '{"epoch": 2}',
     '{"epoch": 2, "weights": "../../etc/passwd"}', "[2]"],
)  # fmt: skip
def test_a_damaged_state_is_a_clear_error(tmp_path, state):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "state.json").write_text(state)
    with pytest.raises(ValueError, match=r"The backup state .*state.json is damaged"):
        RunBackup(tmp_path / "b").restore(_model())


def test_weights_of_another_model_are_a_clear_error(run):
    other = build_char_lstm(
        vectorizer=CharVectorizer(vocabulary="abc "), lstm_units=6, embedding_dim=2,
        num_layers=1,
    )  # fmt: skip
    with pytest.raises(ValueError, match="does not load into this model"):
        RunBackup(run / "run.backup").restore(other)


def test_delete_removes_the_folder_and_what_killed_deletions_left(run):
    leftover = run / ".run.backup.deleting.k1ll3d00" / "run.backup"
    leftover.mkdir(parents=True)
    (leftover / "state.json").write_text("{}")
    RunBackup(run / "run.backup").delete()
    assert [p.name for p in run.iterdir()] == ["run.csv"]
    RunBackup(run / "run.backup").delete()  # nothing to delete: no error


def test_remove_temporary_files_removes_only_those_of_that_path(tmp_path):
    names = [
        ".run.keras.abcd1234.keras",  # replace_atomically(run.keras)
        ".run.keras.a_b_c_d_",  # no suffix
        ".run.keras.write-test",  # train's own write test: not ours
        ".run.keras.toolong123.keras",
        ".other.keras.abcd1234.keras",
        "run.keras",
        "run.keras.lock",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    removed = remove_temporary_files(tmp_path / "run.keras")
    assert sorted(p.name for p in removed) == sorted(names[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])
