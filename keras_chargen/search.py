"""`search`: a resumable KerasTuner search over `build_char_lstm`."""

import functools
import gc
import json
import math
import os
import shutil
import time
import warnings
from pathlib import Path

import keras

from keras_chargen.build_char_lstm import SEARCH_SPACE, build_char_lstm
from keras_chargen.char_vectorizer import CharVectorizer
from keras_chargen.corpus import load_corpus
from keras_chargen.datasets import make_datasets
from keras_chargen.save_model import replace_atomically
from keras_chargen.search_results import results_rows, write_results
from keras_chargen.training_callbacks import AtomicCheckpoint, TimeLimit

# Sized for a CPU: the whole default search takes about 6 minutes on 2 cores
# (docs/tuning.md). `build_char_lstm`'s own ranges (up to 3x1024) are for GPUs.
DEFAULT_SEARCH_SPACE = {
    "lstm_units": [64, 128, 256],
    "embedding_dim": [16, 32, 64],
    "num_layers": [1, 2],
    "dropout": [0.0, 0.1, 0.2, 0.3],
    "learning_rate": [0.001, 0.003, 0.01],
}
TUNERS = ("hyperband", "bayesian", "random")
OBJECTIVE = "val_perplexity"
# Settings a resumed search must share with the search it continues.
_RESUME_SETTINGS = ("corpus", "tuner", "epochs", "sequence_length", "batch_size")


