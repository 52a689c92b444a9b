"""`CharLM`: a recurrent character language model that carries its vocabulary."""

import keras

from keras_chargen import fused_lstm
from keras_chargen.char_vectorizer import CharVectorizer

# fused_lstm.LSTM is keras.layers.LSTM with the same weights and a faster
# training loop on CPU.
_CELLS = {"lstm": fused_lstm.LSTM, "gru": keras.layers.GRU}


@keras.saving.register_keras_serializable(package="keras_chargen")
class CharLM(keras.Model):
    """Embedding -> stacked LSTM/GRU -> Dense logits, with its vocabulary.

    A functional model (subclassed as KerasHub's task models are) mapping
    int ids `(batch, time)` to next-character logits
    `(batch, time, vocabulary_size)`: every position predicts the one after
    it. The `CharVectorizer` travels in `get_config()`, so one `.keras` file
    holds weights, architecture and vocabulary:
    `keras.saving.load_model("run.keras")` gives back a model that can
    `generate()`.

    Dropout is applied to each recurrent layer's inputs and to the output
    features, never as `recurrent_dropout`, which would disable the fused
    cuDNN kernel on GPU and force a slower unfused cell on CPU.

    Usually built and compiled by `keras_chargen.build_char_lstm`.

    Args:
        vectorizer: an adapted `keras_chargen.CharVectorizer` (or its
            config dict), or `None` to use `vocabulary_size` alone (such a
            model trains but cannot decode text).
        vocabulary_size: int, required only when `vectorizer` is `None`.
        embedding_dim: int. Defaults to `64`.
        units: int, units per recurrent layer. Defaults to `256`.
        num_layers: int, recurrent layers. Defaults to `2`.
        dropout: float in `[0, 1)`. Defaults to `0.1`.
        cell: `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        layer_norm: bool, `LayerNormalization` after each recurrent layer.
            Defaults to `False`.

    Example:

    ```python
    vectorizer = keras_chargen.CharVectorizer()
    vectorizer.adapt("hello world")
    model = keras_chargen.CharLM(vectorizer, units=32, num_layers=1)
    model.generate("he", length=20)
    ```
    """

    def __init__(
        self,
        vectorizer=None,
        vocabulary_size=None,
        embedding_dim=64,
        units=256,
        num_layers=2,
        dropout=0.1,
        cell="lstm",
        layer_norm=False,
        **kwargs,
    ):
        if isinstance(vectorizer, dict):
            vectorizer = keras.saving.deserialize_keras_object(vectorizer)
        if vectorizer is not None:
            if not isinstance(vectorizer, CharVectorizer):
                raise ValueError(
                    "`vectorizer` must be a keras_chargen.CharVectorizer. "
                    f"Received: vectorizer={vectorizer!r}"
                )
            if vocabulary_size not in (None, vectorizer.vocabulary_size()):
                raise ValueError(
                    "`vocabulary_size` must match the vectorizer's "
                    f"{vectorizer.vocabulary_size()} ids (or be left out). "
                    f"Received: vocabulary_size={vocabulary_size!r}"
                )
            vocabulary_size = vectorizer.vocabulary_size()
        _check_int("vocabulary_size", vocabulary_size, 3)
        _check_int("embedding_dim", embedding_dim, 1)
        _check_int("units", units, 1)
        _check_int("num_layers", num_layers, 1)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not 0 <= dropout < 1
        ):
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        if cell not in _CELLS:
            raise ValueError(
                f"`cell` must be one of {sorted(_CELLS)}. Received: cell={cell!r}"
            )

        # === Functional graph ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, name="embedding"
        )(token_ids)
        for i in range(num_layers):
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
            x = _CELLS[cell](units, return_sequences=True, name=f"{cell}_{i}")(x)
            if layer_norm:
                x = keras.layers.LayerNormalization(name=f"layer_norm_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="dropout_out")(x)
        logits = keras.layers.Dense(vocabulary_size, name="logits")(x)
        super().__init__(inputs=token_ids, outputs=logits, **kwargs)

        # === Config ===
        self.vectorizer = vectorizer
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.dropout = dropout
        self.cell = cell
        self.layer_norm = layer_norm

    def generate(self, prompts, length=100, sampler=None, stop=None):
        """Continues prompt(s); see `keras_chargen.TextGenerator.generate`."""
        from keras_chargen.text_generator import TextGenerator

        if getattr(self, "_generator", None) is None:
            self._generator = TextGenerator(self)
        return self._generator.generate(prompts, length, sampler=sampler, stop=stop)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vectorizer": (
                None
                if self.vectorizer is None
                else keras.saving.serialize_keras_object(self.vectorizer)
            ),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "cell": self.cell,
            "layer_norm": self.layer_norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )
