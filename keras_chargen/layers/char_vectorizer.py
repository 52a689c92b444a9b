"""`CharVectorizer`: a lossless character <-> id layer."""

import unicodedata
from collections.abc import Iterable

import keras
import numpy as np
import tensorflow as tf

from keras_chargen.layers.char_table import OOV_CHARACTER, CharTable
from keras_chargen.layers.reserved_ids import (
    NUM_RESERVED_IDS,
    OOV_ID,
    OOV_TOKEN,
    PADDING_ID,
    PADDING_TOKEN,
)

# The reserved ids and tokens are defined in `reserved_ids`; they stay
# importable from here for the code that reads them beside the layer.
__all__ = ["CharVectorizer", "OOV_CHARACTER", "OOV_ID", "OOV_TOKEN", "PADDING_ID"]
_POLICIES = ("oov", "drop", "raise")
_NORMALIZATIONS = (None, "NFC", "NFD", "NFKC", "NFKD")


@keras.saving.register_keras_serializable(package="keras_chargen")
class CharVectorizer(keras.layers.Layer):
    """Maps text to character ids and back, losing nothing.

    Every Unicode code point is its own token: case, punctuation, `\\n`,
    `\\r`, U+2028, emoji and combining marks are all kept. Id 0 is padding
    (and the mask value), id 1 stands for characters outside the
    vocabulary, and the vocabulary's characters follow from id 2 in the
    order given (sorted by code point when learned with `adapt()`).

    The vocabulary lives in `get_config()` as a JSON list of characters, so
    a `.keras` file restores it exactly (Keras' `StringLookup` stores it as
    newline-joined text and silently loses `"\\n"`).

    Args:
        vocabulary: Optional list of single characters (or a string, read as
            its characters). Defaults to `None`: call `adapt()` first.
        sequence_length: Optional int. When set, outputs are padded or
            truncated to this length: truncation keeps the **last**
            characters and padding (id 0) goes on the **left**, so the last
            position always holds the text's last character, which is what
            generation needs. Defaults to `None`: one id per character, a
            ragged tensor for a batch.
        normalization: Optional Unicode normalisation form applied before
            lookup: `"NFC"`, `"NFD"`, `"NFKC"` or `"NFKD"`. Defaults to
            `None` (text is used exactly as given).
        on_unknown: What to do with a character outside the vocabulary:
            `"oov"` maps it to id 1, `"drop"` removes it, `"raise"` raises a
            `ValueError` naming it. Defaults to `"oov"`.

    Call arguments:
        inputs: a `str`, a list of `str`, or a string tensor.

    Returns:
        int32 ids: a 1-D tensor for one string; for a batch, a
        `tf.RaggedTensor` (or a dense `(batch, sequence_length)` tensor when
        `sequence_length` is set).

    Example:

    ```python
    vectorizer = keras_chargen.CharVectorizer()
    vectorizer.adapt("Hello, world!\\n")
    ids = vectorizer.encode("Hello")
    vectorizer.decode(ids)  # "Hello"
    ```
    """

    def __init__(
        self,
        vocabulary=None,
        sequence_length=None,
        normalization=None,
        on_unknown="oov",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if sequence_length is not None and (
            isinstance(sequence_length, bool)
            or not isinstance(sequence_length, int)
            or sequence_length < 1
        ):
            raise ValueError(
                "`sequence_length` must be None or a positive int. "
                f"Received: sequence_length={sequence_length!r}"
            )
        if normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"`normalization` must be one of {_NORMALIZATIONS}. "
                f"Received: normalization={normalization!r}"
            )
        if on_unknown not in _POLICIES:
            raise ValueError(
                f"`on_unknown` must be one of {_POLICIES}. "
                f"Received: on_unknown={on_unknown!r}"
            )
        self.sequence_length = sequence_length
        self.normalization = normalization
        self.on_unknown = on_unknown
        self.vocabulary = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ----------------------------------------------------------- vocabulary
    def set_vocabulary(self, vocabulary):
        """Sets the vocabulary from a list of distinct single characters."""
        try:
            vocabulary = list(vocabulary)
        except TypeError:
            raise ValueError(
                "`vocabulary` must be a list of single characters. "
                f"Received: vocabulary={_describe(vocabulary)}"
            ) from None
        bad = [c for c in vocabulary if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(
                "`vocabulary` must be a list of single characters. "
                f"Received these entries: {bad[:5]!r}"
            )
        if not vocabulary:
            raise ValueError("`vocabulary` must not be empty. Received: []")
        if len(set(vocabulary)) != len(vocabulary):
            dupes = sorted({c for c in vocabulary if vocabulary.count(c) > 1})
            raise ValueError(
                "`vocabulary` must not repeat a character. "
                f"Received duplicates: {dupes[:5]!r}"
            )
        self.vocabulary = vocabulary
        self._table = CharTable(vocabulary)

    def adapt(self, data):
        """Learns the vocabulary: every distinct character, by code point.

        Args:
            data: a `str`, an iterable of `str`, or a `tf.data.Dataset` of
                string scalars or batches.

        Raises:
            ValueError: if `data` holds no characters.
            TypeError: if `data` is not text.
        """
        chars = set()
        for chunk in self._iter_text(data):
            chars.update(self._normalize(chunk))
        if not chars:
            raise ValueError(
                "Cannot adapt `CharVectorizer` on empty text: the data holds "
                f"no characters. Received: data={_describe(data)}"
            )
        self.set_vocabulary(sorted(chars))

    @staticmethod
    def _iter_text(data):
        if isinstance(data, str):
            yield data
        elif isinstance(data, tf.data.Dataset):
            for item in data.as_numpy_iterator():
                for value in np.ravel(item):
                    yield value.decode("utf-8")
        elif isinstance(data, Iterable) and not isinstance(data, bytes | np.ndarray):
            for item in data:
                if not isinstance(item, str):
                    raise TypeError(
                        "`adapt()` expects a str, an iterable of str or a "
                        f"tf.data.Dataset of strings. Received an item of type "
                        f"{type(item).__name__}: {item!r:.50}"
                    )
                yield item
        else:
            raise TypeError(
                "`adapt()` expects a str, an iterable of str or a "
                f"tf.data.Dataset of strings. Received: {_describe(data)}"
            )

    def get_vocabulary(self):
        """The id -> token list: `["", "[UNK]", *characters]`."""
        self._check_adapted()
        return [PADDING_TOKEN, OOV_TOKEN, *self.vocabulary]

    def vocabulary_size(self):
        """Number of ids, the two reserved ones included."""
        self._check_adapted()
        return len(self.vocabulary) + NUM_RESERVED_IDS

    def _check_adapted(self):
        if self.vocabulary is None:
            raise ValueError(
                "This `CharVectorizer` has no vocabulary yet. Call "
                "`adapt(text)` or pass `vocabulary=` first."
            )

    def _normalize(self, text):
        if self.normalization is None:
            return text
        return unicodedata.normalize(self.normalization, text)

    # ------------------------------------------------------- encode / decode
    def encode(self, text):
        """Encodes one string to a 1-D int32 NumPy array (no padding)."""
        self._check_adapted()
        if not isinstance(text, str):
            raise TypeError(f"`encode()` expects a str. Received: {_describe(text)}")
        return self._table.encode(self._normalize(text), self.on_unknown)

    def decode(self, ids):
        """Decodes ids to a string. Padding (0) is skipped; 1 becomes U+FFFD.

        Raises:
            ValueError: if an id is outside `[0, vocabulary_size())`.
            TypeError: if the ids are not integers.
        """
        self._check_adapted()
        return self._table.decode(ids)

    def detokenize(self, ids):
        """Decodes one sequence to a `str`, or a batch to a list of `str`."""
        if isinstance(ids, tf.RaggedTensor):
            return [self.decode(row) for row in ids.numpy()]
        ids = keras.ops.convert_to_numpy(ids)
        if ids.ndim <= 1:
            return self.decode(ids)
        return [self.decode(row) for row in ids]

    # ----------------------------------------------------------- layer call
    def __call__(self, inputs, **kwargs):
        # Keras only takes tensors positionally: convert Python strings first.
        self._check_adapted()
        inputs = self._to_string_tensor(inputs)
        if keras.backend.backend() == "tensorflow":
            return super().__call__(inputs, **kwargs)
        # Other backends cannot hold strings: run the TensorFlow string code
        # itself, in a tf.data pipeline or eagerly, as Keras' own string
        # layers do. Eagerly, a dense result becomes a backend tensor.
        outputs = self.call(inputs)
        if tf.executing_eagerly() and not isinstance(outputs, tf.RaggedTensor):
            outputs = keras.ops.convert_to_tensor(outputs.numpy())
        return outputs

    def call(self, inputs):
        if self.normalization is not None:
            normalized = tf.numpy_function(
                self._normalize_array, [inputs], tf.string, stateful=False
            )
            # numpy_function forgets the shape; unicode_decode needs the rank.
            normalized.set_shape(inputs.shape)
            inputs = normalized
        return self._table.encode_strings(inputs, self.on_unknown, self.sequence_length)

    def _normalize_array(self, array):
        # A scalar string arrives as `bytes`, not an array. Object arrays keep
        # trailing "\x00" characters, which a fixed-width bytes array strips.
        normalize = np.frompyfunc(
            lambda b: self._normalize(b.decode("utf-8")).encode("utf-8"), 1, 1
        )
        return np.asarray(normalize(np.asarray(array, dtype=object)), dtype=object)

    def _to_string_tensor(self, inputs):
        if isinstance(inputs, str):
            return tf.constant(inputs)
        if isinstance(inputs, list | tuple):
            if not all(isinstance(x, str) for x in inputs):
                raise TypeError(
                    "`CharVectorizer` expects a str, a list of str or a string "
                    f"tensor. Received a list holding: {_describe(inputs)}"
                )
            return tf.constant(list(inputs), dtype=tf.string)
        if isinstance(inputs, tf.Tensor) and inputs.dtype == tf.string:
            return inputs
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind in "USO":
            return tf.constant(inputs.astype(str).tolist(), dtype=tf.string)
        raise TypeError(
            "`CharVectorizer` expects a str, a list of str or a string tensor. "
            f"Received: {_describe(inputs)}"
        )

    def compute_output_spec(self, inputs):
        shape = (None, self.sequence_length) if self.sequence_length else (None, None)
        return keras.KerasTensor(shape, dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary,
                "sequence_length": self.sequence_length,
                "normalization": self.normalization,
                "on_unknown": self.on_unknown,
            }
        )
        return config


def _describe(value):
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} (of type {type(value).__name__})"
