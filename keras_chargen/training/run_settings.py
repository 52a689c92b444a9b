"""`train`'s settings: checks, the files beside the output, resuming."""

import hashlib
import json

from keras_chargen.models.build_char_lstm import SEARCH_SPACE

# Settings a resumed run must share with the run it continues.
RUN_SETTINGS = (
    "corpus", "seed", "sequence_length", "batch_size", "validation_split",
    "cell", "layer_norm", "clipnorm", *SEARCH_SPACE,
)  # fmt: skip


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
