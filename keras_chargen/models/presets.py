"""Presets: trained models shipped inside the package, loaded by name.

Each preset is one `.keras` file in `keras_chargen/presets/`, loaded through
`keras_chargen.models.loading.load_model` (checked, `safe_mode=True`) after
its sha256 is compared with the one recorded here. Nothing is downloaded.
How each was trained, and its held-out bits/char: docs/presets.md.
"""

import hashlib
from pathlib import Path

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"

# name -> (file in PRESETS_DIR, sha256 of that file, one-line description)
PRESETS = {
    "shakespeare": (
        "shakespeare.keras",
        "c746edf963d501d6b0815439f100eea7717277a7b8b7d31b2f78ed59c31915a8",
        "2x256 LSTM trained on tiny-shakespeare (1.1M characters of plays)",
    ),
}


def list_presets():
    """The names `CharLM.from_preset` accepts.

    >>> keras_chargen.list_presets()
    ('shakespeare',)
    """
    return tuple(sorted(PRESETS))


def preset_file(name):
    """The path of the file shipped for the preset `name` (a known name)."""
    return PRESETS_DIR / PRESETS[name][0]


def load_preset(name):
    """Loads the preset `name` as a `keras_chargen.CharLM`.

    Args:
        name: `str`, one of `list_presets()`.

    Returns:
        The `CharLM`, with its vocabulary: it can `generate()` at once.

    Raises:
        ValueError: if `name` is not a preset (the message lists them), or
            if the preset file is missing or not the file shipped.
    """
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Presets: {', '.join(list_presets())}"
        )
    path, sha256 = preset_file(name), PRESETS[name][1]
    if not path.is_file():
        raise ValueError(f"Preset {name!r}: its file {str(path)!r} is missing")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ValueError(
            f"Preset {name!r}: {str(path)!r} has sha256 {digest}, not the "
            f"{sha256} shipped (the file was changed)"
        )
    from keras_chargen.models.loading import load_model

    return load_model(path)


def resolve_model(source, argument="init_from"):
    """A `CharLM` from a model, a preset name or a `.keras` path.

    A name in `list_presets()` is a preset; any other `str` or path is a
    file, loaded through `keras_chargen.models.loading.load_model`.

    Raises:
        ValueError: naming `argument` and what was received, if `source` is
            none of these, not a keras_chargen model, or has no vocabulary.
    """
    from keras_chargen.models.char_lm import CharLM
    from keras_chargen.models.loading import load_model

    if isinstance(source, CharLM):
        model = source
    elif isinstance(source, str) and source in PRESETS:
        model = load_preset(source)
    elif isinstance(source, str | Path):
        if not Path(source).exists():
            raise ValueError(
                f"`{argument}` must be a CharLM, a .keras file or a preset name "
                f"({', '.join(list_presets())}). Received: {argument}={str(source)!r}, "
                "which is neither a preset nor an existing file"
            )
        model = load_model(source)  # ModelFileError is a ValueError
    else:
        raise ValueError(
            f"`{argument}` must be a CharLM, a .keras file or a preset name "
            f"({', '.join(list_presets())}). Received: {argument}={source!r}"
        )
    if model.vectorizer is None:
        raise ValueError(
            f"`{argument}` must be a model with a vocabulary (trained by "
            "`keras_chargen.train`). Received a CharLM without one"
        )
    return model


def describe_source(source):
    """How the run settings record `init_from`: a preset, a path or a model."""
    from keras_chargen.models.char_lm import CharLM

    if isinstance(source, CharLM):
        return f"<CharLM {source.name}: {source.count_params():,} parameters>"
    if isinstance(source, str) and source in PRESETS:
        return f"preset:{source}"
    return str(source)
