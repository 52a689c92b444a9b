"""Fine-tuning on new text: extend a model's vocabulary, keep what it learned.

A model trained on one corpus meets characters it has never seen in the
next. Its vocabulary is extended at the end: the old characters keep their
ids (so the old embedding rows and output columns keep their meaning), the
new ones get the ids after them. The new embedding rows keep the fresh
model's initialisation; the new output columns start with zero weights and
the lowest bias of the old ones, so before any training the logits of the
old characters are exactly the old model's, and a new character starts as
likely as the least likely old one.
"""

import numpy as np

from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS

# The architecture a fine-tuned model must share with the model it starts
# from: (train/build_char_lstm argument, CharLM attribute).
ARCHITECTURE = (
    ("embedding_dim", "embedding_dim"),
    ("lstm_units", "units"),
    ("num_layers", "num_layers"),
    ("cell", "cell"),
    ("layer_norm", "layer_norm"),
)


def extended_vectorizer(vectorizer, text):
    """`vectorizer`'s vocabulary followed by `text`'s new characters.

    Args:
        vectorizer: an adapted `keras_chargen.CharVectorizer`.
        text: `str`, the text to be read; characters already in the
            vocabulary keep their ids, the others are appended in code-point
            order.

    Returns:
        A new `CharVectorizer` with the same settings.
    """
    known = set(vectorizer.vocabulary)
    # Learn the new text's characters as `adapt` would (normalised first).
    probe = CharVectorizer.from_config(vectorizer.get_config())
    probe.adapt(text)
    new = [c for c in probe.vocabulary if c not in known]
    config = vectorizer.get_config()
    config["vocabulary"] = [*vectorizer.vocabulary, *new]
    return CharVectorizer.from_config(config)


def check_architecture(model, requested):
    """Raises `ValueError` if `requested` settings differ from `model`'s.

    Args:
        model: the `CharLM` fine-tuning starts from.
        requested: dict of `train` arguments (`lstm_units`, `cell`, ...);
            names left out take the model's values.
    """
    different = {
        name: (getattr(model, attribute), requested[name])
        for name, attribute in ARCHITECTURE
        if name in requested and requested[name] != getattr(model, attribute)
    }
    if different:
        details = ", ".join(
            f"{name}={new!r} (the initial model has {old!r})"
            for name, (old, new) in different.items()
        )
        raise ValueError(
            "Fine-tuning keeps the initial model's architecture; leave these "
            f"settings out or match them. Received: {details}"
        )


def architecture_of(model):
    """The `train`/`build_char_lstm` settings that rebuild `model`'s shapes."""
    return {name: getattr(model, attribute) for name, attribute in ARCHITECTURE}


def copy_weights(source, target):
    """Copies `source`'s weights into `target`, whose vocabulary may be larger.

    `target` must have `source`'s architecture and a vocabulary that starts
    with `source`'s (see `extended_vectorizer`). Weights of equal shape are
    copied; along the vocabulary axis, the first `source.vocabulary_size`
    entries are copied and the rest set as the module docstring says.

    Raises:
        ValueError: if the models' weights do not line up.
    """
    old, new = source.vocabulary_size, target.vocabulary_size
    if len(source.weights) != len(target.weights) or new < old:
        raise ValueError(
            "`target` must have `source`'s architecture and a vocabulary at "
            f"least as large. Received: {len(source.weights)} and "
            f"{len(target.weights)} weights, vocabulary sizes {old} and {new}"
        )
    logits = {id(w) for w in target.get_layer("logits").weights}
    for s, t in zip(source.weights, target.weights, strict=True):
        value = np.asarray(s.numpy())
        if tuple(s.shape) == tuple(t.shape):
            t.assign(value)
            continue
        axes = (
            [i for i, (a, b) in enumerate(zip(s.shape, t.shape, strict=True)) if a != b]
            if len(s.shape) == len(t.shape)
            else []
        )
        if len(axes) != 1 or s.shape[axes[0]] != old:
            raise ValueError(
                f"Weight {s.path!r} does not line up: shape {tuple(s.shape)} "
                f"in `source`, {tuple(t.shape)} in `target`"
            )
        axis = axes[0]
        grown = np.asarray(t.numpy()).copy()  # new embedding rows: fresh init
        if id(t) in logits:
            # Kernel columns start at zero, biases at the lowest old one.
            fill = value.min() if value.ndim == 1 else 0.0
            grown[_along(axis, slice(old, None), grown.ndim)] = fill
        grown[_along(axis, slice(0, old), grown.ndim)] = value
        t.assign(grown)


def extend_vocabulary(model, text):
    """A copy of `model` whose vocabulary also covers `text`'s characters.

    Args:
        model: a `keras_chargen.CharLM` with a vectorizer.
        text: `str`; its characters outside the vocabulary are appended.

    Returns:
        A new, uncompiled `CharLM`: the old ids keep their ids and rows, the
        old characters' logits are unchanged.
    """
    from keras_chargen.models.char_lm import CharLM

    config = model.get_config()
    vectorizer = extended_vectorizer(model.vectorizer, text)
    config.update(vectorizer=vectorizer, vocabulary_size=None)
    extended = CharLM.from_config(config)
    copy_weights(model, extended)
    return extended


def new_characters(model, vectorizer):
    """The characters `vectorizer` adds to `model`'s vocabulary."""
    return vectorizer.vocabulary[model.vocabulary_size - NUM_RESERVED_IDS :]


def _along(axis, index, ndim):
    return tuple(index if i == axis else slice(None) for i in range(ndim))
