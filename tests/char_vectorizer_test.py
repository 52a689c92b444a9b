import json

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from test_case import assert_same_outputs, run_saving_test, run_serialization_test

import keras_chargen
from keras_chargen.layers.char_vectorizer import CharVectorizer

# Newlines of three kinds, a tab, NUL, an emoji, a ZWJ emoji sequence, "e" +
# combining acute, CJK and a right-to-left letter: everything must survive.
TRICKY = "Hi,\n\r\n\u2028\t\x00 😀 👩\u200d💻 e\u0301 漢字 א!"


def adapted(text=TRICKY, **kwargs):
    vectorizer = CharVectorizer(**kwargs)
    vectorizer.adapt(text)
    return vectorizer


def ids_of(vectorizer, text):
    """Expected ids, computed from get_vocabulary() alone."""
    index = {c: i for i, c in enumerate(vectorizer.get_vocabulary()) if i >= 2}
    return [index.get(c, 1) for c in text]


# ------------------------------------------------------------------ adapt


def test_adapt_from_str_sorts_by_code_point():
    vectorizer = adapted("cab\nA😀")
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "\n", "A", "a", "b", "c", "😀"]


def test_adapt_from_list_of_str():
    vectorizer = adapted(["ba", "c\n", ""])
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "\n", "a", "b", "c"]


def test_adapt_from_generator_of_str():
    vectorizer = adapted(line for line in ["ba", "c\n"])
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "\n", "a", "b", "c"]


def test_adapt_from_dataset_of_scalar_strings():
    dataset = tf.data.Dataset.from_tensor_slices(["ba", "c\u2028", "漢"])
    vectorizer = adapted(dataset)
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "\u2028", "漢"]


def test_adapt_from_dataset_of_batched_strings():
    dataset = tf.data.Dataset.from_tensor_slices(["ba", "c\u2028", "漢"]).batch(2)
    vectorizer = adapted(dataset)
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "\u2028", "漢"]


def test_adapt_order_does_not_depend_on_input_order():
    assert (
        adapted("zyx\n").get_vocabulary() == adapted(["x", "\ny", "z"]).get_vocabulary()
    )


def test_reserved_ids_and_vocabulary_size():
    vectorizer = adapted("ab")
    assert vectorizer.get_vocabulary()[:2] == ["", "[UNK]"]
    assert vectorizer.vocabulary_size() == 4
    np.testing.assert_array_equal(vectorizer.encode("ba"), [3, 2])


def test_explicit_vocabulary_keeps_given_order():
    vectorizer = CharVectorizer(vocabulary=["z", "\n", "a"])
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "z", "\n", "a"]
    assert vectorizer.vocabulary_size() == 5
    np.testing.assert_array_equal(vectorizer.encode("a\nz"), [4, 3, 2])
    np.testing.assert_array_equal(vectorizer("a\nz").numpy(), [4, 3, 2])


def test_explicit_vocabulary_as_string():
    vectorizer = CharVectorizer(vocabulary="ba")
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "b", "a"]


def test_adapt_replaces_previous_vocabulary():
    vectorizer = adapted("abc")
    vectorizer.adapt("xy")
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "x", "y"]


# ------------------------------------------------------------- losslessness


@pytest.mark.parametrize(
    "text",
    ["\n", "\r", "\r\n", "\u2028", "😀👍🏽", "e\u0301", "漢字かな", "\x00", TRICKY],
)
def test_round_trip_is_lossless(text):
    vectorizer = adapted(text)
    assert vectorizer.detokenize(vectorizer(text)) == text
    assert vectorizer.decode(vectorizer.encode(text)) == text


def test_every_code_point_is_one_id():
    vectorizer = adapted(TRICKY)
    assert vectorizer.encode(TRICKY).tolist() == ids_of(vectorizer, TRICKY)
    assert len(vectorizer.encode("e\u0301")) == 2
    assert len(vectorizer.encode("👩\u200d💻")) == 3


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1))
def test_round_trip_property(text):
    vectorizer = adapted(text)
    assert vectorizer.detokenize(vectorizer(text)) == text
    assert vectorizer.decode(vectorizer.encode(text)) == text


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=4).filter(lambda xs: "".join(xs)))
def test_batch_round_trip_property(texts):
    vectorizer = adapted(texts)
    assert vectorizer.detokenize(vectorizer(texts)) == texts


