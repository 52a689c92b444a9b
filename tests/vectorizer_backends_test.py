"""`CharVectorizer` as a layer on every backend: eagerly and in `tf.data`.

String tensors are TensorFlow's on every backend (as for Keras' own string
layers); eagerly, a dense result comes back as the backend's tensor.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_chargen.layers.char_vectorizer import CharVectorizer

TEXT = "hello world\n"


def vectorizer(**kwargs):
    v = CharVectorizer(**kwargs)
    v.adapt(TEXT)
    return v


def test_eager_call_gives_a_backend_tensor_equal_to_encode():
    v = vectorizer(sequence_length=6)
    ids = v(["hello", "wor"])
    assert ops.is_tensor(ids)  # the backend's own tensor type
    # Shorter rows are padded with id 0 on the left.
    expected = np.stack(
        [np.pad(v.encode(t), (6 - len(t), 0)) for t in ("hello", "wor")]
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(ids), expected)


def test_ragged_eager_call_keeps_every_row():
    v = vectorizer()
    ids = v(["hello", "wor"])
    assert [list(r) for r in ids.to_list()] == [
        list(v.encode("hello")),
        list(v.encode("wor")),
    ]


def test_the_layer_maps_a_tf_data_pipeline_that_feeds_fit():
    v = vectorizer(sequence_length=5)
    ds = tf.data.Dataset.from_tensor_slices(["hello", "world", "hell\n"]).batch(2)
    ds = ds.map(v).map(lambda ids: (ids[:, :-1], ids[:, 1:]))
    inputs, targets = next(iter(ds))
    np.testing.assert_array_equal(inputs.numpy()[0], v.encode("hello")[:-1])
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(v.vocabulary_size(), 4),
        keras.layers.LSTM(4, return_sequences=True),
        keras.layers.Dense(v.vocabulary_size()),
    ])  # fmt: skip
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
