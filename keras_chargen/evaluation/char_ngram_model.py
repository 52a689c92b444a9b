"""`CharNGramModel`: an interpolated Kneser-Ney character n-gram baseline."""

import math
import numbers
from collections import Counter

import numpy as np

# Discounts are kept inside these bounds: a discount of 0 (no n-gram seen
# once) would leave no probability for unseen characters.
_MIN_DISCOUNT = 0.1
_MAX_DISCOUNT = 0.9


class CharNGramModel:
    """A character n-gram language model that needs no training run.

    A reference point for `keras_chargen.evaluate`: a neural model that does
    not beat it has learned little. Fitting counts the n-grams of a text
    with NumPy (about a second for a million characters).

    Smoothing is interpolated Kneser-Ney (Chen & Goodman, 1998) with one
    absolute discount per order, `D = n1 / (n1 + 2 * n2)` (`n1`, `n2`: the
    number of n-grams counted once and twice at that order), kept within
    `[0.1, 0.9]`. The highest order uses raw counts, lower orders use
    continuation counts (how many distinct characters precede an n-gram),
    and order 1 is interpolated with a uniform distribution over the
    alphabet. The alphabet is every character of the fitted text plus one
    bucket shared by all other characters, which is how the neural model
    treats out-of-vocabulary characters; every character therefore gets a
    probability above zero, and the probabilities of the alphabet given any
    context add up to 1.

    Character `i` of a scored text is predicted from the `order - 1`
    characters before it, or from all of them near the start of the text:
    the first character is predicted from the empty context.

    Args:
        order: int >= 1, the n-gram length: `order - 1` characters of
            context. Defaults to `5`.

    Example:

    ```python
    baseline = keras_chargen.CharNGramModel(order=5).fit(train_text)
    baseline.bits_per_char(held_out_text)
    ```
    """

    def __init__(self, order=5):
        if (
            isinstance(order, bool)
            or not isinstance(order, numbers.Integral)
            or order < 1
        ):
            raise ValueError(f"`order` must be an int >= 1. Received: order={order!r}")
        self.order = int(order)
        self.alphabet = None
        self.discounts = None
        self._levels = None

    def fit(self, text):
        """Counts the n-grams of `text`; returns the model itself.

        Raises:
            ValueError: if `text` is empty, or its alphabet is so large that
                order-`order` n-gram codes would not fit in 62 bits.
            TypeError: if `text` is not a `str`.
        """
        _check_text(text)
        codes = np.unique(_codepoints(text))
        self.alphabet = "".join(map(chr, codes))
        self._codes = codes
        self._base = base = len(codes) + 1  # id 0 is the unknown bucket
        if base**self.order >= 2**62:
            raise ValueError(
                f"The text has {len(codes)} distinct characters: too many for "
                f"`order`={self.order} n-gram codes in 62 bits. Use a lower "
                f"`order`. Received: order={self.order}"
            )
        ids = self._encode(text)
        seen = [None] + [
            np.unique(_grams(ids, n, base)) for n in range(1, self.order + 1)
        ]
        self._levels = []
        for n in range(1, self.order + 1):
            if n == self.order:
                keys, counts = np.unique(_grams(ids, n, base), return_counts=True)
            else:
                # Continuation counts: distinct characters seen before each n-gram.
                keys, counts = np.unique(seen[n + 1] % base**n, return_counts=True)
            self._levels.append(_Level(keys, counts, base))
        self.discounts = [level.discount for level in self._levels]
        return self

    def log_probs(self, text):
        """Natural-log probability of each character of `text` given its context.

        Returns:
            A float64 NumPy array with one entry per character.

        Raises:
            ValueError: if the model has not been fitted.
        """
        if self._levels is None:
            raise ValueError(
                "This `CharNGramModel` is not fitted yet. Call `fit(text)` first."
            )
        if not isinstance(text, str):
            raise TypeError(
                f"`text` must be a str. Received type {type(text).__name__}"
            )
        ids = self._encode(text)
        probs = np.full(len(ids), 1.0 / self._base)
        for n, level in enumerate(self._levels, start=1):
            grams = _grams(ids, n, self._base)
            if grams.size:
                # Position j holds the n-gram ending at character j + n - 1.
                probs[n - 1 :] = level.interpolate(grams, probs[n - 1 :])
        return np.log(probs)

    def bits_per_char(self, text):
        """Cross-entropy of `text` under the model, in bits per character.

        Raises:
            ValueError: if `text` is empty or the model has not been fitted.
        """
        _check_text(text)
        return float(-self.log_probs(text).mean() / math.log(2))

    def _encode(self, text):
        """Characters -> ids 1..len(alphabet); other characters -> 0."""
        points = _codepoints(text)
        pos = np.minimum(np.searchsorted(self._codes, points), len(self._codes) - 1)
        known = self._codes[pos] == points
        return np.where(known, pos + 1, 0).astype(np.int64)


class _Level:
    """The counts of one order: n-gram counts and their contexts' totals."""

    def __init__(self, keys, counts, base):
        self.base = base
        self.keys, self.counts = keys, counts
        # Keys are sorted, so n-grams sharing a context are contiguous.
        self.contexts, starts, self.types = np.unique(
            keys // base, return_index=True, return_counts=True
        )
        self.totals = np.add.reduceat(counts, starts) if keys.size else counts
        n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
        discount = n1 / (n1 + 2 * n2) if n1 + n2 else _MIN_DISCOUNT
        self.discount = float(np.clip(discount, _MIN_DISCOUNT, _MAX_DISCOUNT))

    def interpolate(self, grams, lower):
        """P(w | h) for each n-gram `h w`, given the lower order's P(w | h')."""
        count = _lookup(self.keys, self.counts, grams)
        contexts = grams // self.base
        total = _lookup(self.contexts, self.totals, contexts)
        types = _lookup(self.contexts, self.types, contexts)
        d = self.discount
        seen = total > 0
        safe_total = np.where(seen, total, 1)
        mixed = (np.maximum(count - d, 0) + d * types * lower) / safe_total
        return np.where(seen, mixed, lower)


def _lookup(keys, values, queries):
    """`values[k]` for each query equal to `keys[k]`, else 0; keys sorted."""
    if not keys.size:
        return np.zeros(len(queries), np.int64)
    pos = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    return np.where(keys[pos] == queries, values[pos], 0)


def _grams(ids, n, base):
    """Integer codes of the n-grams of `ids`, one per start position."""
    count = len(ids) - n + 1
    if count <= 0:
        return np.zeros(0, np.int64)
    codes = np.zeros(count, np.int64)
    for j in range(n):
        codes = codes * base + ids[j : j + count]
    return codes


def _codepoints(text):
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _check_text(text):
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str. Received type {type(text).__name__}")
    if not text:
        raise ValueError("`text` must not be empty. Received: text=''")


def unigram_bits_per_char(fit_text, text):
    """Cross-entropy of `text` under add-one smoothed frequencies of `fit_text`.

    The alphabet is the characters of `fit_text` plus one bucket for all
    others, as in `CharNGramModel`.
    """
    counts = Counter(fit_text)
    denominator = len(fit_text) + len(counts) + 1
    scored = Counter(text)
    total = sum(
        n * math.log2((counts.get(c, 0) + 1) / denominator) for c, n in scored.items()
    )
    return -total / len(text)