def test_normalization_nfc_composes():
    vectorizer = adapted("e\u0301", normalization="NFC")
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "é"]
    np.testing.assert_array_equal(vectorizer.encode("e\u0301"), [2])
    np.testing.assert_array_equal(vectorizer("e\u0301").numpy(), [2])
    assert vectorizer.decode([2]) == "\u00e9"


def test_normalization_is_off_by_default():
    vectorizer = adapted("e\u0301")
    assert vectorizer.normalization is None
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "e", "\u0301"]
    assert vectorizer.encode("e\u0301").tolist() == [2, 3]
    assert vectorizer.encode("\u00e9").tolist() == [1]


def test_normalization_keeps_trailing_nul_in_layer_call():
    vectorizer = adapted("e\u0301x\x00", normalization="NFC")
    expected = vectorizer.encode("x\x00").tolist()
    assert len(expected) == 2
    assert vectorizer(["x\x00"]).to_list() == [expected]
    assert vectorizer("x\x00").numpy().tolist() == expected


# --------------------------------------------------------------- layer call


def test_call_on_str_gives_1d_int32():
    vectorizer = adapted("hello")
    ids = vectorizer("hello")
    assert isinstance(ids, tf.Tensor)
    assert ids.dtype == tf.int32
    assert ids.shape == (5,)
    assert ids.numpy().tolist() == ids_of(vectorizer, "hello")


def test_call_on_list_gives_ragged_int32():
    vectorizer = adapted("hello")
    ids = vectorizer(["he", "llo", ""])
    assert isinstance(ids, tf.RaggedTensor)
    assert ids.dtype == tf.int32
    assert ids.to_list() == [ids_of(vectorizer, "he"), ids_of(vectorizer, "llo"), []]


def test_call_on_string_tensor():
    vectorizer = adapted("hello")
    batch = vectorizer(tf.constant(["he", "llo"]))
    scalar = vectorizer(tf.constant("he"))
    assert batch.to_list() == [ids_of(vectorizer, "he"), ids_of(vectorizer, "llo")]
    assert scalar.numpy().tolist() == ids_of(vectorizer, "he")


def test_call_on_numpy_string_array():
    vectorizer = adapted("hello")
    ids = vectorizer(np.array(["he", "llo"]))
    assert ids.to_list() == [ids_of(vectorizer, "he"), ids_of(vectorizer, "llo")]


def test_sequence_length_pads_left_with_zero():
    vectorizer = CharVectorizer(vocabulary="abc", sequence_length=5)
    assert vectorizer("ab").numpy().tolist() == [0, 0, 0, 2, 3]


def test_sequence_length_truncates_keeping_last_characters():
    vectorizer = CharVectorizer(vocabulary="abc", sequence_length=3)
    assert vectorizer("aabbc").numpy().tolist() == [3, 3, 4]


def test_sequence_length_batch_is_dense():
    vectorizer = CharVectorizer(vocabulary="abc", sequence_length=3)
    ids = vectorizer(["c", "abc", "cbaab", ""])
    assert isinstance(ids, tf.Tensor)
    assert ids.dtype == tf.int32
    assert ids.numpy().tolist() == [[0, 0, 4], [2, 3, 4], [2, 2, 3], [0, 0, 0]]


def test_padded_ids_decode_to_the_kept_characters():
    vectorizer = CharVectorizer(vocabulary="abc", sequence_length=3)
    assert vectorizer.detokenize(vectorizer(["c", "cbaab"])) == ["c", "aab"]


def test_dataset_map_matches_eager_ragged():
    vectorizer = adapted(TRICKY)
    texts = ["Hi", TRICKY, "", "漢😀\n"]
    eager = vectorizer(texts).to_list()
    batched = tf.data.Dataset.from_tensor_slices(texts).batch(4).map(vectorizer)
    scalars = tf.data.Dataset.from_tensor_slices(texts).map(vectorizer)
    assert next(iter(batched)).to_list() == eager
    assert [ids.numpy().tolist() for ids in scalars] == eager


