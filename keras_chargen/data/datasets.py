"""`make_datasets`: many-to-many training windows from a text or a prepared corpus."""

import math

import numpy as np
import tensorflow as tf

from keras_chargen.data.prepared import PreparedCorpus, release_pages
from keras_chargen.data.split import split_text
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS, OOV_ID


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

    `text` may also be a `keras_chargen.PreparedCorpus` (see
    `keras_chargen.prepare_corpus`), for corpora larger than memory: the
    windows are then read from its memory-mapped id arrays, a batch at a
    time, and nothing holds the whole corpus. The split is the one made when
    it was prepared (`validation_split` must equal it). Training windows
    start at a new random offset each epoch as above, in an order drawn
    anew each epoch (window `i` of an epoch is window `(a * i + c) mod n`
    for random `a` coprime with `n` and random `c`: a permutation that needs
    no memory).

    Args:
        text: the corpus, a `str` or a `keras_chargen.PreparedCorpus`.
        vectorizer: an adapted `keras_chargen.CharVectorizer`. With a
            `PreparedCorpus` its ids need not be the corpus's: each
            character is mapped to the vectorizer's id (id 1 when it is not
            in its vocabulary).
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
    if isinstance(text, PreparedCorpus):
        return _prepared_datasets(
            text, vectorizer, sequence_length, batch_size, validation_split, seed
        )
    train_text, val_text = split_text(text, validation_split)
    train_ids, val_ids = vectorizer.encode(train_text), vectorizer.encode(val_text)
    minimum = sequence_length + 1
    _check_split_sizes(len(train_ids), len(val_ids), minimum, validation_split)
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


def _check_split_sizes(train, validation, minimum, validation_split):
    for name, size in (("training", train), ("validation", validation)):
        if size < minimum and (name == "training" or validation):
            raise ValueError(
                f"The {name} split has {size} characters but needs at "
                f"least sequence_length + 1 = {minimum}. The text has "
                f"{train + validation} characters with "
                f"validation_split={validation_split}: use a longer text, a "
                "shorter `sequence_length` or another `validation_split`."
            )


def _prepared_datasets(corpus, vectorizer, length, batch_size, split, seed):
    if split != corpus.validation_split:
        raise ValueError(
            f"{corpus.path} was prepared with validation_split="
            f"{corpus.validation_split}; its split is fixed. Pass that value, "
            f"or prepare it again. Received: validation_split={split!r}"
        )
    sizes = corpus.split_size("train"), corpus.split_size("validation")
    _check_split_sizes(*sizes, length + 1, split)
    table = _id_table(corpus.vocabulary, vectorizer)
    train_ds = _mapped_windows(
        _MappedWindows(corpus, "train", table, length, batch_size, seed)
    )
    val_ds = None
    if sizes[1]:
        val_ds = _mapped_windows(
            _MappedWindows(corpus, "validation", table, length, batch_size, None)
        )
    return train_ds, val_ds


def _id_table(vocabulary, vectorizer):
    """Corpus id -> the vectorizer's id, for every id of the corpus."""
    ids = {c: i + NUM_RESERVED_IDS for i, c in enumerate(vectorizer.vocabulary)}
    table = [0, OOV_ID] + [ids.get(c, OOV_ID) for c in vocabulary]
    return np.asarray(table, np.int32)


class _MappedWindows:
    """Batches of windows read from a prepared split's memory map.

    Called once per epoch (by `tf.data.Dataset.from_generator`); with a
    `seed`, each call draws a new offset and order, as `_windows` does.
    """

    def __init__(self, corpus, split, table, length, batch_size, seed):
        self.corpus, self.split, self.table = corpus, split, table
        self.length, self.batch_size = length, batch_size
        size = corpus.split_size(split)
        self.count = (size - 1) // length
        self.shuffle = split == "train"
        if self.shuffle and self.count >= 2:
            self.count -= 1  # room to start anywhere in [0, length)
        self.max_offset = (size - 1 - length) - (self.count - 1) * length
        self.rng = np.random.default_rng(seed)

    @property
    def batches(self):
        return -(-self.count // self.batch_size)

    def __call__(self):
        ids = self.corpus.ids(self.split)
        offset, a, c = 0, 1, 0
        if self.shuffle:
            offset = int(self.rng.integers(self.max_offset + 1))
            a = self._coprime()
            c = int(self.rng.integers(self.count))
        steps = np.arange(self.length + 1)
        for batch in range(self.batches):
            index = np.arange(
                batch * self.batch_size,
                min((batch + 1) * self.batch_size, self.count),
                dtype=np.int64,
            )
            starts = offset + ((a * index + c) % self.count) * self.length
            windows = self.table[ids[starts[:, None] + steps]]
            # The kernel maps pages around each one read (tens of kB, even
            # with MADV_RANDOM): unmap them, or a long epoch over a large
            # corpus grows the resident size towards the corpus's size.
            release_pages(ids)
            yield windows[:, :-1], windows[:, 1:]

    def _coprime(self):
        while True:
            a = int(self.rng.integers(1, max(self.count, 2)))
            if math.gcd(a, self.count) == 1:
                return a


def _mapped_windows(windows):
    spec = tf.TensorSpec((None, windows.length), tf.int32)
    dataset = tf.data.Dataset.from_generator(windows, output_signature=(spec, spec))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(windows.batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
