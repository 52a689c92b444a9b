"""`nearest_characters`: cosine neighbours in a model's character embedding."""

import numbers
import unicodedata

import keras
import numpy as np

# The reserved ids of `CharVectorizer`: 0 padding, 1 out-of-vocabulary.
_NUM_RESERVED_IDS = 2
_NAMES = {" ": "SPACE", "\n": "NL", "\t": "TAB", "\r": "CR", "\u00a0": "NBSP"}


def char_name(char):
    """A readable name for one character, for tables and plot labels.

    Space, newline, tab, carriage return and no-break space get short names
    (`"SPACE"`, `"NL"`, `"TAB"`, `"CR"`, `"NBSP"`); other characters that
    print as nothing or as blank space (control, format, separator and
    combining characters) get their code point, e.g. `"U+200B"`; every
    other character is returned as itself.

    >>> [keras_chargen.char_name(c) for c in "a \\n\\x07"]
    ['a', 'SPACE', 'NL', 'U+0007']
    """
    if not isinstance(char, str) or len(char) != 1:
        raise ValueError(f"`char` must be a single character. Received: char={char!r}")
    if char in _NAMES:
        return _NAMES[char]
    if unicodedata.category(char)[0] in "CZM":
        return f"U+{ord(char):04X}"
    return char


def nearest_characters(model, char, k=5):
    """The `k` characters whose embedding rows are closest to `char`'s.

    Closeness is the cosine similarity of rows of the model's `Embedding`
    layer. The padding and out-of-vocabulary rows (ids 0 and 1) and `char`
    itself are never returned.

    Args:
        model: a `keras_chargen.CharLM` (or a model with an `Embedding`
            layer and a `vectorizer` attribute).
        char: a single character of the model's vocabulary.
        k: int >= 1, how many neighbours. Fewer are returned when the
            vocabulary is smaller. Defaults to `5`.

    Returns:
        A list of `(character, similarity)` pairs, most similar first;
        similarities are Python floats in `[-1, 1]`.

    Raises:
        ValueError: if `char` is not a single character of the vocabulary
            (the message lists the vocabulary), if `k` is not an int >= 1,
            or if the model has no vocabulary or no `Embedding` layer.

    Example:

    ```python
    model = keras.saving.load_model("run.keras")
    keras_chargen.nearest_characters(model, "a", k=3)
    # e.g. [('e', 0.83), ('o', 0.79), ('i', 0.75)]
    ```
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"`k` must be an int >= 1. Received: k={k!r}")
    vocabulary = model_vocabulary(model)
    if not isinstance(char, str) or len(char) != 1:
        raise ValueError(f"`char` must be a single character. Received: char={char!r}")
    if char not in vocabulary:
        shown = "".join(vocabulary)
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        raise ValueError(
            f"Character {char!r} ({char_name(char)}) is not in the model's "
            f"vocabulary. Choose one of its {len(vocabulary)} characters: {shown!r}"
        )
    vectors = embedding_matrix(model)[_NUM_RESERVED_IDS:].astype(np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0  # an all-zero row is similar to nothing
    vectors /= norms[:, None]
    index = vocabulary.index(char)
    similarity = vectors @ vectors[index]
    similarity[index] = -np.inf
    order = np.argsort(-similarity, kind="stable")[: min(k, len(vocabulary) - 1)]
    return [(vocabulary[i], float(similarity[i])) for i in order]


def model_vocabulary(model):
    """The model's characters in id order (from id 2), or a `ValueError`."""
    vectorizer = getattr(model, "vectorizer", None)
    if vectorizer is None or vectorizer.vocabulary is None:
        raise ValueError(
            "The model must carry its vocabulary: pass a keras_chargen.CharLM. "
            f"Received a model of type {type(model).__name__} without a `vectorizer`."
        )
    return list(vectorizer.vocabulary)


def embedding_matrix(model):
    """The weights of the model's first `Embedding` layer, as NumPy."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding):
            return keras.ops.convert_to_numpy(layer.embeddings)
    raise ValueError(
        "The model must have an `Embedding` layer. Received layers: "
        f"{[type(layer).__name__ for layer in model.layers]}"
    )
