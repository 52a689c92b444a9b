"""`make_datasets`: many-to-many training windows from one text."""

import numpy as np
import tensorflow as tf

from keras_chargen.data.split import split_text


def make_datasets(
    text,
    vectorizer,
    sequence_length=100,
    batch_size=64,
    validation_split=0.1,
    seed=None,
):
    """Cuts a text into `(ids[t], ids[t+1])` windows for many-to-many training.

    The text is split by `keras_chargen.split_text` into a contiguous
    training head and validation tail *before* windowing, so no validation
    character ever appears in a training window, and `evaluate` can score
    the same tail. Every position of a window is supervised: a window of
    `sequence_length` inputs carries `sequence_length` targets (the tutorial
    this replaces supervised one character per window).

    Training windows do not overlap. Each epoch starts them at a new random
    offset, so every character boundary is seen over a few epochs, and
    shuffles them. Validation windows are fixed (offset 0, not shuffled), so
    validation figures are comparable across epochs.

    Args:
        text: the corpus, a `str`.
        vectorizer: an adapted `keras_chargen.CharVectorizer`.
        sequence_length: int, characters per window. Defaults to `100`.
        batch_size: int, windows per batch. Defaults to `64`.
        validation_split: float in `[0, 1)`, the share of the text (its tail)
            held out. `0` returns `val_ds=None`. Defaults to `0.1`.
        seed: Optional int for the shuffle and offsets. Defaults to `None`.

    Returns:
        `(train_ds, val_ds)`: `tf.data.Dataset`s of `(inputs, targets)`, both
        int32 of shape `(batch, sequence_length)`.

    Raises:
        TypeError: if `text` is not a `str`.
        ValueError: if an argument is out of range, or if either split is
            shorter than `sequence_length + 1` characters.

    Example:

    ```python
    text = keras_chargen.load_corpus("pydoc")
    vectorizer = keras_chargen.CharVectorizer()
    vectorizer.adapt(text)
    train_ds, val_ds = keras_chargen.make_datasets(text, vectorizer)
    ```
    """
    _check_positive_int("sequence_length", sequence_length)
    _check_positive_int("batch_size", batch_size)
    train_text, val_text = split_text(text, validation_split)
    train_ids, val_ids = vectorizer.encode(train_text), vectorizer.encode(val_text)
    minimum = sequence_length + 1
    for name, part in (("training", train_ids), ("validation", val_ids)):
        if len(part) < minimum and (name == "training" or val_text):
            raise ValueError(
                f"The {name} split has {len(part)} characters but needs at "
                f"least sequence_length + 1 = {minimum}. The text has "
                f"{len(train_ids) + len(val_ids)} characters with "
                f"validation_split={validation_split}: use a longer text, a "
                "shorter `sequence_length` or another `validation_split`."
            )
    train_ds = _windows(train_ids, sequence_length, batch_size, seed, shuffle=True)
    val_ds = None
    if val_text:
        val_ds = _windows(val_ids, sequence_length, batch_size, seed, shuffle=False)
    return train_ds, val_ds


def _windows(ids, sequence_length, batch_size, seed, shuffle):
    length = sequence_length
    count = (len(ids) - 1) // length  # windows that fit at offset 0
    if shuffle and count >= 2:
        # One window fewer leaves room to start anywhere in [0, length).
        count -= 1
    # The largest start that still fits `count` windows. Not capped at
    # `length - 1`: the split's last characters are only targets when the
    # offset is near this maximum.
    max_offset = (len(ids) - 1 - length) - (count - 1) * length if shuffle else 0
    ids = tf.constant(ids, dtype=tf.int32)

    def window(start):
        # A static length, so element_spec says (batch, sequence_length).
        chunk = tf.ensure_shape(ids[start : start + length + 1], [length + 1])
        return chunk[:-1], chunk[1:]

    def starts(offset):
        return tf.data.Dataset.range(count).map(lambda i: offset + i * length)

    if shuffle:
        # A new offset every epoch (every iteration of the dataset).
        offsets = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).take(1)
        dataset = offsets.flat_map(lambda r: starts(r % (max_offset + 1)))
        dataset = dataset.shuffle(
            max(count, 1), seed=seed, reshuffle_each_iteration=True
        )
    else:
        dataset = starts(np.int64(0))
    dataset = dataset.map(window, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size)
    # flat_map hides the size: state it, so progress bars know the epoch length.
    batches = -(-count // batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
