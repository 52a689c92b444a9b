"""`generation_quality`: diversity and novelty of generated texts."""

import numbers

import numpy as np

_DISTINCT_SIZES = (1, 2, 3)
# An odd multiplier (the 64-bit FNV prime) for polynomial hashes modulo 2**64.
_HASH_BASE = np.uint64(0x100000001B3)


def generation_quality(texts, train_text=None, ngram_sizes=(8, 16, 32)):
    """Diversity of generated texts, and how much of them is copied.

    Diversity: `distinct_n` is the number of distinct character n-grams
    divided by the number of n-grams, counted over all texts together (each
    text's n-grams stay within that text), for n = 1, 2, 3. Low values
    mean the samples repeat themselves or each other.

    Novelty: `memorized_n`, for each n in `ngram_sizes`, is the share of
    the generated n-grams that occur verbatim somewhere in `train_text`.
    Short n-grams are expected to be found (words, common phrases); a high
    share at n = 32 means the model recites its training text rather than
    generalising from it. The training text's n-grams are found with
    64-bit rolling hashes in NumPy, and each hash match is confirmed by
    comparing the characters, so the shares are exact; a million-character
    training text takes about a second.

    Args:
        texts: a list of generated `str` (without their prompts).
        train_text: Optional `str`, the training text. Defaults to `None`:
            the `memorized_n` values are then `None`.
        ngram_sizes: ints >= 1, n-gram lengths for novelty. Defaults to
            `(8, 16, 32)`.

    Returns:
        A dict: `generations` (number of texts), `characters` (in all),
        `distinct_1`, `distinct_2`, `distinct_3`, and `memorized_<n>` for
        each n in `ngram_sizes`. A value is `None` when the texts hold no
        n-gram of that length.

    Raises:
        TypeError: if `texts` is not a list of `str` or `train_text` not a
            `str`.
        ValueError: if `texts` is empty or a size in `ngram_sizes` is not a
            positive int.

    Example:

    >>> keras_chargen.generation_quality(["abab", "abc"])["distinct_2"]
    0.6
    """
    texts = _check_texts(texts)
    sizes = _check_sizes(ngram_sizes)
    if train_text is not None and not isinstance(train_text, str):
        raise TypeError(
            f"`train_text` must be a str or None. Received type {type(train_text).__name__}"
        )
    report = {"generations": len(texts), "characters": sum(map(len, texts))}
    for n in _DISTINCT_SIZES:
        grams = [t[i : i + n] for t in texts for i in range(len(t) - n + 1)]
        report[f"distinct_{n}"] = len(set(grams)) / len(grams) if grams else None
    for n in sizes:
        report[f"memorized_{n}"] = (
            None if train_text is None else _memorized_share(texts, train_text, n)
        )
    return report


def _memorized_share(texts, train_text, n):
    """Share of the n-grams of `texts` found verbatim in `train_text`."""
    grams = [t[i : i + n] for t in texts for i in range(len(t) - n + 1)]
    if not grams:
        return None
    train_hashes = _hashes(train_text, n)
    order = np.argsort(train_hashes, kind="stable")
    sorted_hashes = train_hashes[order]
    queries = np.concatenate([_hashes(t, n) for t in texts])
    lows = np.searchsorted(sorted_hashes, queries, side="left")
    highs = np.searchsorted(sorted_hashes, queries, side="right")
    # A shared hash is almost surely a shared n-gram; compare the text anyway.
    found = sum(
        any(train_text[p : p + n] == gram for p in order[lo:hi])
        for gram, lo, hi in zip(grams, lows, highs, strict=True)
    )
    return found / len(grams)


def _hashes(text, n):
    """Polynomial hashes (mod 2**64) of every length-n substring of `text`."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    count = len(points) - n + 1
    if count <= 0:
        return np.zeros(0, np.uint64)
    hashes = np.zeros(count, np.uint64)
    for j in range(n):
        hashes = hashes * _HASH_BASE + points[j : j + count]  # wraps mod 2**64
    return hashes


def _check_texts(texts):
    if isinstance(texts, str):
        raise TypeError(
            "`texts` must be a list of str, not one str: wrap a single text in "
            f"a list. Received: {texts!r:.60}"
        )
    texts = list(texts)
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"`texts` must be a list of str. Received an item: {bad[0]!r:.60}"
        )
    if not texts:
        raise ValueError("`texts` must hold at least one text. Received: []")
    return texts


def _check_sizes(ngram_sizes):
    sizes = list(ngram_sizes)
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(
                "`ngram_sizes` must hold ints >= 1. "
                f"Received: ngram_sizes={tuple(ngram_sizes)!r}"
            )
    return [int(n) for n in sizes]
