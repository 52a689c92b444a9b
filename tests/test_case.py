"""Shared test helpers: one per contract, reused by every component's tests.

In the manner of KerasHub's `keras_hub/src/tests/test_case.py`, as plain
functions for pytest:

- `run_serialization_test(instance)`: the config round trip, without a file;
- `run_saving_test(instance, input_data, tmp_path)`: a real `.keras` file,
  loaded with `safe_mode=True`, gives back the same outputs.

Test files import them with `from test_case import ...`: pytest puts tests/
on `sys.path`, as it does for `from conftest import ...`. This file is not a
test module itself (pytest collects only `*_test.py`).
"""

import json

import keras
import numpy as np
import tensorflow as tf

# The name of the file `run_saving_test` writes in `tmp_path`.
FILE_NAME = "model.keras"


def run_serialization_test(instance):
    """Checks the config contract of a registered keras_chargen object.

    - `get_config()` is plain JSON (no NaN, no Python objects) and reads back
      unchanged from its JSON text;
    - `type(instance).from_config()` of that JSON gives the same class with
      the same config;
    - `keras.saving.serialize_keras_object()` names the class by its
      registered name, `keras_chargen>ClassName`, and
      `keras.saving.deserialize_keras_object()` of its JSON gives the same
      class with the same config.

    Args:
        instance: a layer, model, metric or sampler.

    Returns:
        The object revived by `deserialize_keras_object`, for further checks.
    """
    cls = type(instance)
    config = instance.get_config()
    assert json.loads(_to_json(config)) == config, "config changes through JSON"
    assert_same_config(instance, cls.from_config(json.loads(_to_json(config))))

    serialized = keras.saving.serialize_keras_object(instance)
    assert serialized["registered_name"] == f"keras_chargen>{cls.__name__}"
    revived = keras.saving.deserialize_keras_object(json.loads(_to_json(serialized)))
    assert_same_config(instance, revived)
    return revived


def run_saving_test(instance, input_data, tmp_path, atol=1e-6, rtol=1e-6):
    """Saves `instance` in a `.keras` file, loads it and compares outputs.

    The file is `tmp_path / FILE_NAME`, loaded with
    `keras.saving.load_model(path, safe_mode=True)`. What is saved, and what
    "outputs" means, follows how Keras carries each kind of object:

    - a `keras.Model` is saved itself; its outputs are `model(input_data)`
      and its weights must come back equal too;
    - a `keras.metrics.Metric` is compiled into a pass-through model, as
      `model.compile(metrics=[...])` carries it; `input_data` is
      `(y_true, y_pred)` in the layout of a sparse categorical loss, and the
      outputs are the metric values `evaluate()` returns, which must also
      equal `update_state(y_true, y_pred)` on the instance itself;
    - anything else (a layer, a sampler) travels in the config of a small
      model, as `CharLM` carries its `CharVectorizer`; its outputs are
      `instance(input_data)`. Pass a fresh instance when calling it moves
      its state on (a seeded sampler).

    In every case the loaded object must have the same class and config.

    Args:
        instance: the object to save.
        input_data: the inputs the outputs are computed on.
        tmp_path: an empty folder (pytest's `tmp_path`).
        atol: absolute tolerance for float outputs. Defaults to `1e-6`.
        rtol: relative tolerance for float outputs. Defaults to `1e-6`.

    Returns:
        The loaded copy of `instance`.
    """
    path = tmp_path / FILE_NAME
    if isinstance(instance, keras.Model):
        return _run_model_saving_test(instance, input_data, path, atol, rtol)
    if isinstance(instance, keras.metrics.Metric):
        return _run_metric_saving_test(instance, input_data, path, atol, rtol)
    expected = instance(input_data)
    Holder(instance).save(path)
    holder = keras.saving.load_model(path, safe_mode=True)
    assert type(holder) is Holder
    assert_same_config(instance, holder.held)
    assert_same_outputs(expected, holder.held(input_data), atol=atol, rtol=rtol)
    return holder.held


def assert_same_config(expected, actual):
    """Asserts `actual` is of `expected`'s class with the same JSON config."""
    assert type(actual) is type(expected)
    assert json.loads(_to_json(actual.get_config())) == json.loads(
        _to_json(expected.get_config())
    )


