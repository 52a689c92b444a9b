"""Callbacks that `keras_chargen.train` wires in next to Keras' own."""

import csv
import math
import time
from pathlib import Path

import keras

from keras_chargen.models.saving import save_model


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the best model so far (lowest `monitor`) as one `.keras` file.

    Unlike `keras.callbacks.ModelCheckpoint`, the file is replaced
    atomically, so a crash during a save leaves the previous best intact.

    Args:
        filepath: the `.keras` path.
        monitor: the quantity to minimise. Defaults to `"val_loss"`.
        best: the best value already saved (when resuming). Defaults to inf.
    """

    def __init__(self, filepath, monitor="val_loss", best=math.inf):
        super().__init__()
        self.filepath = Path(filepath)
        self.monitor = monitor
        self.best = best
        self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or value >= self.best:
            return
        self.best, self.best_epoch = float(value), epoch + 1
        save_model(self.model, self.filepath)


class TimeLimit(keras.callbacks.Callback):
    """Stops training cleanly once `minutes` of wall-clock time are spent.

    Checked after every batch: the current epoch ends early, is validated
    and checkpointed as usual. The validation time of the last epoch is kept
    in reserve so the budget is not overrun by the final validation. Checked
    after every epoch too: when the time left would not fit one more batch
    and its validation, training stops there rather than run an epoch of a
    single batch.

    With `anneal_to`, the learning rate is also lowered at the end of the
    budget, since a run that knows when it ends can spend its last minutes
    at a low rate: it keeps its value until the share `anneal_from` of the
    budget is spent, then follows a half cosine down to `anneal_to` times
    that value when the time is up. It scales whatever the rate is, so
    `ReduceLROnPlateau`'s cuts still apply on top.

    Args:
        minutes: float, the budget.
        anneal_to: Optional float in `(0, 1]`, the learning rate's final
            factor. Defaults to `None` (no annealing).
        anneal_from: float in `[0, 1)`, the share of the budget spent at the
            full rate. Defaults to `0.0`.
    """

    def __init__(self, minutes, anneal_to=None, anneal_from=0.0):
        super().__init__()
        self.minutes = minutes
        self.anneal_to = anneal_to
        self.anneal_from = anneal_from
        self.stopped = False
        self._start = None
        self._last_batch_end = None
        self._batch_start = None
        self._batch_seconds = 0.0
        self._validation_seconds = 0.0
        self._factor = 1.0  # the share of the rate last set

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_start = time.monotonic()
        if self.anneal_to is None:
            return
        spent = (self._batch_start - self._start) / (self.minutes * 60)
        progress = min(1.0, max(0.0, spent - self.anneal_from) / (1 - self.anneal_from))
        if progress == 0.0:
            return  # still at the full rate
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        factor = self.anneal_to + (1 - self.anneal_to) * cosine
        # Rescale the current rate, so a cut by another callback stays.
        current = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.model.optimizer.learning_rate = current / self._factor * factor
        self._factor = factor

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch_end = time.monotonic()
        self._batch_seconds = self._last_batch_end - self._batch_start
        self._stop_if_spent(self._last_batch_end, self._validation_seconds)

    def on_epoch_end(self, epoch, logs=None):
        if self._last_batch_end is None:
            return
        now = time.monotonic()
        self._validation_seconds = now - self._last_batch_end
        self._stop_if_spent(now, self._batch_seconds + self._validation_seconds)

    def _stop_if_spent(self, now, reserve):
        if now - self._start + reserve >= self.minutes * 60:
            self.stopped = True
            self.model.stop_training = True


class ProgressLogger(keras.callbacks.Callback):
    """Adds `learning_rate` and cumulative `wall_minutes` to the epoch logs.

    Args:
        minutes_before: wall minutes already spent (by a resumed run).
    """

    def __init__(self, minutes_before=0.0):
        super().__init__()
        self.minutes_before = minutes_before
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            lr = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
            elapsed = (time.monotonic() - self._start) / 60
            logs["wall_minutes"] = self.minutes_before + elapsed


def read_log(path):
    """Reads a `CSVLogger` file into a dict of float lists (empty if none)."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    columns = {key: [] for key in (rows[0] if rows else {})}
    for row in rows:
        for key in columns:
            try:
                columns[key].append(float(row[key]))
            except (TypeError, ValueError):
                columns[key].append(math.nan)
    return columns


# Why a `keras_chargen.train` run ended, as the summary, the log and the
# figure name it.
STOP_REASONS = ("NaN loss", "time budget", "early stopping", "epoch limit")


def stop_reason(history, epochs, time_limit=None, early_stopping=None):
    """Why training stopped: one of `STOP_REASONS`.

    Args:
        history: the run's per-epoch logs (`read_log`), resumed epochs included.
        epochs: the epoch count `model.fit` was given.
        time_limit: the run's `TimeLimit`, if any.
        early_stopping: the run's `keras.callbacks.EarlyStopping`, if any.
    """
    losses = history.get("loss", [])
    # TerminateOnNaN ends the epoch at the first NaN batch; that epoch's mean
    # loss is then NaN (or inf) in the log.
    if losses and not math.isfinite(losses[-1]):
        return "NaN loss"
    if time_limit is not None and time_limit.stopped:
        return "time budget"
    if early_stopping is not None and early_stopping.stopped_epoch > 0:
        return "early stopping"
    return "epoch limit"
