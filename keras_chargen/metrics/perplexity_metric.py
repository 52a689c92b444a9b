"""Token-weighted perplexity for character-level language models."""

import math
import numbers

import keras
from keras import ops

# Probabilities are clipped here before `log` so a zero probability gives a
# large, finite loss instead of `inf`.
_EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="keras_chargen")
class PerplexityMetric(keras.metrics.Metric):
    """Perplexity: `exp` of the mean negative log-likelihood per token.

    The mean is token-weighted over every counted target seen since the last
    `reset_state()`: the metric keeps the summed negative log-likelihood and
    the summed token weights across all `update_state()` calls, so the result
    does not depend on how the data is split into batches. It is never a mean
    of per-batch perplexities.

    Targets are sparse integer ids. Two layouts are accepted:

    - many-to-many: `y_true` of shape `(batch, time)` with `y_pred` of shape
      `(batch, time, vocabulary_size)`;
    - many-to-one: `y_true` of shape `(batch,)` with `y_pred` of shape
      `(batch, vocabulary_size)`.

    A trailing axis of size 1 on `y_true` (same rank as `y_pred`) is squeezed.
    All math runs in float32 with `keras.ops`, so the metric works on every
    Keras backend. Before any update the result is `0.0` (as in KerasHub's
    `Perplexity`), which no real perplexity can equal.

    Use `bits_per_char()` for the same quantity in bits per character, or the
    `keras_chargen.BitsPerCharacter` metric to log it during training.

    Args:
        from_logits: bool. Whether `y_pred` holds logits (`True`) or
            probabilities (`False`, clipped to `[1e-7, 1]` before `log`).
            Defaults to `True`.
        mask_token_id: int or None. Target id that is excluded from the
            metric, typically the padding id `0`. `None` counts every target.
            Defaults to `None`.
        name: str. Name of the metric. Defaults to `"perplexity"`.
        dtype: str. Dtype of the result. The state and the math are always
            float32. Defaults to `"float32"`.
        **kwargs: Other keyword arguments passed to `keras.metrics.Metric`.

    Call arguments of `update_state()`:
        y_true: int tensor of target ids, shape `(batch, time)` or `(batch,)`.
        y_pred: float tensor of logits or probabilities, shape
            `y_true.shape + (vocabulary_size,)`.
        sample_weight: optional float tensor. Weights with fewer axes than
            `y_true` are expanded on the right (a `(batch,)` weight weights
            whole sequences), then broadcast to `y_true`. Defaults to `None`.

    Raises:
        ValueError: if `from_logits` is not a bool or `mask_token_id` is not
            `None` or a non-negative int.

    Example:

    ```python
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras_chargen.PerplexityMetric(mask_token_id=0),
            keras_chargen.BitsPerCharacter(mask_token_id=0),
        ],
    )
    ```
    """

    def __init__(
        self,
        from_logits=True,
        mask_token_id=None,
        name="perplexity",
        dtype="float32",
        **kwargs,
    ):
        if not isinstance(from_logits, bool):
            raise ValueError(
                "`from_logits` must be a bool (True or False). "
                f"Received: from_logits={from_logits!r}"
            )
        if mask_token_id is not None and (
            isinstance(mask_token_id, bool)
            or not isinstance(mask_token_id, numbers.Integral)
            or mask_token_id < 0
        ):
            raise ValueError(
                "`mask_token_id` must be None or a non-negative int. "
                f"Received: mask_token_id={mask_token_id!r}"
            )
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.from_logits = from_logits
        self.mask_token_id = None if mask_token_id is None else int(mask_token_id)
        self.total_nll = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="total_nll"
        )
        self.total_count = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="total_count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
        y_true = ops.cast(ops.convert_to_tensor(y_true), "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)

        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.clip(y_pred, _EPSILON, 1.0))
        target_log_probs = ops.take_along_axis(
            log_probs, ops.expand_dims(y_true, axis=-1), axis=-1
        )
        nll = -ops.squeeze(target_log_probs, axis=-1)

        weights = ops.ones_like(nll)
        if self.mask_token_id is not None:
            weights = ops.cast(ops.not_equal(y_true, self.mask_token_id), "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
            while len(sample_weight.shape) < len(nll.shape):
                sample_weight = ops.expand_dims(sample_weight, axis=-1)
            weights = weights * sample_weight
        weights = ops.broadcast_to(weights, ops.shape(nll))

        # `where` rather than a product alone: a masked position may have an
        # infinite NLL (a -inf logit), and inf * 0 would be NaN.
        weighted_nll = ops.where(ops.not_equal(weights, 0.0), nll * weights, 0.0)
        self.total_nll.assign_add(ops.sum(weighted_nll))
        self.total_count.assign_add(ops.sum(weights))

    def _mean_nll(self):
        """Token-weighted mean NLL in nats; `0.0` when nothing was counted."""
        # Read the values: JAX refuses variables inside traced jnp calls.
        total_nll, total_count = self.total_nll.value, self.total_count.value
        counted = ops.greater(total_count, 0.0)
        safe_count = ops.where(counted, total_count, 1.0)
        return ops.where(counted, total_nll / safe_count, 0.0)

    def result(self):
        counted = ops.greater(self.total_count.value, 0.0)
        perplexity = ops.where(counted, ops.exp(self._mean_nll()), 0.0)
        return ops.cast(perplexity, self.dtype)

    def bits_per_char(self):
        """Returns the token-weighted mean NLL in bits, i.e. `log2(perplexity)`.

        Returns:
            A scalar float tensor (`0.0` before any update).
        """
        return ops.cast(self._mean_nll() / math.log(2.0), self.dtype)

    def reset_state(self):
        self.total_nll.assign(0.0)
        self.total_count.assign(0.0)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "from_logits": self.from_logits,
                "mask_token_id": self.mask_token_id,
            }
        )
        return config