def test_dataset_map_matches_eager_padded():
    vectorizer = adapted(TRICKY, sequence_length=6)
    texts = ["Hi", TRICKY, "", "漢😀\n"]
    eager = vectorizer(texts).numpy().tolist()
    batched = tf.data.Dataset.from_tensor_slices(texts).batch(4).map(vectorizer)
    scalars = tf.data.Dataset.from_tensor_slices(texts).map(vectorizer)
    assert next(iter(batched)).numpy().tolist() == eager
    assert [ids.numpy().tolist() for ids in scalars] == eager


def test_dataset_map_matches_eager_with_normalization():
    vectorizer = adapted("e\u0301x", normalization="NFC")
    texts = ["e\u0301", "xe\u0301x"]
    eager = vectorizer(texts).to_list()
    batched = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(vectorizer)
    scalars = tf.data.Dataset.from_tensor_slices(texts).map(vectorizer)
    assert eager == [[3], [2, 3, 2]]
    assert next(iter(batched)).to_list() == eager
    assert [ids.numpy().tolist() for ids in scalars] == eager


def test_encode_matches_layer_call():
    vectorizer = adapted(TRICKY)
    encoded = vectorizer.encode(TRICKY)
    assert isinstance(encoded, np.ndarray)
    assert encoded.dtype == np.int32
    np.testing.assert_array_equal(encoded, vectorizer(TRICKY).numpy())


def test_decode_matches_detokenize():
    vectorizer = adapted(TRICKY)
    ids = vectorizer(TRICKY)
    assert vectorizer.decode(ids.numpy()) == vectorizer.detokenize(ids) == TRICKY


def test_decode_skips_padding_and_marks_oov():
    vectorizer = CharVectorizer(vocabulary="ab")
    assert vectorizer.decode([0, 0, 2, 1, 3]) == "a\ufffdb"
    assert vectorizer.decode([]) == ""


def test_detokenize_dense_batch_gives_list_of_str():
    vectorizer = CharVectorizer(vocabulary="ab", sequence_length=3)
    assert vectorizer.detokenize(vectorizer(["ab", "b"])) == ["ab", "b"]


# --------------------------------------------------------- unknown policy


def test_on_unknown_oov_is_default():
    vectorizer = CharVectorizer(vocabulary="ab")
    assert vectorizer.on_unknown == "oov"
    assert vectorizer.encode("axb").tolist() == [2, 1, 3]
    assert vectorizer("axb").numpy().tolist() == [2, 1, 3]
    assert vectorizer.decode(vectorizer.encode("axb")) == "a\ufffdb"


def test_on_unknown_drop():
    vectorizer = CharVectorizer(vocabulary="ab", on_unknown="drop")
    assert vectorizer.encode("axb😀").tolist() == [2, 3]
    assert vectorizer("axb😀").numpy().tolist() == [2, 3]
    assert vectorizer(["xa", "y"]).to_list() == [[2], []]


def test_on_unknown_drop_then_pad():
    vectorizer = CharVectorizer(vocabulary="ab", on_unknown="drop", sequence_length=3)
    assert vectorizer("axb").numpy().tolist() == [0, 2, 3]


def test_on_unknown_raise_in_encode_names_character():
    vectorizer = CharVectorizer(vocabulary="ab", on_unknown="raise")
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['x', '😀'\]"):
        vectorizer.encode("ax😀")


def test_on_unknown_raise_in_eager_call_names_character():
    vectorizer = CharVectorizer(vocabulary="ab", on_unknown="raise")
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['x'\]"):
        vectorizer(["ab", "ax"])


def test_on_unknown_raise_inside_dataset_map():
    vectorizer = CharVectorizer(vocabulary="ab", on_unknown="raise")
    dataset = tf.data.Dataset.from_tensor_slices(["ab", "ax"]).map(vectorizer)
    iterator = iter(dataset)
    assert next(iterator).numpy().tolist() == [2, 3]
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the vocabulary"):
        next(iterator)


