"""Property-based fuzzing of `CharVectorizer`: any `str`, any vocabulary, any ids.

Why hypothesis rather than atheris: `CharVectorizer`'s contract is a set of
properties over Python values (a round trip is exact, unknown characters
follow `on_unknown`, the TensorFlow and NumPy paths agree, out-of-range ids
are a `ValueError`), which hypothesis states directly and checks inside
pytest on every platform, with failures shrunk to a minimal input. Its text
strategies include what random bytes rarely reach: lone surrogates,
combining marks, characters outside the Basic Multilingual Plane, NUL,
every line separator. atheris (libFuzzer) would need a native build, has no
wheels for every Python the project supports, and its coverage guidance
pays off in parsers with deep branching, not in a lookup table.

The short runs are part of the default suite; `-m large` runs each property
on many more, random, inputs (see `fuzzing.py`).
"""

import json
import unicodedata

import numpy as np
import pytest
import tensorflow as tf
from fuzzing import fuzz
from hypothesis import example
from hypothesis import strategies as st

from keras_chargen.layers.char_table import OOV_CHARACTER
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS, OOV_ID, PADDING_ID

# Every code point, lone surrogates included: a Python `str` may hold them.
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
ANY_TEXT = st.text(ANY_CHARACTER, max_size=60)
# What TensorFlow strings (UTF-8) can hold: no lone surrogates.
UTF8_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
NORMALIZATIONS = st.sampled_from([None, "NFC", "NFD", "NFKC", "NFKD"])
POLICIES = st.sampled_from(["oov", "drop", "raise"])


def vocabulary_of(characters):
    return st.lists(characters, min_size=1, max_size=40, unique=True)


def has_surrogate(text):
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def normalize(text, form):
    return text if form is None else unicodedata.normalize(form, text)


def expected_ids(vectorizer, text, on_unknown):
    ids = {c: i for i, c in enumerate(vectorizer.vocabulary, NUM_RESERVED_IDS)}
    text = normalize(text, vectorizer.normalization)
    if on_unknown == "drop":
        return [ids[c] for c in text if c in ids]
    return [ids.get(c, OOV_ID) for c in text]


def outcome(function, *args):
    """What `function(*args)` gives: its ids, or its error's type and message."""
    try:
        return function(*args).tolist()
    except (ValueError, TypeError) as error:
        return type(error), str(error)


def as_lists(ids):
    return ids.to_list() if isinstance(ids, tf.RaggedTensor) else ids.numpy().tolist()


# ----------------------------------------------------------- round trips
@fuzz(ANY_TEXT.filter(bool), NORMALIZATIONS)
@example("a\ud800b", None)  # lone surrogates: found by this test
def test_adapt_then_encode_and_decode_round_trip_exactly(text, normalization):
    vectorizer = CharVectorizer(normalization=normalization)
    vectorizer.adapt(text)
    ids = vectorizer.encode(text)
    assert ids.dtype == np.int32 and (ids >= NUM_RESERVED_IDS).all()
    assert vectorizer.decode(ids) == normalize(text, normalization)
    assert vectorizer.vocabulary == sorted(set(normalize(text, normalization)))


test_adapt_then_encode_and_decode_round_trip_exactly_large = (
    test_adapt_then_encode_and_decode_round_trip_exactly.large
)


@fuzz(vocabulary_of(ANY_CHARACTER), ANY_TEXT, POLICIES, NORMALIZATIONS)
def test_unknown_characters_follow_on_unknown(
    vocabulary, text, on_unknown, normalization
):
    vectorizer = CharVectorizer(
        vocabulary, on_unknown=on_unknown, normalization=normalization
    )
    text_ids = expected_ids(vectorizer, text, on_unknown)
    if on_unknown == "raise" and OOV_ID in text_ids:
        with pytest.raises(ValueError, match="outside the vocabulary"):
            vectorizer.encode(text)
        return
    assert vectorizer.encode(text).tolist() == text_ids
    known = set(vocabulary)
    decoded = "".join(
        c if c in known else OOV_CHARACTER for c in normalize(text, normalization)
        if c in known or on_unknown == "oov"
    )  # fmt: skip
    assert vectorizer.decode(text_ids) == decoded


