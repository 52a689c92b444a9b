"""The KerasTuner side of `keras_chargen.search`: an oracle and a tuner.

`keras_tuner` is imported inside the functions, so `import keras_chargen`
never imports it.
"""

import functools
import gc
import math
import time
from pathlib import Path

import keras

from keras_chargen.models.build_char_lstm import SEARCH_SPACE, build_char_lstm
from keras_chargen.models.loading import load_model
from keras_chargen.training.callbacks import AtomicCheckpoint, TimeLimit
from keras_chargen.tuning import compat

OBJECTIVE = "val_perplexity"


def make_tuner(
    kind, space, vectorizer, epochs, max_trials, seed, deadline, directory,
    project_name, overwrite,
):  # fmt: skip
    import keras_tuner

    compat.check_version()
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
        oracle = _oracle_class(oracles.HyperbandOracle)(max_epochs=epochs, **common)
        oracle.max_trials = max_trials  # the base Oracle stops at this count
    else:
        base = {"bayesian": oracles.BayesianOptimizationOracle}.get(
            kind, oracles.RandomSearchOracle
        )
        oracle = _oracle_class(base)(max_trials=max_trials or 10, **common)
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
def _oracle_class(base):
    """`base`, plus `compat.OracleInternals` and no new trial after `deadline`."""
    import keras_tuner

    class Oracle(compat.OracleInternals, base):
        deadline = None
        stopped_by_time_limit = False

        def populate_space(self, trial_id):
            # KerasTuner's public way for an oracle to end a search: a
            # "STOPPED" status. `create_trial` then returns a stopped trial
            # and forgets the tuner, so a standalone search, each worker
            # and then the chief of a distributed one all end normally.
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.stopped_by_time_limit = True
                return {"status": keras_tuner.engine.trial.TrialStatus.STOPPED}
            return super().populate_space(trial_id)

    Oracle.__name__ = f"Chargen{base.__name__}"
    return Oracle


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
                # Checked, and safe_mode=True: the project folder may have
                # been copied from elsewhere.
                model = load_model(self._model_path(values["tuner/trial_id"]))
            else:
                model = self.hypermodel.build(trial.hyperparameters)
            initial_epoch = values.get("tuner/initial_epoch", 0)
            clock = (
                TimeLimit(max(self.deadline - started, 0) / 60)
                if self.deadline
                else None
            )
            callbacks = [
                keras.callbacks.TerminateOnNaN(),
                keras.callbacks.EarlyStopping(OBJECTIVE, patience=2, mode="min"),
                AtomicCheckpoint(self._model_path(trial.trial_id), monitor=OBJECTIVE),
                *([clock] if clock else []),
            ]
            history = model.fit(
                train_ds, validation_data=val_ds, initial_epoch=initial_epoch,
                epochs=values.get("tuner/epochs", self.epochs), callbacks=callbacks,
                verbose=verbose, shuffle=False,  # the dataset shuffles itself
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