def test_on_unknown_raise_accepts_known_text():
    vectorizer = CharVectorizer(vocabulary="ab", on_unknown="raise")
    assert vectorizer("ba").numpy().tolist() == [3, 2]
    assert vectorizer.encode("ba").tolist() == [3, 2]


# -------------------------------------------------------- serialization


def test_get_config_holds_vocabulary_as_json_list():
    vectorizer = adapted(TRICKY, sequence_length=7, on_unknown="drop")
    config = vectorizer.get_config()
    assert isinstance(config["vocabulary"], list)
    assert config["vocabulary"] == vectorizer.get_vocabulary()[2:]
    assert config["sequence_length"] == 7
    assert config["normalization"] is None
    assert config["on_unknown"] == "drop"
    restored = json.loads(json.dumps(config))
    assert restored["vocabulary"] == config["vocabulary"]
    for char in ["\n", "\r", "\u2028", "\x00", "😀", "\u0301"]:
        assert char in restored["vocabulary"]


SAVED_SETTINGS = {
    "adapted": dict(),
    "padded_nfc": dict(sequence_length=5, normalization="NFC"),
    "drop_padded": dict(sequence_length=7, on_unknown="drop"),
    "raise": dict(on_unknown="raise"),
}


@pytest.mark.parametrize("kwargs", SAVED_SETTINGS.values(), ids=SAVED_SETTINGS)
def test_serialization_round_trip(kwargs):
    vectorizer = adapted(TRICKY, **kwargs)
    clone = run_serialization_test(vectorizer)
    assert clone.get_vocabulary() == vectorizer.get_vocabulary()
    assert_same_outputs(vectorizer([TRICKY, "Hi"]), clone([TRICKY, "Hi"]))
    np.testing.assert_array_equal(clone.encode(TRICKY), vectorizer.encode(TRICKY))


def test_serialization_round_trip_keeps_the_given_order():
    vectorizer = CharVectorizer(vocabulary=["z", "\n", "a"])
    clone = run_serialization_test(vectorizer)
    assert clone.get_vocabulary() == ["", "[UNK]", "z", "\n", "a"]
    assert clone("a\nz").numpy().tolist() == [4, 3, 2]


def test_serialization_round_trip_before_adapt():
    clone = run_serialization_test(CharVectorizer(sequence_length=3))
    assert clone.vocabulary is None
    assert clone.sequence_length == 3


@pytest.mark.parametrize("kwargs", SAVED_SETTINGS.values(), ids=SAVED_SETTINGS)
def test_keras_file_round_trip(kwargs, tmp_path):
    vectorizer = adapted(TRICKY, **kwargs)
    loaded = run_saving_test(vectorizer, [TRICKY, "Hi\n", ""], tmp_path)
    assert loaded.get_vocabulary() == vectorizer.get_vocabulary()
    for char in ["\n", "\r", "\u2028", "\x00", "😀"]:
        assert char in loaded.get_vocabulary()
    np.testing.assert_array_equal(loaded.encode(TRICKY), vectorizer.encode(TRICKY))
    assert loaded.decode(loaded.encode(TRICKY)) == vectorizer.decode(
        vectorizer.encode(TRICKY)
    )


def test_keras_file_round_trip_through_char_lm(tmp_path):
    vectorizer = adapted(TRICKY)
    model = keras_chargen.CharLM(vectorizer, units=8, embedding_dim=4, num_layers=1)
    loaded = run_saving_test(model, vectorizer.encode(TRICKY)[None], tmp_path)
    loaded = loaded.vectorizer
    assert isinstance(loaded, CharVectorizer)
    assert loaded.get_vocabulary() == vectorizer.get_vocabulary()
    for char in ["\n", "\r", "\u2028", "😀"]:
        assert char in loaded.get_vocabulary()
    np.testing.assert_array_equal(loaded.encode(TRICKY), vectorizer.encode(TRICKY))
    assert loaded.decode(loaded.encode(TRICKY)) == TRICKY


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize("data", ["", [], [""], ["", ""]])
def test_adapt_on_empty_text_raises(data):
    with pytest.raises(ValueError, match="empty text"):
        CharVectorizer().adapt(data)


