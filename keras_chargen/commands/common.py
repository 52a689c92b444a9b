"""Argument types, model loading and errors shared by the subcommands."""

import argparse
import inspect
import math
import zipfile
from pathlib import Path


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def library_default(function, name):
    """The default of `function`'s argument `name`.

    CLI options that stand for a library argument take their default from
    it, so each default is stated once, in the library.
    """
    return inspect.signature(function).parameters[name].default


def _int_at_least(minimum, description):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value

    return parse


positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "an integer >= 0")


def _float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text):
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def non_negative_float(text):
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text):
    """A number in [0, 1)."""
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def probability(text):
    """A number in (0, 1]."""
    value = _float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def check_output_folder(path, option):
    """Fails before any work when `path`'s folder does not exist."""
    if path and not Path(path).resolve().parent.is_dir():
        raise CliError(f"folder of {option} {path!r} does not exist")


def load_char_model(path):
    """Loads a keras_chargen `.keras` file, or raises `CliError` saying why."""
    import keras

    from keras_chargen.models.char_lm import CharLM

    path = Path(path)
    if not path.is_file():
        raise CliError(f"model file {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise CliError(f"{str(path)!r} is not a .keras model file (not a zip archive)")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for broken files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CliError(
            f"cannot load {str(path)!r}: {type(error).__name__}: {first_line[:200]}"
        ) from None
    if not isinstance(model, CharLM) or model.vectorizer is None:
        raise CliError(
            f"{str(path)!r} is a Keras model of type {type(model).__name__} but not a "
            "keras_chargen model with a vocabulary (train one with `keras-chargen train`)"
        )
    return model
