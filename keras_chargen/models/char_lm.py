"""`CharLM`: a recurrent character language model that carries its vocabulary."""

import keras

from keras_chargen.backend import fused
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.recurrent_stack import RecurrentStack

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
_MATMUL_DTYPES = ("auto", "bfloat16", "float32")


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
    cuDNN kernel on GPU and force a slower unfused cell on CPU. With
    `variational_dropout=True` each sequence keeps one dropout mask for all
    its time steps (the same features dropped at every step, as in Gal and
    Ghahramani's variational RNN dropout and AWD-LSTM's locked dropout)
    instead of a new mask per step.

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
        variational_dropout: bool, one dropout mask per sequence instead
            of one per time step. Defaults to `False`.
        cell: `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        layer_norm: bool, `LayerNormalization` after each recurrent layer.
            Defaults to `False`.
        use_fused_lstm: `"auto"`, `True` or `False`: train the LSTM layers
            with keras_chargen's fused CPU loop
            (`keras_chargen/backend/tensorflow.py` and `jax.py`: input
            projections and kernel gradients batched outside the loop, a
            hand-written gradient) instead of Keras' own loop. `"auto"` uses
            it on the TensorFlow and JAX backends without a GPU; `True`
            raises elsewhere.
            Same weights and results either way (up to rounding). Defaults
            to `"auto"`.
        training_matmul_dtype: `"auto"`, `"bfloat16"` or `"float32"`: the
            dtype of the fused loop's matrix products during training
            (inference always uses float32; Keras' own loop always uses
            float32). `"auto"` is resolved when the model is built: to
            bfloat16 when the fused loop runs on a CPU with bfloat16 matrix
            units (AMX or AVX512-BF16), else float32. The resolved value is
            what `get_config()` saves and `keras_chargen.train` reports, so
            a loaded model keeps the numerics it was trained with. Defaults
            to `"auto"`.

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
        use_fused_lstm="auto",
        variational_dropout=False,
        training_matmul_dtype="auto",
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
        if not isinstance(variational_dropout, bool):
            raise ValueError(
                "`variational_dropout` must be a bool. Received: "
                f"variational_dropout={variational_dropout!r}"
            )
        if cell not in _CELLS:
            raise ValueError(
                f"`cell` must be one of {sorted(_CELLS)}. Received: cell={cell!r}"
            )
        if use_fused_lstm not in ("auto", True, False):
            raise ValueError(
                "`use_fused_lstm` must be 'auto', True or False. "
                f"Received: use_fused_lstm={use_fused_lstm!r}"
            )
        fused_lstm = fused.fused_lstm_function() if cell == "lstm" else None
        if use_fused_lstm is True and fused_lstm is None:
            raise ValueError(
                "`use_fused_lstm=True` needs cell='lstm' and the TensorFlow or "
                f"JAX backend on a CPU. Received: cell={cell!r}, backend "
                f"{keras.backend.backend()!r}; use 'auto' or False."
            )
        if training_matmul_dtype not in _MATMUL_DTYPES:
            raise ValueError(
                f"`training_matmul_dtype` must be one of {_MATMUL_DTYPES}. "
                f"Received: training_matmul_dtype={training_matmul_dtype!r}"
            )

        # === Functional graph ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, name="embedding"
        )
        x = embedding(token_ids)
        between = []  # the layers after the embedding, in order
        # Variational: one mask per (row, feature), shared by all time steps.
        noise_shape = (None, 1, None) if variational_dropout else None
        for i in range(num_layers):
            if dropout:
                between.append(
                    keras.layers.Dropout(
                        dropout, noise_shape=noise_shape, name=f"dropout_{i}"
                    )
                )
            between.append(
                _CELLS[cell](units, return_sequences=True, name=f"{cell}_{i}")
            )
            if layer_norm:
                between.append(keras.layers.LayerNormalization(name=f"layer_norm_{i}"))
        if dropout:
            between.append(
                keras.layers.Dropout(
                    dropout, noise_shape=noise_shape, name="dropout_out"
                )
            )
        between.append(keras.layers.Dense(vocabulary_size, name="logits"))
        for layer in between:
            x = layer(x)
        super().__init__(inputs=token_ids, outputs=x, **kwargs)

        # === Config ===
        self.vectorizer = vectorizer
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.dropout = dropout
        self.variational_dropout = variational_dropout
        self.cell = cell
        self.layer_norm = layer_norm
        self.use_fused_lstm = use_fused_lstm
        self.fused_lstm_active = use_fused_lstm is not False and fused_lstm is not None
        self._fused_lstm_function = fused_lstm
        if training_matmul_dtype == "auto":
            training_matmul_dtype = (
                fused.default_training_matmul_dtype()
                if self.fused_lstm_active
                else "float32"
            )
        self.training_matmul_dtype = training_matmul_dtype

        # === The recurrent-state protocol ===
        recurrent = [la for la in between if isinstance(la, _CELLS[cell])]
        first = between.index(recurrent[0])
        last = between.index(recurrent[-1])
        self._stack = RecurrentStack(
            embedding,
            pre=between[:first],
            body=between[first : last + 1],
            recurrent={id(la): cell for la in recurrent},
            head=between[last + 1 :],
            fused_lstm=self._fused_lstm if self.fused_lstm_active else None,
        )

    def call(self, inputs, training=None, mask=None):
        if not self.fused_lstm_active:
            return super().call(inputs, training=training, mask=mask)
        batch = keras.ops.shape(inputs)[0]
        logits, _ = self._stack.call_with_state(
            inputs, self.initial_state(batch), training=bool(training)
        )
        return logits

    def initial_state(self, batch_size):
        """The zero state for `batch_size` rows.

        Returns:
            A list with one entry per recurrent layer: `[h, c]` for an
            LSTM, `[h]` for a GRU, each float32 `(batch_size, units)`.
        """
        return self._stack.initial_state(batch_size)

    def call_with_state(self, token_ids, states, training=False, step_weights=None):
        """Runs `token_ids` from `states`; returns logits and the new states.

        The recurrent-state protocol (as KerasHub's `call_with_cache`): a
        whole prompt goes through in one call, then one id per call, each
        call starting from the states the previous one returned. Padding
        (id 0) leaves a row's states unchanged, so prompts of different
        lengths can be left-padded into one batch.

        Args:
            token_ids: int ids `(batch, time)`.
            states: `initial_state(batch)` or states returned by this method.
            training: bool, dropout on. Defaults to `False`.
            step_weights: Optional result of `step_weights()`, for inference
                in a loop: the weights are then prepared once, not per call.
                Defaults to `None`.

        Returns:
            `(logits, new_states)`: float32 `(batch, time, vocabulary_size)`
            and states shaped as `initial_state`'s.
        """
        return self._stack.call_with_state(token_ids, states, training, step_weights)

    def step_weights(self, dtype="float32"):
        """The weights arranged for fast inference steps (see `call_with_state`).

        Cut per gate, cast to `dtype` (`"float32"`, `"bfloat16"` or
        `"float16"`) and with the first layer's input projection folded into
        a per-character table. Read from the current weights: prepare them
        again after the weights change.
        """
        return self._stack.step_weights(dtype)

    def _fused_lstm(self, *args, training):
        dtype = self.training_matmul_dtype if training else "float32"
        return self._fused_lstm_function(*args, matmul_dtype=dtype)

    def generate(self, prompts, length=100, sampler=None, stop=None):
        """Continues prompt(s); see `keras_chargen.TextGenerator.generate`."""
        return self._text_generator().generate(
            prompts, length, sampler=sampler, stop=stop
        )

    def score(self, texts, prompts=None):
        """Per-character log-probabilities; see `keras_chargen.TextGenerator.score`."""
        return self._text_generator().score(texts, prompts=prompts)

    def _text_generator(self):
        from keras_chargen.generation.text_generator import TextGenerator

        # One generator per model: its compiled functions are reused.
        if getattr(self, "_generator", None) is None:
            self._generator = TextGenerator(self)
        return self._generator

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
            "variational_dropout": self.variational_dropout,
            "cell": self.cell,
            "layer_norm": self.layer_norm,
            "use_fused_lstm": self.use_fused_lstm,
            "training_matmul_dtype": self.training_matmul_dtype,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def from_preset(cls, name):
        """Loads a trained model shipped with keras_chargen, by name.

        The preset files are inside the package (nothing is downloaded) and
        load with `safe_mode=True`; `keras_chargen.list_presets()` names
        them and docs/presets.md says how each was trained.

        Args:
            name: `str`, one of `keras_chargen.list_presets()`.

        Returns:
            A `CharLM` with its vocabulary, ready to `generate()`.

        Raises:
            ValueError: if `name` is not a preset (the message lists them).

        Example:

        ```python
        model = keras_chargen.CharLM.from_preset("shakespeare")
        model.generate("ROMEO:", length=200)
        ```
        """
        from keras_chargen.models.presets import load_preset

        return load_preset(name)


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )
