"""`RunBackup`: the state `train(resume=True)` continues from, kill-proof."""

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import keras

from keras_chargen.models.saving import replace_atomically

_STATE = "state.json"
_WEIGHTS = re.compile(r"epoch-(\d+)\.weights\.h5")


class RunBackup(keras.callbacks.Callback):
    """Saves the training state after every epoch, so a killed run can resume.

    Used by `keras_chargen.train` instead of `keras.callbacks.BackupAndRestore`,
    which a `SIGKILL` can leave unusable: it writes its weights file in
    place (killed midway, the file does not load) and the epoch count in a
    second file (killed between the two, the count does not match the
    weights), and it deletes its folder as soon as `fit` ends, before the
    caller has saved its results.

    After each epoch this writes the weights (model and optimizer) to
    `epoch-<n>.weights.h5`, then `state.json` (`{"epoch": n, "weights":
    "epoch-<n>.weights.h5"}`), each replaced atomically, then deletes the
    previous epoch's weights: at every instant `state.json` names a complete
    weights file of the epoch it states.

    With `log_path` (a `keras.callbacks.CSVLogger` file placed *before* this
    callback), `restore` also cuts the log back to the epochs restored: a run
    killed after logging epoch `n` but before backing it up trains epoch `n`
    again, and the log must not list it twice.

    Args:
        backup_dir: the folder (created on the first save).
        log_path: Optional path of the run's CSV log. Defaults to `None`.

    Example:

    ```python
    backup = RunBackup("run.backup", log_path="run.csv")
    initial_epoch = backup.restore(model)  # 0 when there is nothing to restore
    model.fit(..., initial_epoch=initial_epoch,
              callbacks=[keras.callbacks.CSVLogger("run.csv", append=True), backup])
    backup.delete()
    ```
    """

    def __init__(self, backup_dir, log_path=None):
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.log_path = None if log_path is None else Path(log_path)

    def restore(self, model):
        """Loads the last epoch backed up into `model`.

        Also removes what killed saves left in the folder and, with
        `log_path`, cuts the log to the epochs restored.

        Returns:
            The number of epochs done: `fit`'s `initial_epoch`. `0` when
            nothing was backed up yet.

        Raises:
            ValueError: if the backup is damaged or is not of this model.
        """
        state = self._read_state()
        self._remove_leftovers(state)
        if state is not None:
            self._load(model, state)
        epochs = 0 if state is None else state["epoch"]
        if self.log_path is not None:  # killed before the first backup: no rows
            _cut_log(self.log_path, epochs)
        return epochs

    def on_epoch_end(self, epoch, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{epoch + 1}.weights.h5"
        replace_atomically(
            self.backup_dir / weights, self.model.save_weights, suffix=".weights.h5"
        )
        state = {"epoch": epoch + 1, "weights": weights}
        replace_atomically(
            self.backup_dir / _STATE,
            lambda tmp: Path(tmp).write_text(json.dumps(state)),
        )
        self._remove_leftovers(state)

    def delete(self):
        """Deletes the backup folder; a kill midway leaves it whole or gone.

        The folder is first renamed to a hidden name beside it (atomic), then
        removed; hidden folders that killed deletions left are removed too.
        """
        folder = self.backup_dir
        if folder.is_dir():
            hidden = tempfile.mkdtemp(
                prefix=f".{folder.name}.deleting.", dir=folder.parent
            )
            os.replace(folder, Path(hidden) / folder.name)
        for leftover in folder.parent.glob(f".{folder.name}.deleting.*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def _load(self, model, state):
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(self.backup_dir / state["weights"])
        except Exception as error:  # Keras raises many types for a bad file
            why = (str(error).splitlines() or [""])[0]
            raise ValueError(
                f"The backup in {self.backup_dir} does not load into this model "
                f"({type(error).__name__}: {why}). Delete that folder to start over."
            ) from None

    def _read_state(self):
        path = self.backup_dir / _STATE
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text())
            epoch, weights = state["epoch"], state["weights"]
            if not (
                isinstance(epoch, int) and epoch >= 1 and _WEIGHTS.fullmatch(weights)
            ):
                raise ValueError(f"unexpected values {state!r}")
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(
                f"The backup state {path} is damaged ({error}). Delete "
                f"{self.backup_dir} to start over."
            ) from None
        return state

    def _remove_leftovers(self, state):
        """Other epochs' weights and the temporary files of killed saves."""
        if not self.backup_dir.is_dir():
            return
        keep = None if state is None else state["weights"]
        for path in self.backup_dir.iterdir():
            stale_weights = _WEIGHTS.fullmatch(path.name) and path.name != keep
            if path.is_file() and (stale_weights or path.name.startswith(".")):
                path.unlink(missing_ok=True)


def _cut_log(path, epochs):
    """Keeps the header and the first `epochs` complete rows of a CSV log."""
    if not path.exists():
        return
    lines = path.read_bytes().splitlines(keepends=True)
    # A row is flushed before its epoch is backed up, so a partial (killed
    # mid-write) row is always one of the rows cut.
    kept = [line for line in lines[: epochs + 1] if line.endswith(b"\n")]
    if kept == lines:
        return
    replace_atomically(path, lambda tmp: Path(tmp).write_bytes(b"".join(kept)))