def search(
    corpus="pydoc",
    *,
    tuner="hyperband",
    max_trials=None,
    epochs=3,
    minutes=None,
    directory="tuning_runs",
    project_name="chargen",
    overwrite=False,
    seed=1337,
    sequence_length=100,
    batch_size=64,
    search_space=None,
    output=None,
    verbose="auto",
):
    """Searches `build_char_lstm` hyperparameters for the lowest `val_perplexity`.

    A KerasTuner search (objective `keras_tuner.Objective("val_perplexity",
    direction="min")`) over `DEFAULT_SEARCH_SPACE`, each trial trained on
    `keras_chargen.make_datasets` windows (the last 10% of the corpus held
    out). Each trial starts from `keras.backend.clear_session()` and keeps
    its best epoch as `trial_<id>/model.keras`; a trial that raises (a bad
    configuration, a diverged model) is recorded as `FAILED` and the search
    goes on. Writes, in `<directory>/<project_name>/`:

    - `results.csv` (every trial) and `results.png` (val bits/char per trial
      and per hyperparameter), both replaced atomically;
    - `best.keras` (or `output`): the best trial's model, ready for
      `keras-chargen generate`.

    Running again without `overwrite` continues the project: finished
    trials are not re-run (KerasTuner's own reload). With
    `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`
    set, this process is the chief or a worker of a distributed search; when
    only the IP is missing it defaults to `127.0.0.1`: the oracle's gRPC port
    has no authentication.

    Args:
        corpus: a name, path or URL for `keras_chargen.load_corpus`.
            Defaults to `"pydoc"` (embedded, offline).
        tuner: `"hyperband"`, `"bayesian"` or `"random"`. Defaults to
            `"hyperband"`.
        max_trials: Optional int. The number of trials for `"bayesian"` and
            `"random"` (`None`: 10); an extra cap for `"hyperband"`, whose
            schedule follows from `epochs`. Defaults to `None`.
        epochs: int, the most epochs one model trains (Hyperband's
            `max_epochs`). Defaults to `3`.
        minutes: Optional float, a wall-clock budget: the running trial stops
            within an epoch and no new trial starts. Defaults to `None`.
        directory, project_name: where the project lives. Defaults to
            `"tuning_runs"`, `"chargen"`.
        overwrite: bool, start over instead of resuming. Defaults to `False`.
        seed: int, seeds the oracle, the data and every trial's weights.
            Defaults to `1337`.
        sequence_length, batch_size: see `keras_chargen.make_datasets`.
        search_space: Optional dict updating `DEFAULT_SEARCH_SPACE`: a list
            of values is searched, a single value is fixed. Defaults to `None`.
        output: Optional `.keras` path for the best model. Defaults to
            `<directory>/<project_name>/best.keras`.
        verbose: 0, 1, 2 or `"auto"`, as in `model.fit`. Defaults to `"auto"`.

    Returns:
        A JSON-serialisable dict: `trials` (one row per trial), `table`
        (Markdown, best first), `best_trial`, `best_hyperparameters`,
        `best_val_perplexity`, `best_val_bits_per_char`, `model_path`,
        `csv_path`, `plot_path`, `wall_seconds`, `stopped_by_time_limit`.
        A distributed worker returns only `role` and `wall_seconds`.

    Raises:
        ValueError: on a bad setting, or when resuming with changed settings.
        keras_chargen.CorpusError: if the corpus cannot be read.
        RuntimeError: when three trials in a row fail (KerasTuner's
            `max_consecutive_failed_trials`): likely not a bad configuration.

    Example:

    ```python
    summary = keras_chargen.search("pydoc", minutes=9)
    print(summary["table"])
    ```
    """
    started = time.monotonic()
    space = _check_settings(tuner, max_trials, epochs, minutes, search_space)
    project = Path(directory) / project_name
    output = Path(output) if output is not None else project / "best.keras"
    if output.suffix != ".keras":
        raise ValueError(f"`output` must end in `.keras`. Received: output={output}")
    role = _distributed_role(verbose)
    settings = dict(
        corpus=str(corpus), tuner=tuner, epochs=epochs, seed=seed,
        sequence_length=sequence_length, batch_size=batch_size, search_space=space,
    )  # fmt: skip
    settings = json.loads(json.dumps(settings))
    if not overwrite:
        _check_resume(project / "settings.json", settings)

    text = load_corpus(corpus, verbose=bool(verbose))
    vectorizer = CharVectorizer()
    vectorizer.adapt(text)
    train_ds, val_ds = make_datasets(
        text, vectorizer, sequence_length, batch_size, 0.1, seed=seed
    )
    deadline = started + 60 * minutes if minutes else None
    tuner_ = _make_tuner(
        tuner, space, vectorizer, epochs, max_trials, seed, deadline,
        directory, project_name, overwrite=overwrite and role != "worker",
    )  # fmt: skip
    if role == "worker":  # the chief owns the project's files
        tuner_.search(train_ds, val_ds, verbose=verbose)
        return {"role": role, "wall_seconds": round(time.monotonic() - started, 1)}
    project = Path(tuner_.project_dir)  # created again after `overwrite`
    _write_json(project / "settings.json", settings)
    paths = {"csv": project / "results.csv", "plot": project / "results.png"}
    try:
        tuner_.search(train_ds, val_ds, verbose=verbose)
    except BaseException:  # Ctrl-C included: keep the results so far
        write_results(results_rows(tuner_.oracle), paths, space)
        raise
    rows = results_rows(tuner_.oracle)
    table = write_results(rows, paths, space)
    best = tuner_.oracle.get_best_trials(1)
    best = best[0] if best and best[0].status == "COMPLETED" else None
    if best is not None:
        checkpoint = Path(tuner_.get_trial_dir(best.trial_id)) / "model.keras"
        replace_atomically(output, lambda tmp: shutil.copyfile(checkpoint, tmp))
    best_row = next((r for r in rows if best and r["trial"] == best.trial_id), {})
    return {
        "role": role,
        "trials": rows,
        "table": table,
        "best_trial": best_row.get("trial"),
        "best_hyperparameters": {k: best_row[k] for k in SEARCH_SPACE if best_row},
        "best_val_perplexity": best_row.get("val_perplexity"),
        "best_val_bits_per_char": best_row.get("val_bits_per_char"),
        "model_path": str(output) if best else None,
        "csv_path": str(paths["csv"]),
        "plot_path": str(paths["plot"]),
        "wall_seconds": round(time.monotonic() - started, 1),
        "stopped_by_time_limit": tuner_.oracle.stopped_by_time_limit,
    }


