"""Bits per character: the per-token cross-entropy in base 2."""

import keras

from keras_chargen.metrics.perplexity_metric import PerplexityMetric


@keras.saving.register_keras_serializable(package="keras_chargen")
class BitsPerCharacter(PerplexityMetric):
    """Bits per character: the token-weighted mean NLL divided by `ln 2`.

    Equal to `log2(perplexity)` over the same targets. It accumulates exactly
    like `keras_chargen.PerplexityMetric` (token-weighted over every counted
    target since the last `reset_state()`, never a mean of per-batch values)
    and only reports the result in bits. Before any update the result is
    `0.0`.

    Args:
        from_logits: bool. Whether `y_pred` holds logits (`True`) or
            probabilities (`False`). Defaults to `True`.
        mask_token_id: int or None. Target id excluded from the metric,
            typically the padding id `0`. Defaults to `None`.
        name: str. Name of the metric. Defaults to `"bits_per_char"`.
        dtype: str. Dtype of the result. Defaults to `"float32"`.
        **kwargs: Other keyword arguments passed to `keras.metrics.Metric`.

    Raises:
        ValueError: if `from_logits` is not a bool or `mask_token_id` is not
            `None` or a non-negative int.

    Example:

    ```python
    metric = keras_chargen.BitsPerCharacter(mask_token_id=0)
    metric.update_state(targets, logits)
    metric.result()
    ```
    """

    def __init__(
        self,
        from_logits=True,
        mask_token_id=None,
        name="bits_per_char",
        dtype="float32",
        **kwargs,
    ):
        super().__init__(
            from_logits=from_logits,
            mask_token_id=mask_token_id,
            name=name,
            dtype=dtype,
            **kwargs,
        )

    def result(self):
        return self.bits_per_char()
