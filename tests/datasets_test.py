import numpy as np
import pytest
import tensorflow as tf

from keras_chargen.data.datasets import make_datasets
from keras_chargen.data.split import split_text
from keras_chargen.layers.char_vectorizer import CharVectorizer

BASE = 0x4E00


def distinct_text(n):
    """A text whose character at position i is chr(BASE + i): positions show."""
    return "".join(chr(BASE + i) for i in range(n))


def distinct_datasets(n, **kwargs):
    text = distinct_text(n)
    vectorizer = CharVectorizer()
    vectorizer.adapt(text)
    return text, vectorizer, make_datasets(text, vectorizer, **kwargs)


def positions(vectorizer, ids):
    """Text positions of a window's ids, given a `distinct_text`."""
    return [ord(c) - BASE for c in vectorizer.decode(ids)]


def windows(dataset, epochs=1):
    """`epochs` epochs as a list of (inputs, targets) NumPy rows.

    `repeat()` starts a new epoch, offsets and shuffle included, without the
    cost of a fresh iterator per epoch.
    """
    dataset = dataset.repeat(epochs) if epochs > 1 else dataset
    return [
        (x, y)
        for xs, ys in dataset
        for x, y in zip(xs.numpy(), ys.numpy(), strict=True)
    ]


def starts(vectorizer, dataset):
    """Start positions of one epoch's windows, in iteration order."""
    return [positions(vectorizer, x)[0] for x, _ in windows(dataset)]


def test_targets_are_inputs_shifted_by_one():
    text, vectorizer, (train_ds, val_ds) = distinct_datasets(
        60, sequence_length=5, batch_size=4, validation_split=0.25, seed=0
    )
    for dataset in (train_ds, val_ds):
        pairs = windows(dataset)
        assert pairs
        for x, y in pairs:
            np.testing.assert_array_equal(x[1:], y[:-1])
            inputs, targets = vectorizer.decode(x), vectorizer.decode(y)
            start = text.index(inputs)
            assert len(inputs) == len(targets) == 5
            assert text[start + 1 : start + 6] == targets


def test_windows_of_a_real_text_decode_to_substrings():
    text = "To be, or not to be:\nthat is the question.\r\n😀 e\u0301\u2028" * 3
    vectorizer = CharVectorizer()
    vectorizer.adapt(text)
    train_ds, val_ds = make_datasets(
        text, vectorizer, sequence_length=8, batch_size=3, validation_split=0.2, seed=1
    )
    for dataset in (train_ds, val_ds):
        for x, y in windows(dataset):
            assert vectorizer.decode(x) in text
            assert vectorizer.decode(y) in text
            assert vectorizer.decode(x)[1:] == vectorizer.decode(y)[:-1]


def test_batch_shapes_and_dtypes():
    _, _, (train_ds, val_ds) = distinct_datasets(
        101, sequence_length=6, batch_size=4, validation_split=0.3, seed=0
    )
    for dataset in (train_ds, val_ds):
        assert dataset.element_spec[0].shape.as_list() == [None, 6]
        assert dataset.element_spec[1].shape.as_list() == [None, 6]
        batches = list(dataset)
        for x, y in batches:
            assert x.dtype == y.dtype == tf.int32
            assert x.shape == y.shape
        assert all(x.shape == (4, 6) for x, _ in batches[:-1])
        assert 1 <= batches[-1][0].shape[0] <= 4
    # Training: (71 - 1) // 6 = 11 windows fit, one is kept free for offsets.
    assert sum(x.shape[0] for x, _ in train_ds) == 10
    # Validation: 30 characters, (30 - 1) // 6 = 4 windows.
    assert sum(x.shape[0] for x, _ in val_ds) == 4


def test_no_validation_character_in_any_training_window():
    _, vectorizer, (train_ds, val_ds) = distinct_datasets(
        100, sequence_length=5, batch_size=4, validation_split=0.2, seed=3
    )
    seen = set()
    for x, y in windows(train_ds, epochs=20):
        seen.update(positions(vectorizer, x) + positions(vectorizer, y))
    assert max(seen) <= 79  # the train head is positions 0..79
    val_seen = {p for x, y in windows(val_ds) for p in positions(vectorizer, y)}
    assert min(p for x, _ in windows(val_ds) for p in positions(vectorizer, x)) == 80
    assert not seen & val_seen


def test_validation_windows_read_split_texts_tail():
    text, vectorizer, (train_ds, val_ds) = distinct_datasets(
        97, sequence_length=4, batch_size=8, validation_split=0.15, seed=0
    )
    head, tail = split_text(text, 0.15)  # round(14.55): 15 held-out characters
    assert len(tail) == 15
    inputs = "".join(vectorizer.decode(x) for x, _ in windows(val_ds))
    targets = "".join(vectorizer.decode(y) for _, y in windows(val_ds))
    assert inputs == tail[:12]  # (15 - 1) // 4 = 3 windows
    assert targets == tail[1:13]
    seen = {
        p for x, y in windows(train_ds, epochs=10) for p in positions(vectorizer, y)
    }
    assert max(seen) < len(head)


def test_validation_windows_are_fixed_contiguous_and_in_order():
    _, vectorizer, (_, val_ds) = distinct_datasets(
        100, sequence_length=5, batch_size=2, validation_split=0.2, seed=0
    )
    first = starts(vectorizer, val_ds)
    assert first == [80, 85, 90]  # (20 - 1) // 5 = 3 windows from offset 0
    for _ in range(3):
        assert starts(vectorizer, val_ds) == first


