"""`build_char_lstm`: a KerasTuner build function for `CharLM`."""

import keras

from keras_chargen.metrics.bits_per_character import BitsPerCharacter
from keras_chargen.metrics.perplexity_metric import PerplexityMetric
from keras_chargen.models.char_lm import CharLM

# name -> (kind, default, search arguments). The defaults were chosen by
# measurement on 150k characters of tiny-shakespeare on a 2-core CPU (see
# docs/benchmarks.md): a 2x256 LSTM reaches a lower held-out bits/char in
# 15 minutes than the tutorial's 2x512, which is 3-4x slower per step.
SEARCH_SPACE = {
    "embedding_dim": ("Int", 64, dict(min_value=32, max_value=512, step=32)),
    "lstm_units": ("Int", 256, dict(min_value=128, max_value=1024, step=128)),
    "num_layers": ("Int", 2, dict(min_value=1, max_value=3)),
    "dropout": ("Float", 0.1, dict(min_value=0.0, max_value=0.5, step=0.1)),
    "learning_rate": (
        "Float",
        3e-3,
        dict(min_value=3e-4, max_value=1e-2, sampling="log"),
    ),
}


class _Defaults:
    """Stands in for `keras_tuner.HyperParameters` when `hp` is `None`."""

    def Int(self, name, min_value, max_value, step=None, sampling=None, default=None):
        return default

    Float = Int

    def Choice(self, name, values, ordered=None, default=None):
        return default


def build_char_lstm(
    hp=None,
    *,
    vectorizer=None,
    vocabulary_size=None,
    cell="lstm",
    layer_norm=False,
    clipnorm=1.0,
    weight_decay=0.0,
    variational_dropout=False,
    **fixed,
):
    """Builds and compiles a `CharLM`; usable as a KerasTuner build function.

    `hp` is duck-typed: anything with KerasTuner's `Int` / `Float` methods
    works, so `import keras_chargen` never imports `keras_tuner`. `hp=None`
    builds the defaults. A hyperparameter given as a keyword argument is
    fixed and left out of the search.

    | hyperparameter  | default | search range                 |
    |-----------------|---------|------------------------------|
    | `embedding_dim` | 64      | 32-512, step 32              |
    | `lstm_units`    | 256     | 128-1024, step 128           |
    | `num_layers`    | 2       | 1-3                          |
    | `dropout`       | 0.1     | 0.0-0.5, step 0.1            |
    | `learning_rate` | 3e-3    | 3e-4-1e-2, log               |

    The model maps int ids `(batch, time)` to logits
    `(batch, time, vocabulary_size)`. It is compiled with Adam (gradient
    clipping by `clipnorm`; AdamW when `weight_decay` > 0), sparse
    categorical cross-entropy from logits that ignores padding (id 0), and
    the metrics `PerplexityMetric`, `BitsPerCharacter` and accuracy.

    Args:
        hp: Optional `keras_tuner.HyperParameters`. Defaults to `None`.
        vectorizer: an adapted `keras_chargen.CharVectorizer`; the model
            keeps it and can then generate text.
        vocabulary_size: int, when no `vectorizer` is given.
        cell: `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        layer_norm: bool. Defaults to `False`.
        clipnorm: Optional float, Adam's gradient-norm clip. Defaults to `1.0`.
        weight_decay: float >= 0, AdamW's decoupled weight decay (each step
            multiplies the weights by `1 - learning_rate * weight_decay`);
            `0` compiles plain Adam. Defaults to `0.0`.
        variational_dropout: bool, one dropout mask per sequence (see
            `CharLM`). Defaults to `False`.
        **fixed: fixed values for hyperparameters of the table above.

    Returns:
        A compiled `keras_chargen.CharLM`.

    Example:

    ```python
    model = keras_chargen.build_char_lstm(vectorizer=vectorizer, lstm_units=128)
    model.fit(train_ds, validation_data=val_ds, epochs=3)
    ```
    """
    unknown = sorted(set(fixed) - set(SEARCH_SPACE))
    if unknown:
        raise ValueError(
            f"Unknown hyperparameter(s): the known ones are {sorted(SEARCH_SPACE)}. "
            f"Received: {unknown}"
        )
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, int | float)
        or not weight_decay >= 0
    ):
        raise ValueError(
            "`weight_decay` must be a number >= 0. "
            f"Received: weight_decay={weight_decay!r}"
        )
    hp = _Defaults() if hp is None else hp
    values = {}
    for name, (kind, default, search) in SEARCH_SPACE.items():
        if name in fixed:
            values[name] = fixed[name]
        else:
            values[name] = getattr(hp, kind)(name, default=default, **search)
    model = CharLM(
        vectorizer,
        vocabulary_size=vocabulary_size,
        embedding_dim=values["embedding_dim"],
        units=values["lstm_units"],
        num_layers=values["num_layers"],
        dropout=values["dropout"],
        cell=cell,
        layer_norm=layer_norm,
        variational_dropout=variational_dropout,
    )
    if weight_decay:
        optimizer = keras.optimizers.AdamW(
            values["learning_rate"], weight_decay=weight_decay, clipnorm=clipnorm
        )
    else:
        optimizer = keras.optimizers.Adam(values["learning_rate"], clipnorm=clipnorm)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=0
        ),
        metrics=[
            PerplexityMetric(mask_token_id=0),
            BitsPerCharacter(mask_token_id=0),
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        ],
    )
    return model
