"""`CharTable`: the character <-> id lookup behind `CharVectorizer`.

Both encode paths live here, side by side, so that they cannot drift apart:
`encode` (NumPy, one Python string) and `encode_strings` (TensorFlow, string
tensors, also inside `tf.data` pipelines and `tf.function`s).
"""

import numpy as np
import tensorflow as tf

from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS, OOV_ID, PADDING_ID

# Unknown ids decode to U+FFFD so the decoded text keeps one character per id.
OOV_CHARACTER = "\ufffd"


def codepoints(text):
    """Unicode code points of `text` as a uint32 array, without a Python loop."""
    # "surrogatepass": a Python str may hold lone surrogates (U+D800-U+DFFF,
    # e.g. from `surrogateescape`); they are code points like any other.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class CharTable:
    """Looks characters up by binary search over the vocabulary's code points.

    Args:
        vocabulary: list of distinct single characters, already checked by
            the caller. Character `i` gets id `NUM_RESERVED_IDS + i`.
    """

    def __init__(self, vocabulary):
        codes = np.array([ord(c) for c in vocabulary], dtype=np.uint32)
        order = np.argsort(codes)
        self.size = NUM_RESERVED_IDS + len(codes)
        self._sorted_codes = codes[order]
        self._sorted_ids = (order + NUM_RESERVED_IDS).astype(np.int32)
        # id -> code point. Padding is removed before the lookup, so its entry
        # is never read.
        reserved = np.zeros(NUM_RESERVED_IDS, np.uint32)
        reserved[OOV_ID] = ord(OOV_CHARACTER)
        self._id_to_code = np.concatenate([reserved, codes])
        self._tf_codes = tf.constant(self._sorted_codes.astype(np.int32))
        self._tf_ids = tf.constant(self._sorted_ids)

    def encode(self, text, on_unknown):
        """Ids of one (normalised) `str` as a 1-D int32 NumPy array."""
        codes = codepoints(text)
        pos = np.searchsorted(self._sorted_codes, codes)
        pos = np.minimum(pos, len(self._sorted_codes) - 1)
        known = self._sorted_codes[pos] == codes
        if known.all():
            return self._sorted_ids[pos]
        if on_unknown == "raise":
            _raise_unknown(codes[~known])
        if on_unknown == "drop":
            return self._sorted_ids[pos[known]]
        return np.where(known, self._sorted_ids[pos], OOV_ID).astype(np.int32)

    def decode(self, ids):
        """The text of `ids`: padding skipped, the OOV id as U+FFFD."""
        ids = _as_ids(ids)
        # Compared before any cast, so that the message shows the ids given.
        bad = ids[(ids < 0) | (ids >= self.size)] if ids.size else ids
        if bad.size:
            raise ValueError(
                f"Ids must be in [0, {self.size}) for this "
                f"vocabulary. Received out-of-range ids: {bad[:10].tolist()}"
            )
        ids = ids[ids != PADDING_ID].astype(np.int64)
        return self._id_to_code[ids].tobytes().decode("utf-32-le", "surrogatepass")

    def encode_strings(self, strings, on_unknown, sequence_length=None):
        """Ids of a scalar or 1-D string tensor.

        Returns a 1-D tensor for a scalar and a `tf.RaggedTensor` for a batch;
        with `sequence_length`, dense `(sequence_length,)` or
        `(batch, sequence_length)` ids padded on the left.
        """
        scalar = strings.shape.rank == 0
        codes = tf.strings.unicode_decode(
            tf.reshape(strings, [-1]) if scalar else strings, "UTF-8"
        )
        flat = codes.flat_values
        pos = tf.searchsorted(self._tf_codes, flat)
        pos = tf.minimum(pos, tf.size(self._tf_codes) - 1)
        known = tf.equal(tf.gather(self._tf_codes, pos), flat)
        ids = tf.where(known, tf.gather(self._tf_ids, pos), OOV_ID)
        ids = codes.with_flat_values(ids)
        if on_unknown == "drop":
            ids = tf.ragged.boolean_mask(ids, codes.with_flat_values(known))
        elif on_unknown == "raise" and tf.executing_eagerly():
            if not bool(tf.reduce_all(known)):
                _raise_unknown(tf.boolean_mask(flat, ~known).numpy())
        elif on_unknown == "raise":
            check = tf.debugging.Assert(
                tf.reduce_all(known),
                [
                    "CharVectorizer(on_unknown='raise'): text holds characters "
                    "outside the vocabulary."
                ],
            )
            with tf.control_dependencies([check]):
                ids = tf.identity(ids)
        if sequence_length is not None:
            ids = _pad_left(ids, sequence_length)
            return ids[0] if scalar else ids
        return ids.values if scalar else ids


def _as_ids(ids):
    """`ids` as a 1-D integer (or, beyond 64 bits, object) array, exactly."""
    array = np.asarray(ids).reshape(-1)
    if array.dtype.kind in "fO":
        # NumPy turns Python ints beyond 64 bits into objects, and a mix of
        # ints below 2**63 and above it into float64: keep them exact.
        exact = np.asarray(ids, dtype=object).reshape(-1)
        if all(_is_int(i) for i in exact.tolist()):
            return exact
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"`decode()` expects integer ids. Received dtype {array.dtype}")
    return array


def _is_int(value):
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _pad_left(ids, length):
    # Reverse, truncate/pad on the right, reverse back: keeps the last
    # characters and puts padding on the left.
    dense = ids[:, ::-1].to_tensor(default_value=PADDING_ID, shape=[None, length])
    return dense[:, ::-1]


def _raise_unknown(codes):
    unknown = sorted({chr(c) for c in codes})
    raise ValueError(
        f"Text holds {len(unknown)} character(s) outside the "
        f"vocabulary: {unknown[:10]!r}. Received on_unknown='raise'; "
        "use on_unknown='oov' or 'drop' to accept them."
    )
