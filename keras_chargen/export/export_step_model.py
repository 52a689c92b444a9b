"""`export_step_model`: a step model for runtimes without Keras."""

import errno
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import keras

from keras_chargen.export.step_model import LOGITS, TOKEN_IDS, StepModel, state_names
from keras_chargen.layers.char_table import OOV_CHARACTER
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS, OOV_ID, PADDING_ID
from keras_chargen.models.state_adapter import as_stateful

# What `step_model.json` is called in every exported folder.
MANIFEST = "step_model.json"
# Keras' format name -> the model file inside the exported folder.
MODEL_FILES = {
    "tf_saved_model": "saved_model",
    "onnx": "model.onnx",
    "litert": "model.tflite",
}
# The Python modules each format's conversion imports, beyond TensorFlow.
_REQUIRED_MODULES = {"tf_saved_model": (), "onnx": ("tf2onnx", "onnx"), "litert": ()}


def export_step_model(
    model,
    path,
    format="tf_saved_model",
    batch_size=None,
    vectorizer=None,
    overwrite=False,
):
    """Exports the one-step model with explicit state inputs and outputs.

    The exported function is `(token_ids, *states) -> (logits, *new_states)`:
    int32 ids `(batch, time)` and the recurrent states in, float32 logits
    `(batch, time, vocabulary_size)` and the states after the last id out.
    Id 0 is padding and leaves a row's states unchanged. The first call of a
    text takes the whole prompt with zero states; each later call one id
    with the states the previous call returned (the driver loop in
    `keras_chargen/export/driver.py` and docs/deploy.md).

    `path` becomes a folder holding the model file (`saved_model/`,
    `model.onnx` or `model.tflite`) and `step_model.json`: the vectorizer's
    config (the vocabulary as a JSON list, lossless as in the `.keras`
    file), the reserved ids, the model's settings and the names, shapes and
    dtypes of the inputs and outputs. Inputs are named `token_ids` and
    `state_{layer}_{k}` (`k` 0 is `h`, 1 is an LSTM's `c`), outputs `logits`
    and `new_state_{layer}_{k}`.

    Conversion runs through Keras' own `Model.export`. The folder is written
    beside `path` under a temporary name and renamed when complete: a
    failure (a full disk included) leaves no partial folder and any existing
    `path` as it was.

    **Note:** export runs on the TensorFlow backend only (SavedModel, tf2onnx
    and the LiteRT converter all read TensorFlow graphs); a `.keras` file
    trained on JAX or torch loads there unchanged. ONNX needs `tf2onnx` and
    `onnx` (`pip install "keras-chargen[export]"`). LiteRT needs static
    shapes for its tensor lists: its batch size is fixed (`batch_size`,
    1 by default); the time axis stays dynamic.

    Args:
        model: a `keras_chargen.CharLM`, or another model with the
            recurrent-state protocol (or that `TextGenerator` adapts).
        path: the folder to create.
        format: `"tf_saved_model"`, `"onnx"` or `"litert"`, as Keras'
            `Model.export` names them. Defaults to `"tf_saved_model"`.
        batch_size: Optional int >= 1: a fixed batch size. Defaults to
            `None`: any batch size (SavedModel, ONNX), 1 for LiteRT.
        vectorizer: the model's `keras_chargen.CharVectorizer`. Defaults to
            `model.vectorizer`.
        overwrite: bool, replace an existing `path`. Defaults to `False`.

    Returns:
        The `pathlib.Path` of the folder written.

    Raises:
        ValueError: an unknown `format`, a backend other than TensorFlow, a
            model without a vectorizer or of an unsupported architecture,
            a bad `batch_size`.
        ImportError: a package the format needs is not installed.
        FileExistsError: `path` exists and `overwrite` is `False`.
        OSError: the folder cannot be written (missing parent, no
            permission, no space left on the device).

    Example:

    ```python
    model = keras_chargen.models.loading.load_model("run.keras")
    keras_chargen.export_step_model(model, "run_onnx", format="onnx")
    ```
    """
    if format not in MODEL_FILES:
        raise ValueError(
            f"`format` must be one of {list(MODEL_FILES)}. Received: format={format!r}"
        )
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "`export_step_model` runs on the TensorFlow backend only (SavedModel, "
            "tf2onnx and the LiteRT converter read TensorFlow graphs): set "
            "KERAS_BACKEND=tensorflow; a .keras file from any backend loads "
            f"there. Received: backend {keras.backend.backend()!r}"
        )
    vectorizer = _check_model(model, vectorizer)
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            "`batch_size` must be None or an int >= 1. "
            f"Received: batch_size={batch_size!r}"
        )
    if batch_size is None and format == "litert":
        batch_size = 1
    require_modules(format)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{str(path)!r} exists: choose another path or pass overwrite=True"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist"
        )

    step_model = StepModel(model)
    signature = _signature(model, batch_size)
    step_model(_zeros(signature))  # Keras exports built models only
    manifest = _manifest(model, vectorizer, format, signature)

    def write(folder):
        _convert(step_model, folder / MODEL_FILES[format], format, signature)
        text = json.dumps(manifest, indent=1, ensure_ascii=True)
        (folder / MANIFEST).write_text(text + "\n", encoding="ascii")

    return _write_folder(path, write)