def test_training_offsets_vary_across_epochs():
    _, vectorizer, (train_ds, _) = distinct_datasets(
        60, sequence_length=5, batch_size=4, validation_split=0.0, seed=0
    )
    offsets = set()
    for _ in range(8):
        epoch = starts(vectorizer, train_ds)
        phases = {start % 5 for start in epoch}
        assert len(phases) == 1  # windows of one epoch share one offset
        offsets |= phases
    assert len(offsets) > 1


def test_training_windows_are_shuffled():
    _, vectorizer, (train_ds, _) = distinct_datasets(
        200, sequence_length=5, batch_size=8, validation_split=0.0, seed=0
    )
    epoch = starts(vectorizer, train_ds)
    assert epoch != sorted(epoch)
    assert len(set(epoch)) == len(epoch) == 38  # (199 // 5) - 1, no repeats


def test_training_is_deterministic_for_a_fixed_seed():
    def epochs(seed):
        _, vectorizer, (train_ds, _) = distinct_datasets(
            60, sequence_length=4, batch_size=3, validation_split=0.0, seed=seed
        )
        return [starts(vectorizer, train_ds) for _ in range(4)]

    first = epochs(7)
    assert first == epochs(7)
    assert len({tuple(epoch) for epoch in first}) > 1


def test_every_training_character_boundary_is_eventually_covered():
    # 43 training characters: (43 - 1) % 4 = 2 leaves a tail that a window
    # grid anchored at offsets 0..3 alone never reaches.
    _, vectorizer, (train_ds, _) = distinct_datasets(
        48, sequence_length=4, batch_size=4, validation_split=0.1, seed=0
    )
    boundaries = set()
    for x, y in windows(train_ds, epochs=60):
        boundaries.update(
            zip(positions(vectorizer, x), positions(vectorizer, y), strict=True)
        )
    assert boundaries == {(t, t + 1) for t in range(42)}


def test_short_training_split_still_covers_every_boundary():
    # Only one window fits: offsets move it across the whole text.
    _, vectorizer, (train_ds, _) = distinct_datasets(
        14, sequence_length=10, batch_size=4, validation_split=0.0, seed=0
    )
    boundaries = set()
    for x, y in windows(train_ds, epochs=40):
        boundaries.update(
            zip(positions(vectorizer, x), positions(vectorizer, y), strict=True)
        )
    assert boundaries == {(t, t + 1) for t in range(13)}


def test_validation_split_zero_gives_no_validation_dataset():
    _, vectorizer, (train_ds, val_ds) = distinct_datasets(
        30, sequence_length=4, batch_size=4, validation_split=0.0, seed=0
    )
    assert val_ds is None
    seen = set()
    for _, y in windows(train_ds, epochs=30):
        seen.update(positions(vectorizer, y))
    assert max(seen) == 29  # the whole text is training text


def test_exact_minimum_lengths_are_accepted():
    # 22 characters at 0.5: 11 + 11, each exactly sequence_length + 1.
    _, _, (train_ds, val_ds) = distinct_datasets(
        22, sequence_length=10, batch_size=4, validation_split=0.5, seed=0
    )
    assert len(windows(train_ds)) == 1
    assert len(windows(val_ds)) == 1


def test_unseeded_datasets_work():
    # Defaults: validation_split=0.1 holds out the last 8 of 80 characters.
    _, _, (train_ds, val_ds) = distinct_datasets(80, sequence_length=5, seed=None)
    assert len(windows(train_ds)) == (72 - 1) // 5 - 1
    assert len(windows(val_ds)) == (8 - 1) // 5


# ------------------------------------------------------------ bad input


def test_text_shorter_than_minimum_raises():
    text = distinct_text(10)
    vectorizer = CharVectorizer(vocabulary=text)
    with pytest.raises(
        ValueError,
        match=r"training split has 10 characters but needs at least "
        r"sequence_length \+ 1 = 11",
    ):
        make_datasets(text, vectorizer, sequence_length=10, validation_split=0.0)


def test_short_validation_split_raises():
    text = distinct_text(40)
    vectorizer = CharVectorizer(vocabulary=text)
    with pytest.raises(
        ValueError,
        match=r"validation split has 4 characters but needs at least "
        r"sequence_length \+ 1 = 11",
    ):
        make_datasets(text, vectorizer, sequence_length=10, validation_split=0.1)


def test_short_training_split_raises():
    text = distinct_text(40)
    vectorizer = CharVectorizer(vocabulary=text)
    with pytest.raises(ValueError, match=r"training split has 4 characters .* = 11"):
        make_datasets(text, vectorizer, sequence_length=10, validation_split=0.9)


@pytest.mark.parametrize("validation_split", [1.0, 1.5, -0.1])
def test_validation_split_out_of_range_raises(validation_split):
    text = distinct_text(40)
    vectorizer = CharVectorizer(vocabulary=text)
    with pytest.raises(
        ValueError,
        match=rf"must be in \[0, 1\). Received: validation_split={validation_split}",
    ):
        make_datasets(
            text, vectorizer, sequence_length=5, validation_split=validation_split
        )


@pytest.mark.parametrize("name", ["sequence_length", "batch_size"])
@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_non_positive_sizes_raise(name, value):
    text = distinct_text(40)
    vectorizer = CharVectorizer(vocabulary=text)
    with pytest.raises(
        ValueError, match=rf"`{name}` must be a positive int. Received: {name}={value}"
    ):
        make_datasets(text, vectorizer, **{name: value})


def test_non_str_text_raises_type_error():
    vectorizer = CharVectorizer(vocabulary="ab")
    with pytest.raises(TypeError, match="`text` must be a str. Received type list"):
        make_datasets(["ab"] * 50, vectorizer, sequence_length=5)
