"""`train`'s settings: checks, the files beside the output, resuming."""

import hashlib
import json
import math

from keras_chargen.models.build_char_lstm import SEARCH_SPACE

# Settings a resumed run must share with the run it continues.
RUN_SETTINGS = (
    "corpus", "seed", "sequence_length", "batch_size", "validation_split",
    "cell", "layer_norm", "clipnorm", "init_from", "weight_decay",
    "variational_dropout", *SEARCH_SPACE,
)  # fmt: skip
# The run settings that `train` passes on to `build_char_lstm`.
MODEL_SETTINGS = (*SEARCH_SPACE, "weight_decay", "variational_dropout")


def describe_corpus(corpus, text):
    """The run setting `corpus`: the source, or the text's length and hash."""
    if text is None:
        return "pydoc" if corpus is None else str(corpus)
    if corpus is not None:
        raise ValueError(
            "Pass either `corpus` (a corpus name, path or URL) or `text` (the "
            f"text itself), not both. Received: corpus={corpus!r} and a `text`"
        )
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str. Received type {type(text).__name__}")
    # 64 bits of the hash tell two texts apart and keep the plot title short.
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"<text: {len(text):,} characters, sha256 {digest[:16]}>"


def check_settings(
    output, epochs, minutes, validation_split, patience, hyperparameters
):
    for name, value in (("epochs", epochs), ("patience", patience)):
        if name == "epochs" and value is None:
            continue  # until the budget or early stopping (see `epoch_limit`)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{name}` must be a positive int. Received: {name}={value!r}"
            )
    if minutes is not None and not minutes > 0:
        raise ValueError(f"`minutes` must be positive. Received: minutes={minutes!r}")
    if not 0 < validation_split < 1:
        raise ValueError(
            "`validation_split` must be in (0, 1): the best model is chosen on "
            f"validation loss. Received: validation_split={validation_split!r}"
        )
    unknown = sorted(set(hyperparameters) - set(SEARCH_SPACE))
    if unknown:
        raise ValueError(
            f"Unknown argument(s) {unknown}. Hyperparameters: {sorted(SEARCH_SPACE)}"
        )
    if output.suffix != ".keras":
        raise ValueError(
            f"`output` must end in `.keras`. Received: output={str(output)!r}"
        )
    folder = output.parent
    if not folder.is_dir():
        raise OSError(f"Output folder {str(folder)!r} does not exist.")
    try:
        (folder / f".{output.name}.write-test").touch()
        (folder / f".{output.name}.write-test").unlink()
    except OSError as error:
        raise OSError(
            f"Output folder {str(folder)!r} is not writable: {error.strerror}"
        ) from None


# The corpus-size rule: below _LARGE_CORPUS characters, dropout grows by
# _DROPOUT_PER_HALVING each time the corpus halves, up to _MAX_DROPOUT. At
# 1 MB and more (tiny-shakespeare) it is SEARCH_SPACE's 0.1, the setting
# measured there; on a 150k-character slice the 2x256 model at 0.1 overfits
# within minutes (issue 13, docs/benchmarks.md has the runs).
_LARGE_CORPUS = 1_000_000
_DROPOUT_PER_HALVING = 0.1
_MAX_DROPOUT = 0.4
SIZE_RULE = (
    f"dropout = {SEARCH_SPACE['dropout'][1]:g} + {_DROPOUT_PER_HALVING:g} x "
    f"log2({_LARGE_CORPUS:,} / corpus characters), within "
    f"[{SEARCH_SPACE['dropout'][1]:g}, {_MAX_DROPOUT:g}]"
)


def corpus_size_defaults(num_characters):
    """The hyperparameter defaults `train` takes from the corpus' length.

    See `SIZE_RULE`: small corpora get stronger dropout, so that the
    default model does not overfit them within minutes. Explicit settings
    always win over these.

    Args:
        num_characters: int, the length of the whole corpus (training and
            validation text).

    Returns:
        A dict of `build_char_lstm` hyperparameters, e.g. `{"dropout": 0.37}`.
    """
    base = SEARCH_SPACE["dropout"][1]
    halvings = math.log2(_LARGE_CORPUS / max(num_characters, 1))
    dropout = min(_MAX_DROPOUT, max(base, base + _DROPOUT_PER_HALVING * halvings))
    return {"dropout": round(dropout, 2)}


def epoch_limit(epochs, minutes):
    """The epoch count `model.fit` gets, and whether the user set it.

    With a `minutes` budget and no `epochs`, the run lasts for the budget
    (or until early stopping): the epoch count is then only a bound that
    no run reaches. Without a budget, `DEFAULT_EPOCHS` applies.
    """
    if epochs is not None:
        return epochs
    return UNTIL_STOPPED if minutes else DEFAULT_EPOCHS


# `epochs=None`: without `minutes`, this many epochs; with `minutes`, a bound
# far beyond any budget (a 2x256 epoch of 1 MB takes ~20 s on 2 cores, so a
# million epochs would take half a year), so the budget or early stopping ends
# the run.
DEFAULT_EPOCHS = 20
UNTIL_STOPPED = 1_000_000


def paths_beside(output):
    stem = output.with_suffix("")
    return {
        "log": stem.with_name(stem.name + ".csv"),
        "plot": stem.with_name(stem.name + ".png"),
        "backup": stem.with_name(stem.name + ".backup"),
    }


def resolve_resume(paths, settings, resume):
    saved = paths["backup"] / "settings.json"
    if not resume:
        if saved.exists():
            raise ValueError(
                f"An interrupted run left a backup in {paths['backup']}: pass "
                "`resume=True` (--resume) to continue it, or delete that folder."
            )
        return settings
    if not saved.exists():
        raise ValueError(
            f"Nothing to resume: no backup found at {paths['backup']}. "
            "Run without `resume` to start a new run."
        )
    previous = json.loads(saved.read_text())
    changed = {
        k: (previous.get(k), settings.get(k))
        for k in RUN_SETTINGS
        if k in settings and previous.get(k) != settings.get(k)
    }
    if changed:
        raise ValueError(
            "A resumed run must keep the settings of the run it continues. "
            f"Changed (was, now): {changed}"
        )
    return previous