def require_modules(format):
    """Raises `ImportError` naming the pip extra if `format` lacks a package."""
    missing = []
    for name in _REQUIRED_MODULES[format]:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(
            f"Exporting to {format} needs {', '.join(missing)}: "
            'pip install "keras-chargen[export]"'
        )


def _check_model(model, vectorizer):
    from keras_chargen.layers.char_vectorizer import CharVectorizer

    if not isinstance(model, keras.Model):
        raise ValueError(
            "`model` must be a keras_chargen.CharLM or another Keras model with "
            f"the recurrent-state protocol. Received: {type(model).__name__}"
        )
    vectorizer = vectorizer or getattr(model, "vectorizer", None)
    if not isinstance(vectorizer, CharVectorizer):
        raise ValueError(
            "The exported vocabulary comes from the model's CharVectorizer: pass "
            "`vectorizer=` or export a keras_chargen.CharLM, which keeps it. "
            f"Received a model of type {type(model).__name__} without one."
        )
    ids = as_stateful(model).vocabulary_size  # raises for other architectures
    if vectorizer.vocabulary_size() != ids:
        raise ValueError(
            f"The vectorizer has {vectorizer.vocabulary_size()} ids but the model's "
            f"Embedding has {ids}: pass the vectorizer the model was trained with."
        )
    return vectorizer


def _signature(model, batch_size):
    import tensorflow as tf

    states = [s for layer in as_stateful(model).initial_state(1) for s in layer]
    specs = [tf.TensorSpec((batch_size, None), tf.int32, name=TOKEN_IDS)]
    specs += [
        tf.TensorSpec((batch_size, state.shape[-1]), tf.float32, name=name)
        for name, state in zip(state_names(model), states, strict=True)
    ]
    return [specs]  # one argument: the list


def _zeros(signature):
    import numpy as np

    batch = signature[0][0].shape[0] or 1
    return [
        np.zeros((batch, spec.shape[1] or 1), spec.dtype.as_numpy_dtype)
        for spec in signature[0]
    ]


def _manifest(model, vectorizer, format, signature):
    from keras_chargen import __version__

    vocabulary_size = vectorizer.vocabulary_size()
    inputs = [
        {"name": s.name, "shape": s.shape.as_list(), "dtype": s.dtype.name}
        for s in signature[0]
    ]
    batch = inputs[0]["shape"][0]
    outputs = [
        {"name": LOGITS, "shape": [batch, None, vocabulary_size], "dtype": "float32"}
    ] + [dict(spec, name=f"new_{spec['name']}") for spec in inputs[1:]]
    settings = {}
    if callable(getattr(model, "get_config", None)) and "cell" in model.get_config():
        settings = {k: v for k, v in model.get_config().items() if k != "vectorizer"}
    return {
        "format": format,
        "model_file": MODEL_FILES[format],
        "keras_chargen_version": __version__,
        "inputs": inputs,
        "outputs": outputs,
        "vectorizer": vectorizer.get_config(),
        "padding_id": PADDING_ID,
        "oov_id": OOV_ID,
        "num_reserved_ids": NUM_RESERVED_IDS,
        "oov_character": OOV_CHARACTER,
        "vocabulary_size": vocabulary_size,
        "settings": settings,
    }


def _convert(step_model, target, format, signature):
    """Keras' `Model.export`, quietly: its own prints and warnings are noise here."""
    kwargs = {}
    if format == "litert":
        import tensorflow as tf

        # Builtin ops only: no TensorFlow (Flex) delegate on the device.
        kwargs["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    with warnings.catch_warnings():
        # Keras' tf2onnx shim sets `np.object`, which NumPy 2 warns about.
        warnings.filterwarnings("ignore", message=".*np.object.*")
        step_model.export(
            str(target),
            format=format,
            input_signature=signature,
            verbose=False,
            **kwargs,
        )


def _write_folder(path, write):
    """Runs `write(folder)` on a temporary folder beside `path`, then renames it."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    old = None
    try:
        try:
            write(tmp)
        except Exception as error:
            # TensorFlow's own file writes fail with its error types.
            if not isinstance(error, OSError) and "No space left" in str(error):
                raise OSError(
                    errno.ENOSPC, f"No space left on device writing {str(path)!r}"
                ) from error
            raise
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates 0700 folders
        if path.exists():  # overwrite: the old folder goes only once the new is in
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / path.name).exists() and not path.exists():
            os.replace(old / path.name, path)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return path
