"""The KerasTuner internals `keras_chargen.tuning.compat` relies on still exist."""

import inspect
import warnings

import keras_tuner
import pytest

from keras_chargen.tuning import compat

OBJECTIVE = keras_tuner.Objective("val_perplexity", direction="min")
ORACLES = {
    "random": lambda: keras_tuner.oracles.RandomSearchOracle(OBJECTIVE, max_trials=2),
    "bayesian": lambda: keras_tuner.oracles.BayesianOptimizationOracle(
        OBJECTIVE, max_trials=2
    ),
    "hyperband": lambda: keras_tuner.oracles.HyperbandOracle(OBJECTIVE, max_epochs=2),
}


def arguments(function):
    return tuple(inspect.signature(function).parameters)[1:]  # without `self`


def test_the_installed_keras_tuner_is_a_tested_version():
    assert compat.unsupported_version_message(keras_tuner.__version__) is None
    compat.check_version.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compat.check_version()


@pytest.mark.parametrize("version", ["1.4.0", "1.4.8", "1.4.9rc0"])
def test_tested_versions_pass(version):
    assert compat.unsupported_version_message(version) is None


@pytest.mark.parametrize("version", ["1.3.5", "1.5.0", "2.0.0rc1"])
def test_untested_versions_get_a_clear_message(version):
    message = compat.unsupported_version_message(version)
    assert "tested with KerasTuner 1.4.x" in message
    assert f"KerasTuner {version} is installed" in message


@pytest.mark.parametrize("kind", ORACLES)
@pytest.mark.parametrize("name", compat.ORACLE_METHODS)
def test_private_oracle_methods_still_exist(kind, name):
    oracle = ORACLES[kind]()
    assert callable(getattr(oracle, name, None)), name
    assert arguments(getattr(type(oracle), name)) == compat.ORACLE_METHODS[name]


@pytest.mark.parametrize("kind", ORACLES)
def test_oracle_attributes_still_exist(kind):
    oracle = ORACLES[kind]()
    found = {
        name: type(getattr(oracle, name, None)) for name in compat.ORACLE_ATTRIBUTES
    }
    assert found == {"_retry_queue": list, "start_order": list, "trials": dict}


def test_every_private_override_is_listed():
    overridden = {
        name
        for name in vars(compat.OracleInternals)
        if name.startswith("_") and not name.startswith("__")
    }
    assert overridden <= set(compat.ORACLE_METHODS)
    for name in ("reload", "save", "get_state"):  # public, overridden or called
        assert arguments(getattr(keras_tuner.Oracle, name)) == ()


def test_the_public_stop_signal_still_exists():
    # tuner.py ends a search on its time budget with a "STOPPED" status from
    # `populate_space`, which `Oracle.create_trial` handles.
    assert keras_tuner.engine.trial.TrialStatus.STOPPED == "STOPPED"
    assert arguments(keras_tuner.Oracle.populate_space) == ("trial_id",)