def _check_settings(tuner, max_trials, epochs, minutes, search_space):
    if tuner not in TUNERS:
        raise ValueError(f"`tuner` must be one of {TUNERS}. Received: tuner={tuner!r}")
    for name, value in (("max_trials", max_trials), ("epochs", epochs)):
        if value is None and name == "max_trials":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{name}` must be a positive int. Received: {name}={value!r}"
            )
    if minutes is not None and not minutes > 0:
        raise ValueError(f"`minutes` must be positive. Received: minutes={minutes!r}")
    space = {**DEFAULT_SEARCH_SPACE, **(search_space or {})}
    unknown = sorted(set(space) - set(SEARCH_SPACE))
    empty = sorted(k for k, v in space.items() if isinstance(v, list | tuple) and not v)
    if unknown or empty:
        raise ValueError(
            f"`search_space` keys must be among {sorted(SEARCH_SPACE)} and lists "
            f"must not be empty. Received: search_space={search_space!r}"
        )
    return {k: list(v) if isinstance(v, list | tuple) else v for k, v in space.items()}


def _check_resume(settings_path, settings):
    if not settings_path.exists():
        return
    previous = json.loads(settings_path.read_text())
    changed = {
        k: (previous.get(k), settings[k])
        for k in (*_RESUME_SETTINGS, "search_space")
        if previous.get(k) != settings[k]
    }
    if changed:
        raise ValueError(
            f"The project {settings_path.parent} was started with other settings; "
            f"changed (was, now): {changed}. Pass `overwrite=True` (--overwrite) "
            "to start over, or use another project name."
        )


def _distributed_role(verbose):
    """`"standalone"`, `"chief"` or `"worker"`, as KerasTuner decides it."""
    env = os.environ
    if "KERASTUNER_TUNER_ID" in env and "KERASTUNER_ORACLE_PORT" in env:
        if "KERASTUNER_ORACLE_IP" not in env:
            env["KERASTUNER_ORACLE_IP"] = "127.0.0.1"
            if verbose:
                print("KERASTUNER_ORACLE_IP is not set: using 127.0.0.1.")
    if "KERASTUNER_ORACLE_IP" not in env:
        return "standalone"
    if "chief" not in env.get("KERASTUNER_TUNER_ID", ""):
        return "worker"
    address = env["KERASTUNER_ORACLE_IP"]
    if address not in ("127.0.0.1", "localhost", "::1"):
        warnings.warn(
            f"The oracle listens on {address}:{env.get('KERASTUNER_ORACLE_PORT')} "
            "without authentication: keep that port on a private network or "
            "behind a firewall / SSH tunnel (docs/tuning.md).",
            stacklevel=3,
        )
    return "chief"


def _write_json(path, data):
    replace_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(data)))


def _make_tuner(
    kind, space, vectorizer, epochs, max_trials, seed, deadline, directory,
    project_name, overwrite,
):  # fmt: skip
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    for name, value in space.items():
        if isinstance(value, list):
            default = SEARCH_SPACE[name][1]
            hp.Choice(name, value, default=default if default in value else value[0])
        else:
            hp.Fixed(name, value)
    common = dict(
        objective=keras_tuner.Objective(OBJECTIVE, direction="min"),
        hyperparameters=hp,
        seed=seed,
    )
    oracles = keras_tuner.oracles
    if kind == "hyperband":
        oracle = _budgeted(oracles.HyperbandOracle)(max_epochs=epochs, **common)
        oracle.max_trials = max_trials  # the base Oracle stops at this count
    else:
        base = {"bayesian": oracles.BayesianOptimizationOracle}.get(
            kind, oracles.RandomSearchOracle
        )
        oracle = _budgeted(base)(max_trials=max_trials or 10, **common)
    oracle.deadline = deadline
    return _tuner_class()(
        oracle=oracle,
        hypermodel=functools.partial(build_char_lstm, vectorizer=vectorizer),
        epochs=epochs,
        seed=seed,
        deadline=deadline,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
    )


@functools.cache
def _budgeted(oracle_class):
    """`oracle_class` that starts no trial after `deadline` and writes atomically."""
    import keras_tuner

    class Budgeted(oracle_class):
        deadline = None
        stopped_by_time_limit = False

        @keras_tuner.synchronized
        def create_trial(self, tuner_id):
            late = self.deadline is not None and time.monotonic() >= self.deadline
            if late and tuner_id not in self.ongoing_trials:
                self.stopped_by_time_limit = True
                self.tuner_ids.discard(tuner_id)  # lets a chief exit
                return keras_tuner.engine.trial.Trial(self.get_space(), status="STOPPED")
            return super().create_trial(tuner_id)

        def reload(self):
            super().reload()
            # Killed between two writes, an oracle lists a finished trial as
            # running; reloading would then run it again.
            finished = ("COMPLETED", "FAILED")
            self._retry_queue = [
                i for i in self._retry_queue if self.trials[i].status not in finished
            ]

        # KerasTuner writes its JSON files in place: a kill mid-write would
        # leave a truncated file that stops the project from reloading.
        def save(self):
            _write_json(Path(self._get_oracle_fname()), self.get_state())

        def _save_trial(self, trial):
            folder = Path(self._get_trial_dir(trial.trial_id))
            _write_json(folder / "trial.json", trial.get_state())

    Budgeted.__name__ = f"Budgeted{oracle_class.__name__}"
    return Budgeted


@functools.cache
def _tuner_class():
    import keras_tuner

    class ChargenTuner(keras_tuner.Tuner):
        """Trains one trial; handles Hyperband's `tuner/*` values itself."""

        def __init__(self, *, epochs, seed, deadline, **kwargs):
            super().__init__(**kwargs)
            self.epochs, self.seed, self.deadline = epochs, seed, deadline

        def run_trial(self, trial, train_ds, val_ds, verbose="auto"):
            started = time.monotonic()
            keras.backend.clear_session()  # free the last trial's models and graphs
            gc.collect()
            keras.utils.set_random_seed(self.seed)
            values = trial.hyperparameters.values
            if "tuner/trial_id" in values:  # a Hyperband round continues a trial
                model = keras.saving.load_model(self._model_path(values["tuner/trial_id"]))
            else:
                model = self.hypermodel.build(trial.hyperparameters)
            initial_epoch = values.get("tuner/initial_epoch", 0)
            clock = TimeLimit(max(self.deadline - started, 0) / 60) if self.deadline else None
            callbacks = [
                keras.callbacks.TerminateOnNaN(),
                keras.callbacks.EarlyStopping(OBJECTIVE, patience=2, mode="min"),
                AtomicCheckpoint(self._model_path(trial.trial_id), monitor=OBJECTIVE),
                *([clock] if clock else []),
            ]
            history = model.fit(
                train_ds, validation_data=val_ds, initial_epoch=initial_epoch,
                epochs=values.get("tuner/epochs", self.epochs), callbacks=callbacks,
                verbose=verbose,
            ).history  # fmt: skip
            scores = history.get(OBJECTIVE, [])
            finite = [(v, i) for i, v in enumerate(scores) if math.isfinite(v)]
            if not finite:
                raise keras_tuner.errors.FailedTrialError(
                    f"No finite {OBJECTIVE}: the model diverged. {OBJECTIVE}={scores}"
                )
            best, index = min(finite)
            return {
                OBJECTIVE: best,
                "val_bits_per_char": history["val_bits_per_char"][index],
                "epochs": initial_epoch + len(scores),
                "seconds": time.monotonic() - started,
                "time_limited": float(bool(clock and clock.stopped)),
            }

        def _model_path(self, trial_id):
            return Path(self.get_trial_dir(trial_id)) / "model.keras"

    return ChargenTuner
