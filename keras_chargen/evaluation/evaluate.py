"""`evaluate`: score a held-out text with full context, next to baselines."""

import math
import unicodedata
from collections import Counter

import keras
import numpy as np
from keras import ops

from keras_chargen.backend.compiled import compiled
from keras_chargen.evaluation.char_ngram_model import CharNGramModel
from keras_chargen.evaluation.generation_quality import generation_quality
from keras_chargen.layers.char_vectorizer import OOV_ID, CharVectorizer
from keras_chargen.models.state_adapter import as_stateful
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.generation.text_generator import TextGenerator

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
        nll, correct, confidence = _score_adaptive(
            model, ids, adapt_chunk, adapt_learning_rate, adapt_decay, verbose
        )
    else:
        nll, correct, confidence = _score(model, ids, batch_size, verbose)
    loss = float(nll.mean())
    report = {
        "characters": len(ids),
        "loss": loss,
        "bits_per_char": loss / _LN2,
        "perplexity": math.exp(loss),
        "accuracy": float(correct.mean()),
        "confidence": float(confidence.mean()),
        "oov_rate": float(np.mean(ids == OOV_ID)),
        "unigram_bits_per_char": _unigram_bits_per_char(train_text or text, text),
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


def _score(model, ids, batch_size, verbose):
    """Per-character NLL (nats), top-1 hit and top-1 probability, float64."""
    stateful = as_stateful(model)
    weights = stateful.step_weights("float32")
    score = _chunk_scorer(stateful)

    def step(inputs, targets, states):
        return score(inputs, targets, states, weights)

    return _score_chunks(stateful, ids, batch_size, compiled(step, model.variables), verbose)


def _score_adaptive(model, ids, chunk, learning_rate, decay, verbose):
    """`_score` with one RMSprop step on each chunk after it is scored.

    The step is Keras' own `train_on_batch` on a small model that runs the
    protocol from given states, so the gradient is computed by whichever
    backend runs. After the step every weight moves `decay` of the way back
    to its trained value.
    """
    stateful = as_stateful(model)
    score = compiled(_chunk_scorer(stateful), model.variables)
    learner = _StateLearner(stateful, model)
    learner.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=0
        ),
    )
    variables = model.trainable_variables
    trained = [ops.copy(v.value) for v in variables]

    def step(inputs, targets, states):
        nll, top_id, top_prob, new_states = score(inputs, targets, states, None)
        learner.train_on_batch([inputs, *_flat(states)], targets)
        if decay:
            for variable, value in zip(variables, trained, strict=True):
                variable.assign(variable.value + decay * (value - variable.value))
        return nll, top_id, top_prob, new_states

    try:
        return _score_chunks(stateful, ids, chunk, step, verbose)
    finally:
        for variable, value in zip(variables, trained, strict=True):
            variable.assign(value)


class _StateLearner(keras.Model):
    """Logits of `call_with_state` from states given as inputs, for training."""

    def __init__(self, stateful, model):
        super().__init__()
        self.stateful = stateful
        self.model = model  # tracked: its variables are this model's
        self._layout = [len(s) for s in stateful.initial_state(1)]

    def call(self, inputs):
        flat = iter(inputs[1:])
        states = [[next(flat) for _ in range(n)] for n in self._layout]
        logits, _ = self.stateful.call_with_state(inputs[0], states)
        return logits


def _flat(states):
    return [s for layer in states for s in layer]


def _score_chunks(stateful, ids, batch_size, step, verbose):
    states = stateful.initial_state(1)
    first_logits, _ = stateful.call_with_state(np.zeros((1, 1), np.int32), states)
    first = ops.convert_to_numpy(ops.log_softmax(first_logits[0, 0], axis=-1))
    nll = [np.array([-first[ids[0]]], np.float64)]
    hits = [np.array([first.argmax() == ids[0]])]
    top1 = [np.array([math.exp(first.max())])]

    inputs, targets = ids[:-1], ids[1:]
    progbar = keras.utils.Progbar(
        len(ids), verbose=verbose, unit_name="char", stateful_metrics=["bits_per_char"]
    )
    total = float(nll[0][0])
    for start in range(0, len(inputs), batch_size):
        size = min(batch_size, len(inputs) - start)
        # Padding (id 0) leaves the states unchanged; its outputs are dropped.
        chunk = np.zeros((2, batch_size), np.int32)
        chunk[0, :size] = inputs[start : start + size]
        chunk[1, :size] = targets[start : start + size]
        loss, top_id, prob, states = step(chunk[:1], chunk[1:], states)
        nll.append(ops.convert_to_numpy(loss)[:size].astype(np.float64))
        hits.append(ops.convert_to_numpy(top_id)[:size] == chunk[1, :size])
        top1.append(ops.convert_to_numpy(prob)[:size].astype(np.float64))
        total += nll[-1].sum()
        done = start + size + 1
        progbar.update(done, [("bits_per_char", total / done / _LN2)])
    if len(ids) == 1:
        progbar.update(1, [("bits_per_char", total / _LN2)])
    nll, hits, top1 = (np.concatenate(parts) for parts in (nll, hits, top1))
    # An unknown character is never a correct prediction, even if id 1 wins.
    return nll, hits & (ids != OOV_ID), top1


def _chunk_scorer(stateful):
    def score(inputs, targets, states, weights):
        logits, states = stateful.call_with_state(inputs, states, step_weights=weights)
        log_probs = ops.log_softmax(ops.cast(logits[0], "float32"), axis=-1)
        target_log_probs = ops.take_along_axis(
            log_probs, ops.expand_dims(targets[0], -1), axis=-1
        )
        top_id = ops.cast(ops.argmax(log_probs, axis=-1), "int32")
        top_prob = ops.exp(ops.max(log_probs, axis=-1))
        return -target_log_probs[:, 0], top_id, top_prob, states

    return score


def _unigram_bits_per_char(fit_text, text):
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