def test_adapt_on_empty_dataset_raises():
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant([], dtype=tf.string))
    with pytest.raises(ValueError, match="empty text"):
        CharVectorizer().adapt(dataset)


@pytest.mark.parametrize(
    "data, received",
    [(42, r"42 \(of type int\)"), ([1, 2], "type int: 1"), (b"ab", "bytes")],
)
def test_adapt_on_non_text_raises_type_error(data, received):
    with pytest.raises(TypeError, match=received):
        CharVectorizer().adapt(data)


@pytest.mark.parametrize("ids", [[999], [2, -1]])
def test_decode_out_of_range_id_raises(ids):
    vectorizer = CharVectorizer(vocabulary="ab")
    bad = [i for i in ids if not 0 <= i < 4]
    with pytest.raises(ValueError, match=rf"\[0, 4\).*out-of-range ids: \{bad}"):
        vectorizer.decode(ids)


def test_decode_non_integer_ids_raises():
    with pytest.raises(TypeError, match="integer ids. Received dtype float"):
        CharVectorizer(vocabulary="ab").decode([2.0])


@pytest.mark.parametrize(
    "use",
    [
        lambda v: v("ab"),
        lambda v: v.encode("ab"),
        lambda v: v.decode([2]),
        lambda v: v.get_vocabulary(),
        lambda v: v.vocabulary_size(),
    ],
    ids=["call", "encode", "decode", "get_vocabulary", "vocabulary_size"],
)
def test_use_before_adapt_raises(use):
    with pytest.raises(ValueError, match=r"no vocabulary yet. Call `adapt\(text\)`"):
        use(CharVectorizer())


@pytest.mark.parametrize(
    "inputs, received",
    [
        (42, r"Received: 42 \(of type int\)"),
        ([1, 2], r"Received a list holding: \[1, 2\]"),
        (tf.constant([1.0, 2.0]), "dtype=float32"),
        (np.array([1, 2]), "ndarray"),
        (b"ab", r"b'ab' \(of type bytes\)"),
    ],
    ids=["int", "list_of_int", "float_tensor", "int_array", "bytes"],
)
def test_call_on_non_string_raises_type_error(inputs, received):
    vectorizer = CharVectorizer(vocabulary="ab")
    with pytest.raises(TypeError, match=received):
        vectorizer(inputs)


@pytest.mark.parametrize("text", [42, ["ab"], b"ab"])
def test_encode_on_non_str_raises_type_error(text):
    vectorizer = CharVectorizer(vocabulary="ab")
    with pytest.raises(TypeError, match=r"`encode\(\)` expects a str. Received"):
        vectorizer.encode(text)


@pytest.mark.parametrize(
    "vocabulary, message",
    [
        (["a", "b", "a"], r"must not repeat a character. Received duplicates: \['a'\]"),
        (["a", "bc"], r"single characters. Received these entries: \['bc'\]"),
        (["a", ""], r"single characters. Received these entries: \[''\]"),
        (["a", 1], r"single characters. Received these entries: \[1\]"),
        ([], "must not be empty"),
    ],
)
def test_bad_vocabulary_raises(vocabulary, message):
    with pytest.raises(ValueError, match=message):
        CharVectorizer(vocabulary=vocabulary)


@pytest.mark.parametrize("sequence_length", [0, -1, 2.5, "3", True])
def test_bad_sequence_length_raises(sequence_length):
    with pytest.raises(ValueError, match="Received: sequence_length="):
        CharVectorizer(sequence_length=sequence_length)


@pytest.mark.parametrize("normalization", ["nfc", "NFX", True])
def test_bad_normalization_raises(normalization):
    with pytest.raises(ValueError, match="Received: normalization="):
        CharVectorizer(normalization=normalization)


@pytest.mark.parametrize("on_unknown", ["ignore", None, "OOV"])
def test_bad_on_unknown_raises(on_unknown):
    with pytest.raises(ValueError, match="Received: on_unknown="):
        CharVectorizer(on_unknown=on_unknown)