test_unknown_characters_follow_on_unknown_large = (
    test_unknown_characters_follow_on_unknown.large
)


@fuzz(
    vocabulary_of(ANY_CHARACTER),
    st.one_of(st.none(), st.integers(1, 10**6)),
    NORMALIZATIONS,
    POLICIES,
)
def test_config_round_trips_through_json(
    vocabulary, sequence_length, normalization, on_unknown
):
    vectorizer = CharVectorizer(
        vocabulary,
        sequence_length=sequence_length,
        normalization=normalization,
        on_unknown=on_unknown,
    )
    config = json.loads(json.dumps(vectorizer.get_config()))
    revived = CharVectorizer.from_config(config)
    assert revived.get_config() == vectorizer.get_config()
    assert revived.get_vocabulary() == vectorizer.get_vocabulary()
    text = "".join(vocabulary) + "?"
    assert outcome(revived.encode, text) == outcome(vectorizer.encode, text)


test_config_round_trips_through_json_large = test_config_round_trips_through_json.large


# Random values for each constructor argument: a config read from a file.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=8,
)


@fuzz(
    st.dictionaries(
        st.sampled_from(
            ["vocabulary", "sequence_length", "normalization", "on_unknown"]
        ),
        JSON | vocabulary_of(ANY_CHARACTER),
    )
)
@example({"vocabulary": 5})  # a raw TypeError: found by this test
def test_any_config_values_build_or_raise_a_value_error(config):
    try:
        vectorizer = CharVectorizer(**config)
    except ValueError as error:
        assert str(error).startswith("`"), error  # names the argument
        return
    assert vectorizer.get_config()["on_unknown"] in ("oov", "drop", "raise")


test_any_config_values_build_or_raise_a_value_error_large = (
    test_any_config_values_build_or_raise_a_value_error.large
)


# ----------------------------------------------------- the TensorFlow path
@fuzz(
    vocabulary_of(ANY_CHARACTER),
    st.lists(ANY_TEXT, min_size=1, max_size=3),
    POLICIES,
    st.one_of(st.none(), st.integers(1, 8)),
    short=15,
    large=3000,
)
def test_the_layer_call_agrees_with_encode(
    vocabulary, texts, on_unknown, sequence_length
):
    vectorizer = CharVectorizer(
        vocabulary, on_unknown=on_unknown, sequence_length=sequence_length
    )
    if any(has_surrogate(t) for t in texts):
        # A string tensor holds UTF-8, which has no form for lone surrogates.
        with pytest.raises(ValueError):
            vectorizer(texts)
        return
    rows = [expected_ids(vectorizer, t, on_unknown) for t in texts]
    if on_unknown == "raise" and any(OOV_ID in row for row in rows):
        with pytest.raises(ValueError, match="outside the vocabulary"):
            vectorizer(texts)
        return
    if sequence_length is not None:
        rows = [
            [PADDING_ID] * (sequence_length - len(r[-sequence_length:]))
            + r[-sequence_length:]
            for r in rows
        ]
    assert as_lists(vectorizer(texts)) == rows
    assert as_lists(vectorizer(texts[0])) == rows[0]


test_the_layer_call_agrees_with_encode_large = (
    test_the_layer_call_agrees_with_encode.large
)


@fuzz(vocabulary_of(UTF8_TEXT.filter(lambda t: len(t) == 1)), st.binary(max_size=40))
def test_a_string_tensor_of_any_bytes_encodes_to_valid_ids(vocabulary, data):
    # Invalid UTF-8 decodes to U+FFFD, as `tf.strings.unicode_decode` does.
    vectorizer = CharVectorizer(vocabulary)
    ids = vectorizer(tf.constant(data)).numpy()
    assert ((ids >= 1) & (ids < vectorizer.vocabulary_size())).all()
    assert len(vectorizer.decode(ids)) == len(ids)


test_a_string_tensor_of_any_bytes_encodes_to_valid_ids_large = (
    test_a_string_tensor_of_any_bytes_encodes_to_valid_ids.large
)


