"""`search`: a resumable KerasTuner search over `build_char_lstm`."""

import json
import os
import shutil
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

from keras_chargen.data.corpus import load_corpus
from keras_chargen.data.datasets import make_datasets
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.build_char_lstm import SEARCH_SPACE
from keras_chargen.models.saving import remove_temporary_files, replace_atomically
from keras_chargen.training.run_lock import RunLock
from keras_chargen.tuning.compat import write_json
from keras_chargen.tuning.results import results_rows, write_results
from keras_chargen.tuning.tuner import make_tuner

# Sized for a CPU: the default search (Hyperband, epochs=3) takes 6-7 minutes
# on 2 cores (docs/tuning.md). `build_char_lstm`'s own ranges (up to
# 3x1024 units) are for GPUs.
DEFAULT_SEARCH_SPACE = {
    "lstm_units": [64, 128, 256],
    "embedding_dim": [16, 32, 64],
    "num_layers": [1, 2],
    "dropout": [0.0, 0.1, 0.2, 0.3],
    "learning_rate": [0.001, 0.003, 0.01],
}
TUNERS = ("hyperband", "bayesian", "random")
# Settings a resumed search must share with the search it continues.
_RESUME_SETTINGS = ("corpus", "tuner", "epochs", "sequence_length", "batch_size")
# The files of a project (and of its `trial_*` folders) written atomically.
_PROJECT_FILES = (
    "oracle.json", "settings.json", "results.csv", "results.png", "trial.json",
    "model.keras",
)  # fmt: skip
# KerasTuner's distributed set-up, read (never written) from the environment.
_DISTRIBUTED = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


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
    out). The first trial is the default configuration (`build_char_lstm`'s
    defaults, where the space holds them): the baseline to beat. Each trial
    starts from `keras.backend.clear_session()` and keeps its best epoch as
    `trial_<id>/model.keras`; a trial that raises (a bad configuration, a
    diverged model) is recorded as `FAILED` and the search goes on. Writes,
    in `<directory>/<project_name>/`:

    - `results.csv` (every trial) and `results.png` (val bits/char per trial
      and per hyperparameter), both replaced atomically;
    - `best.keras` (or `output`): the best trial's model, ready for
      `keras-chargen generate`.

    Running again without `overwrite` continues the project: finished
    trials are not re-run (KerasTuner's own reload), also after a kill.
    While a search runs it holds `<directory>/<project_name>.lock`
    (`keras_chargen.training.run_lock.RunLock`): a second search on the same
    project refuses to start; a killed one releases it. With
    `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`
    set, this process is the chief or a worker of a distributed search. They
    are only read, never set: give all three, with
    `KERASTUNER_ORACLE_IP=127.0.0.1` to keep the oracle's gRPC port, which has
    no authentication, on loopback.

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
        ValueError: on a bad setting, when resuming with changed settings,
            or when a distributed set-up misses one of the three variables.
        keras_chargen.CorpusError: if the corpus cannot be read.
        OSError: as a `RunLockedError`, when another live search runs this
            project; or when the project folder is not writable.
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
    role = _distributed_role(os.environ)
    settings = dict(
        corpus=str(corpus), tuner=tuner, epochs=epochs, seed=seed,
        sequence_length=sequence_length, batch_size=batch_size, search_space=space,
    )  # fmt: skip
    settings = json.loads(json.dumps(settings))
    if role != "worker":  # the chief owns the project's files
        Path(directory).mkdir(parents=True, exist_ok=True)
    # One search per project: a second one on it refuses (RunLockedError).
    lock = RunLock(project, what="search") if role != "worker" else nullcontext()
    with lock:
        if not overwrite:
            _check_resume(project / "settings.json", settings)
        _remove_temporary_files(project, output)

        text = load_corpus(corpus, verbose=bool(verbose))
        vectorizer = CharVectorizer()
        vectorizer.adapt(text)
        train_ds, val_ds = make_datasets(
            text, vectorizer, sequence_length, batch_size, 0.1, seed=seed
        )
        deadline = started + 60 * minutes if minutes else None
        tuner_ = make_tuner(
            tuner, space, vectorizer, epochs, max_trials, seed, deadline,
            directory, project_name, overwrite=overwrite and role != "worker",
        )  # fmt: skip
        if role == "worker":  # the chief owns the project's files
            tuner_.search(train_ds, val_ds, verbose=verbose)
            return {"role": role, "wall_seconds": round(time.monotonic() - started, 1)}
        project = Path(tuner_.project_dir)  # created again after `overwrite`
        write_json(project / "settings.json", settings)
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


def _remove_temporary_files(project, output):
    """What the atomic writes of killed searches left (we hold the lock)."""
    remove_temporary_files(output)
    for folder in (project, *project.glob("trial_*")):
        for name in _PROJECT_FILES:
            remove_temporary_files(folder / name)


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


def _distributed_role(env):
    """`"standalone"`, `"chief"` or `"worker"`, from KerasTuner's variables in `env`.

    Only reads `env`: KerasTuner itself reads the same variables from
    `os.environ` wherever it needs them.
    """
    # KerasTuner goes distributed on KERASTUNER_ORACLE_IP alone: processes
    # given a tuner id and a port but no address would each run a search of
    # their own in one folder, so that is refused too.
    if "KERASTUNER_ORACLE_IP" not in env and not (
        "KERASTUNER_TUNER_ID" in env and "KERASTUNER_ORACLE_PORT" in env
    ):
        return "standalone"
    missing = [name for name in _DISTRIBUTED if name not in env]
    if missing:
        raise ValueError(
            "A distributed search needs KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP "
            "and KERASTUNER_ORACLE_PORT (KERASTUNER_ORACLE_IP=127.0.0.1 keeps the "
            f"oracle's port on loopback). Missing: {', '.join(missing)}"
        )
    if "chief" not in env["KERASTUNER_TUNER_ID"]:
        return "worker"
    address = env["KERASTUNER_ORACLE_IP"]
    if address not in ("127.0.0.1", "localhost", "::1"):
        warnings.warn(
            f"The oracle listens on {address}:{env['KERASTUNER_ORACLE_PORT']} "
            "without authentication: keep that port on a private network or "
            "behind a firewall / SSH tunnel (docs/tuning.md).",
            stacklevel=3,
        )
    return "chief"
