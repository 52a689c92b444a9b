"""Argument types, model loading and errors shared by the subcommands."""

import argparse
import inspect
import math
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


def number(text):
    """A finite float."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text):
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def non_negative_float(text):
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text):
    """A number in [0, 1)."""
    value = number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def probability(text):
    """A number in (0, 1]."""
    value = number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def check_output_folder(path, option):
    """Fails before any work when `path`'s folder does not exist."""
    if path and not Path(path).resolve().parent.is_dir():
        raise CliError(f"folder of {option} {path!r} does not exist")


def load_char_model(path):
    """Loads a keras_chargen `.keras` file, or raises `CliError` saying why.

    Through `keras_chargen.models.loading.load_model`: the file is checked
    (archive entries, declared sizes against the weights stored) before
    anything is built, then loaded with `safe_mode=True`.
    """
    from keras_chargen.models.loading import ModelFileError, load_model

    try:
        model = load_model(path)
    except ModelFileError as error:
        raise CliError(str(error)) from None
    if model.vectorizer is None:
        raise CliError(
            f"{str(path)!r} is a keras_chargen model without a vocabulary: it "
            "cannot read or write text (train one with `keras-chargen train`)"
        )
    return model


def add_model_argument(parser):
    """Adds the model to read: a `.keras` file (positional) or `--preset NAME`.

    Every subcommand that reads a model takes it this way; `load_model_argument`
    resolves what was given.
    """
    from keras_chargen.models.presets import list_presets

    parser.add_argument(
        "model",
        nargs="?",
        help="a .keras file written by `keras-chargen train` (or --preset)",
    )
    parser.add_argument(
        "--preset",
        metavar="NAME",
        help="a model shipped with keras_chargen instead of a file: "
        + ", ".join(list_presets()),
    )


def load_model_argument(args):
    """The model `add_model_argument` asked for, or `CliError` saying why not.

    With `--preset`, `args.model` is set to `"preset NAME"`, so that messages
    naming the model read the same for files and presets.
    """
    from keras_chargen.models.presets import list_presets, load_preset

    if (args.model is None) == (args.preset is None):
        given = "both" if args.model is not None else "neither"
        raise CliError(
            "give a model file or --preset NAME (one of: "
            f"{', '.join(list_presets())}), not {given}"
        )
    if args.model is not None:
        return load_char_model(args.model)
    try:
        model = load_preset(args.preset)
    except ValueError as error:
        raise CliError(str(error)) from None
    args.model = f"preset {args.preset}"
    return model