def assert_same_outputs(expected, actual, atol=1e-6, rtol=1e-6):
    """Asserts two outputs are equal: same structure, shapes and dtypes.

    Tensors of any backend, `tf.RaggedTensor`s, dicts, lists and plain
    values are accepted. Float arrays are compared within `atol`/`rtol`;
    everything else exactly.
    """
    _assert_equal(_comparable(expected), _comparable(actual), atol, rtol)


@keras.saving.register_keras_serializable(package="keras_chargen_tests")
class Holder(keras.Model):
    """A model whose config carries one serializable object, as `CharLM` does.

    Args:
        held: the object, or its `serialize_keras_object` dict.
    """

    def __init__(self, held, **kwargs):
        if isinstance(held, dict):
            held = keras.saving.deserialize_keras_object(held)
        super().__init__(**kwargs)
        self.held = held
        # The holder has no weights of its own: there is nothing to build.
        self.built = True

    def call(self, inputs):
        return inputs

    def get_config(self):
        config = super().get_config()
        config["held"] = keras.saving.serialize_keras_object(self.held)
        return config


def _run_model_saving_test(model, input_data, path, atol, rtol):
    expected = model(input_data)
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert_same_config(model, loaded)
    assert_same_outputs(model.get_weights(), loaded.get_weights(), atol=0, rtol=0)
    assert_same_outputs(expected, loaded(input_data), atol=atol, rtol=rtol)
    return loaded


def _run_metric_saving_test(metric, input_data, path, atol, rtol):
    y_true, y_pred = (np.asarray(x) for x in input_data)
    inputs = keras.Input(shape=y_pred.shape[1:])
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    # JAX and torch need a loss to evaluate; its value is not compared.
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[metric],
    )
    before = _evaluate(model, y_true, y_pred)
    metric.reset_state()
    metric.update_state(y_true, y_pred)
    direct = {metric.name: keras.ops.convert_to_numpy(metric.result())}
    assert_same_outputs(direct, {metric.name: before[metric.name]}, atol, rtol)

    model.save(path)
    loaded_model = keras.saving.load_model(path, safe_mode=True)
    after = _evaluate(loaded_model, y_true, y_pred)
    assert_same_outputs(before, after, atol=atol, rtol=rtol)
    loaded = _find_metric(loaded_model, metric.name)
    assert_same_config(metric, loaded)
    return loaded


def _evaluate(model, y_true, y_pred):
    logs = model.evaluate(
        y_pred, y_true, batch_size=len(y_pred), verbose=0, return_dict=True
    )
    return {name: np.float32(value) for name, value in logs.items()}


def _find_metric(model, name):
    # `model.metrics` lists the compiled metrics inside one container metric.
    pending = list(model.metrics)
    while pending:
        metric = pending.pop(0)
        if metric.name == name:
            return metric
        pending.extend(getattr(metric, "metrics", []))
    raise AssertionError(f"The loaded model has no metric named {name!r}.")


def _to_json(config):
    return json.dumps(config, sort_keys=True, allow_nan=False)


def _comparable(value):
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_comparable(item) for item in value]
    if value is None or isinstance(value, str | bytes | bool | int | float):
        return value
    if isinstance(value, tf.RaggedTensor):
        return value.to_list()
    return keras.ops.convert_to_numpy(value)


def _assert_equal(expected, actual, atol, rtol):
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(actual) == sorted(expected)
        for key in expected:
            _assert_equal(expected[key], actual[key], atol, rtol)
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected)
        for expected_item, actual_item in zip(expected, actual, strict=True):
            _assert_equal(expected_item, actual_item, atol, rtol)
    elif isinstance(expected, np.ndarray | np.generic):
        assert isinstance(actual, np.ndarray | np.generic)
        assert (actual.shape, actual.dtype) == (expected.shape, expected.dtype)
        if np.issubdtype(expected.dtype, np.floating):
            np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol)
        else:
            np.testing.assert_array_equal(actual, expected)
    else:
        assert actual == expected
