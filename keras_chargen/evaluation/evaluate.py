"""`evaluate`: score a held-out text with full context, next to baselines."""

import math
import unicodedata

import numpy as np

from keras_chargen.evaluation.char_ngram_model import (
    CharNGramModel,
    unigram_bits_per_char,
)
from keras_chargen.evaluation.dynamic import score_adaptive
from keras_chargen.evaluation.generation_quality import generation_quality
from keras_chargen.evaluation.scoring import score_frozen
from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.layers.char_vectorizer import OOV_ID, CharVectorizer
from keras_chargen.samplers.temperature_sampler import TemperatureSampler

_LN2 = math.log(2)


def evaluate(
    model,
    text,
    *,
    batch_size=1024,
    train_text=None,
    ngram_order=5,
    num_generations=0,
    generation_length=200,
    sampler=None,
    adapt=False,
    adapt_learning_rate=1e-3,
    adapt_chunk=50,
    adapt_decay=1e-2,
    verbose="auto",
):
    """Scores every character of `text` with its full preceding context.

    The text is read as one stream: the first character is predicted from
    the empty context (the model's output layers applied to the zero
    state), and every later character from all the characters before it,
    with the recurrent states carried from one chunk of `batch_size`
    characters to the next. Nothing restarts at window boundaries, so the
    figures do not depend on `batch_size` (up to float32 rounding), unlike
    averages over independent 100-character windows.

    With `adapt=True` the model also keeps learning from `text` while it
    scores it (dynamic evaluation): once a chunk of `adapt_chunk` characters
    has been scored, one RMSprop step on that chunk's loss updates the
    weights before the next chunk is scored, and every weight then moves a
    fraction `adapt_decay` of the way back to its trained value, so the
    model follows the text without forgetting what it learnt in training
    (Krause et al., 2017, decay the adapted weights the same way). Every
    character is still
    predicted before the model has seen it, so the figure is an honest
    prequential code length: the protocol behind adaptive compressors' figures
    such as PPMd's, which learn from the text they compress. A text that
    repeats its own names and phrases (a play's characters, a book's
    vocabulary) scores better this way. The model passed in is left
    unchanged: its weights are restored afterwards.

    A character outside the model's vocabulary is encoded as the
    out-of-vocabulary id 1, whatever the vectorizer's `on_unknown` setting:
    it counts as a wrong prediction and adds the model's loss for predicting
    id 1 (usually large, as training text rarely holds that id). The share
    of such characters is reported as `oov_rate`.

    Baselines that need no training show whether the model is any good:
    `unigram_bits_per_char` scores `text` with character frequencies and
    add-one smoothing, and `ngram_bits_per_char` with a
    `keras_chargen.CharNGramModel` (interpolated Kneser-Ney). Both are fit
    on `train_text`; without it the unigram baseline is fit on `text`
    itself (its entropy, an optimistic figure) and the n-gram one is `None`.

    Args:
        model: a `keras_chargen.CharLM` (or a supported model with a
            `vectorizer` attribute), e.g. loaded from a `.keras` file.
        text: the held-out `str` to score.
        batch_size: int, characters per compiled step (one stream, so the
            chunk is the batch). Defaults to `1024`.
        train_text: Optional `str`, the model's training text, for the
            baselines and the novelty of generations. Defaults to `None`.
        ngram_order: int >= 1, order of the n-gram baseline. Defaults to `5`.
        num_generations: int >= 0, samples to generate (from the empty
            context) for the `generation` metrics of
            `keras_chargen.generation_quality`. Defaults to `0` (none).
        generation_length: int >= 1, characters per sample. Defaults to
            `200`.
        sampler: a `keras_chargen.TemperatureSampler` for the samples.
            Defaults to `TemperatureSampler(temperature=1.0)`, the model's own
            distribution.
        adapt: bool, score with dynamic evaluation (see above). Defaults to
            `False`.
        adapt_learning_rate: float > 0, RMSprop learning rate of the
            adaptation steps. Defaults to `1e-3`.
        adapt_chunk: int >= 1, characters scored between two adaptation
            steps. Defaults to `50`.
        adapt_decay: float in `[0, 1]`, the fraction of the way back to the
            trained weights that every weight moves after each step (`0`:
            no pull back). Defaults to `1e-2`.
        verbose: `"auto"`, `0`, `1` or `2`: a progress bar when not `0`.
            Defaults to `"auto"` (`1`).

    Returns:
        A dict, always with these keys: `characters`; `loss` (mean negative
        log-likelihood, nats per character); `bits_per_char`; `perplexity`;
        `accuracy` (top-1); `confidence` (mean probability of the top-1
        prediction); `oov_rate`; `unigram_bits_per_char`;
        `ngram_bits_per_char` and `ngram_order` (`None` without
        `train_text`); `baseline_fit_on` (`"train_text"` or `"text"`);
        `generation` (a dict, or `None` when `num_generations` is 0);
        `adapted` (bool) with the model's metrics from the adaptive scoring
        when `adapt=True`.

    Raises:
        ValueError: for an empty `text`, an argument out of range, or a model
            without a vocabulary or of an unsupported architecture.
        TypeError: if `text` or `train_text` is not a `str`.

    Example:

    ```python
    model = keras.saving.load_model("run.keras")
    report = keras_chargen.evaluate(model, held_out_text, train_text=train_text)
    report["bits_per_char"], report["ngram_bits_per_char"]
    ```
    """
    vectorizer = getattr(model, "vectorizer", None)
    if vectorizer is None:
        raise ValueError(
            "`evaluate` needs the model's vocabulary: pass a keras_chargen.CharLM. "
            f"Received a model of type {type(model).__name__} without a `vectorizer`."
        )
    _check_text("text", text)
    if train_text is not None:
        _check_text("train_text", train_text)
    _check_int("batch_size", batch_size, 1)
    _check_int("ngram_order", ngram_order, 1)
    _check_int("num_generations", num_generations, 0)
    _check_int("generation_length", generation_length, 1)
    _check_int("adapt_chunk", adapt_chunk, 1)
    _check_number("adapt_learning_rate", adapt_learning_rate, "> 0", lambda v: v > 0)
    _check_number("adapt_decay", adapt_decay, "in [0, 1]", lambda v: 0 <= v <= 1)
    verbose = _check_verbose(verbose)

    text = _normalize(vectorizer, text)
    train_text = None if train_text is None else _normalize(vectorizer, train_text)
    ids = CharVectorizer(
        vocabulary=vectorizer.vocabulary, normalization=vectorizer.normalization
    ).encode(text)
    if adapt:
        nll, correct, confidence = score_adaptive(
            model, ids, adapt_chunk, adapt_learning_rate, adapt_decay, verbose
        )
    else:
        nll, correct, confidence = score_frozen(model, ids, batch_size, verbose)
    loss = float(nll.mean())
    report = {
        "characters": len(ids),
        "loss": loss,
        "bits_per_char": loss / _LN2,
        "perplexity": math.exp(loss),
        "accuracy": float(correct.mean()),
        "confidence": float(confidence.mean()),
        "oov_rate": float(np.mean(ids == OOV_ID)),
        "unigram_bits_per_char": unigram_bits_per_char(train_text or text, text),
        "ngram_bits_per_char": None,
        "ngram_order": None,
        "baseline_fit_on": "text" if train_text is None else "train_text",
        "generation": None,
        "adapted": bool(adapt),
    }
    if train_text is not None:
        ngram = CharNGramModel(ngram_order).fit(train_text)
        report["ngram_bits_per_char"] = ngram.bits_per_char(text)
        report["ngram_order"] = ngram_order
    if num_generations:
        generator = TextGenerator(model)
        samples = generator.generate(
            [""] * num_generations,
            generation_length,
            sampler=sampler or TemperatureSampler(temperature=1.0),
        )
        report["generation"] = generation_quality(samples, train_text=train_text)
    return report


def _normalize(vectorizer, text):
    if vectorizer.normalization is None:
        return text
    return unicodedata.normalize(vectorizer.normalization, text)


def _check_text(name, value):
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a str. Received type {type(value).__name__}")
    if not value:
        raise ValueError(f"`{name}` must not be empty. Received: {name}=''")


def _check_int(name, value, minimum):
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < minimum
    ):
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )


def _check_number(name, value, requirement, holds):
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not holds(value)
    ):
        raise ValueError(
            f"`{name}` must be a number {requirement}. Received: {name}={value!r}"
        )


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}"
        )
    return verbose