# ------------------------------------------------------------------- ids
INT_DTYPES = st.sampled_from(
    ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
)
ANY_IDS = st.one_of(
    st.lists(st.integers(), max_size=30),  # Python ints of any size
    st.lists(st.integers(-3, 50), max_size=30),
    INT_DTYPES.flatmap(
        lambda dtype: st.lists(
            st.integers(np.iinfo(dtype).min, np.iinfo(dtype).max), max_size=30
        ).map(lambda ids: np.array(ids, dtype=dtype))
    ),
    st.lists(st.lists(st.integers(0, 12), min_size=3, max_size=3), max_size=4).map(
        lambda rows: np.array(rows, dtype="int32").reshape(-1, 3)
    ),
)


@fuzz(vocabulary_of(ANY_CHARACTER), ANY_IDS)
@example(["a"], np.array([2**64 - 1], dtype="uint64"))  # was reported as -1
@example(["a"], [2**70])  # was "expects integer ids. Received dtype object"
@example(["a"], [0, 2**63])  # NumPy makes float64 of these: "not integers"
def test_any_integer_ids_decode_or_name_the_out_of_range_ones(vocabulary, ids):
    vectorizer = CharVectorizer(vocabulary)
    flat = [int(i) for i in np.asarray(ids, dtype=object).reshape(-1)]
    bad = [i for i in flat if not 0 <= i < vectorizer.vocabulary_size()]
    if bad:
        with pytest.raises(ValueError, match="out-of-range ids") as info:
            vectorizer.decode(ids)
        assert str(bad[:10]) in str(info.value)
        return
    table = vectorizer.get_vocabulary()
    expected = "".join(OOV_CHARACTER if i == OOV_ID else table[i] for i in flat if i)
    assert vectorizer.decode(ids) == expected


test_any_integer_ids_decode_or_name_the_out_of_range_ones_large = (
    test_any_integer_ids_decode_or_name_the_out_of_range_ones.large
)


@fuzz(
    vocabulary_of(ANY_CHARACTER),
    st.one_of(
        st.lists(st.floats(), min_size=1, max_size=5),
        st.lists(st.booleans(), min_size=1, max_size=5),
        st.lists(st.text(max_size=2), min_size=1, max_size=5),
        st.lists(st.none(), min_size=1, max_size=5),
    ),
)
def test_ids_that_are_not_integers_are_a_type_error(vocabulary, ids):
    with pytest.raises(TypeError, match="expects integer ids"):
        CharVectorizer(vocabulary).decode(ids)


test_ids_that_are_not_integers_are_a_type_error_large = (
    test_ids_that_are_not_integers_are_a_type_error.large
)


# ------------------------------------------------------------- found bugs
def test_lone_surrogates_round_trip():
    # Found by the fuzzer: `encode` raised UnicodeEncodeError ("surrogates
    # not allowed") for text that `adapt` had accepted.
    vectorizer = CharVectorizer()
    vectorizer.adapt("a\ud800b\udfff")
    ids = vectorizer.encode("\udfffa\ud800")
    assert ids.tolist() == [5, 2, 4]
    assert vectorizer.decode(ids) == "\udfffa\ud800"


def test_out_of_range_ids_are_reported_as_given():
    # Found by the fuzzer: uint64 ids were cast to int64 first, so 2**64 - 1
    # was reported as -1, and Python ints beyond 64 bits as "not integers".
    vectorizer = CharVectorizer(["a"])
    with pytest.raises(ValueError, match=r"ids: \[18446744073709551615\]"):
        vectorizer.decode(np.array([2**64 - 1], dtype="uint64"))
    with pytest.raises(ValueError, match=r"ids: \[1180591620717411303424\]"):
        vectorizer.decode([2, 2**70])
    with pytest.raises(ValueError, match=r"ids: \[9223372036854775808\]"):
        vectorizer.decode([0, 2**63])  # NumPy makes float64 of this list
    with pytest.raises(TypeError, match="Received dtype float64"):
        vectorizer.decode([0.0, 2.0])


def test_a_vocabulary_that_is_not_a_list_is_a_value_error():
    # Found by the fuzzer: `vocabulary=5` raised "'int' object is not iterable".
    with pytest.raises(ValueError, match="`vocabulary` must be a list of single"):
        CharVectorizer(vocabulary=5)
