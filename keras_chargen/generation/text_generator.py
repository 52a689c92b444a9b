"""`TextGenerator`: state-carrying, compiled text generation."""

import json
import os

import keras
import numpy as np
from keras import ops

from keras_chargen.backend.compiled import compiled
from keras_chargen.backend.loops import scan
from keras_chargen.generation import beam_search
from keras_chargen.generation.text_scorer import TextScorer
from keras_chargen.models.state_adapter import as_stateful
from keras_chargen.samplers.beam_sampler import BeamSampler
from keras_chargen.samplers.logit_processor import (
    apply_processors,
    as_processors,
    processors_key,
    window_of,
)
from keras_chargen.samplers.loop_sampler import loop_sampler
from keras_chargen.samplers.temperature_sampler import TemperatureSampler

# With stop strings, generation runs in chunks of this many characters and
# ends after the chunk in which every text has met one.
STOP_CHUNK = 64


class TextGenerator:
    """Generates text from a recurrent character model, one step per character.

    The prompt runs through the network once; after that each new character
    costs one recurrent step with the LSTM/GRU states carried, instead of
    re-running a whole window through `model.predict` per character. The
    generator uses only the model's recurrent-state protocol
    (`initial_state` / `call_with_state`, see docs/concepts.md). Its loop
    is written in `keras.ops` and compiled for the backend: `tf.function`
    on TensorFlow (XLA when `jit_compile=True`), `jax.jit` on JAX,
    `torch.no_grad` on torch; it runs a batch of prompts of different
    lengths at once.

    Supported models are `keras_chargen.CharLM`, any model implementing the
    protocol, and `Embedding -> (LSTM | GRU | SimpleRNN, with
    LayerNormalization / Dropout between) -> Dense` stacks written as a
    user's `keras.Sequential` or functional model (the final `Dense` may
    output logits or a softmax).

    Any `keras_chargen.samplers` sampler chooses the next character
    (`BeamSampler` for beam search), after the optional logit processors
    (penalties, bans, a temperature schedule) have changed the logits; the
    recent ids and the step count they read are carried through the loop.
    A seeded sampler gives the same text on every call, from `generate()`
    and `stream()` alike: the seed state starts from the sampler's `seed`
    each call and is carried through the loop.

    Args:
        model: a trained model, e.g. loaded from a `.keras` file.
        vectorizer: the `keras_chargen.CharVectorizer` the model was trained
            with. Defaults to `model.vectorizer`.
        jit_compile: bool, compile the loop with XLA. Defaults to `False`:
            on CPU, XLA measured 1.2-1.5x slower for this loop
            (docs/benchmarks.md).
        dtype: the dtype of the step's matrix products: `"float32"`, or
            `"bfloat16"` / `"float16"` for speed at lower precision (on CPUs
            with AMX, bfloat16 was ~1.6x faster at batch 64). Recurrent states
            and the output layer stay float32. Defaults to `"float32"`.

    Example:

    ```python
    model = keras.saving.load_model("run.keras")
    generator = keras_chargen.TextGenerator(model)
    generator.generate(["ROMEO:", "JULIET:"], length=200)
    ```
    """

    def __init__(self, model, vectorizer=None, jit_compile=False, dtype="float32"):
        self.model = model
        self.vectorizer = vectorizer or getattr(model, "vectorizer", None)
        if self.vectorizer is None:
            raise ValueError(
                "TextGenerator needs the model's CharVectorizer: pass "
                "`vectorizer=` or use a keras_chargen.CharLM, which keeps it. "
                f"Received a model of type {type(model).__name__} without one."
            )
        if dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(
                "`dtype` must be 'float32', 'bfloat16' or 'float16'. "
                f"Received: dtype={dtype!r}"
            )
        self.jit_compile = jit_compile
        self.dtype = dtype
        self._stateful = as_stateful(model)
        ids = self._stateful.vocabulary_size
        if self.vectorizer.vocabulary_size() != ids:
            raise ValueError(
                f"The vectorizer has {self.vectorizer.vocabulary_size()} ids but the "
                f"model's Embedding has {ids}: pass the vectorizer the model was "
                "trained with."
            )
        self._seed_generator = keras.random.SeedGenerator(0)
        self._functions = {}
        self._scorer = None

    # ------------------------------------------------------------ public API
    def generate(self, prompts, length=100, sampler=None, stop=None, processors=None):
        """Continues each prompt by `length` characters.

        Args:
            prompts: a `str` or a list of `str` (lengths may differ; `""`
                starts from the zero state).
            length: int >= 0, characters to add to each prompt.
            sampler: any `keras_chargen.samplers` sampler (a `Sampler`
                subclass, or `BeamSampler` for beam search), or an object
                with KerasHub's `get_next_token(probabilities)` method.
                Defaults to `TemperatureSampler()` (temperature 1).
            stop: Optional `str` or list of `str`: each text is cut right
                after the first stop string in its continuation.
            processors: Optional `keras_chargen.samplers.LogitProcessor` or
                list of them (penalties, bans, a temperature schedule),
                applied in order to each step's logits before the sampler,
                inside the compiled loop. Defaults to `None`.

        Returns:
            A `str` for one prompt, a list of `str` for a list; each is the
            prompt followed by its continuation. With
            `BeamSampler(return_all_beams=True)`, each prompt's entry is
            instead a list of `(text, log_probability)` pairs, best first.

        Raises:
            TypeError: a prompt, `length`, `sampler` or processor of the
                wrong type.
            ValueError: a negative `length`; a banned string with a
                character outside the vocabulary.
        """
        single = isinstance(prompts, str)
        prompts = [prompts] if single else list(prompts)
        stops = _as_list(stop)
        if isinstance(sampler, BeamSampler):
            out = self._beam(prompts, length, sampler, stops, processors)
            return out[0] if single else out
        loop_state, processors = self._start(prompts, length, sampler, processors)
        texts = [""] * len(prompts)
        # With stop strings, work in chunks so the loop can end early.
        chunk = length if not stops else min(length, STOP_CHUNK)
        done = 0
        while done < length:
            n = min(chunk, length - done)
            tokens = self._run(sampler, processors, loop_state, n)
            texts = [
                t + self.vectorizer.decode(row)
                for t, row in zip(texts, tokens, strict=True)
            ]
            done += n
            if stops and all(_cut(t, stops) is not None for t in texts):
                break
        if stops:
            texts = [_cut(t, stops) or t for t in texts]
        out = [p + t for p, t in zip(prompts, texts, strict=True)]
        return out[0] if single else out

    def stream(
        self, prompt, length=100, sampler=None, stop=None, chunk_size=8, processors=None
    ):
        """Yields the continuation of one prompt piece by piece.

        Same arguments as `generate()`; yields `str` pieces of `chunk_size`
        characters whose concatenation is the continuation (without the
        prompt), the same text `generate()` gives with the same seed.

        **Note:** with a `BeamSampler` the best beam is only known at the
        end: the whole continuation (the best beam's) comes as one piece
        once the search has ended.
        """
        if not isinstance(prompt, str):
            raise TypeError(f"`prompt` must be a str. Received: {prompt!r:.60}")
        if isinstance(sampler, BeamSampler):
            best = BeamSampler(sampler.num_beams, sampler.length_penalty)
            text = self.generate(prompt, length, best, stop, processors)[len(prompt) :]
            if text:
                yield text
            return
        loop_state, processors = self._start([prompt], length, sampler, processors)
        stops = _as_list(stop)
        text, done = "", 0
        while done < length:
            n = min(chunk_size, length - done)
            tokens = self._run(sampler, processors, loop_state, n)
            piece = self.vectorizer.decode(tokens[0])
            done += n
            cut = _cut(text + piece, stops) if stops else None
            if cut is not None:
                yield cut[len(text) :]
                return
            text += piece
            yield piece

    def score(self, texts, prompts=None):
        """Log-probabilities of each character of `texts`, for ranking them.

        Each id of `vectorizer.encode(text)` (one per character; an unknown
        character is id 1 and scored as such) gets the natural log of the
        probability the model gives it after the characters before it, the
        first one after the empty context (the zero state). With `prompts`,
        only each continuation is scored, conditioned on its prompt. Texts
        of different lengths run in one batch; scoring uses float32 steps
        whatever the generator's `dtype`.

        Args:
            texts: a `str` or a list of `str`.
            prompts: Optional `str` or list of `str`, one per text.
                Defaults to `None`.

        Returns:
            A float32 NumPy array, one value per id of the text, for a `str`;
            a list of them for a list. Its sum is the text's log-likelihood.

        Raises:
            TypeError: `texts` or `prompts` is not a str or a list of str.
            ValueError: an empty list, or not one prompt per text.
        """
        if self._scorer is None:
            self._scorer = TextScorer(
                self._stateful, self.vectorizer, self.model.variables, self.jit_compile
            )
        return self._scorer.score(texts, prompts)

    # ------------------------------------------------------------- internals
    def _start(self, prompts, length, sampler, processors):
        """Checks the arguments, runs the prompts; returns the loop state.

        The loop state is `[weights, logits, states, seed_state, recent,
        step]`, `recent` the last `window_of(processors)` ids of each row.
        """
        if isinstance(length, bool) or not isinstance(length, int | np.integer):
            raise TypeError(f"`length` must be an int. Received: length={length!r}")
        if length < 0:
            raise ValueError(f"`length` must be >= 0. Received: length={length}")
        if sampler is not None and not isinstance(sampler, BeamSampler):
            loop_sampler(sampler)  # raises TypeError for a non-sampler
        processors = as_processors(processors)
        for processor in processors:
            processor.build(self.vectorizer)
        bad = [p for p in prompts if not isinstance(p, str)]
        if bad or not prompts:
            raise TypeError(
                f"`prompts` must be a str or a non-empty list of str. Received: {bad!r:.60}"
            )
        encoded = [self.vectorizer.encode(p) for p in prompts]
        width = max(1, max(len(e) for e in encoded))
        ids = np.zeros((len(prompts), width), np.int32)  # left padding
        for row, e in zip(ids, encoded, strict=True):
            row[width - len(e) :] = e
        window = window_of(processors)
        recent = np.zeros((len(prompts), window), np.int32)
        tail = ids[:, -window:]
        recent[:, window - tail.shape[1] :] = tail
        seed = getattr(sampler, "seed", None)
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "little")
        seed_state = ops.convert_to_tensor(
            [seed % 2**31, 0], dtype=self._seed_generator.state.dtype
        )
        # The step's weights, prepared once per call from the model's
        # current values (they change between epochs under
        # SampleTextCallback); None when the model steps with Keras' cells.
        weights = self._stateful.step_weights(self.dtype)
        logits, states = self._function("prefill", None)(
            weights, ops.convert_to_tensor(ids)
        )
        recent = ops.convert_to_tensor(recent)
        step = ops.convert_to_tensor(0, dtype="int32")
        return [weights, logits, states, seed_state, recent, step], processors

    def _run(self, sampler, processors, loop_state, steps):
        tokens, *loop_state[1:] = self._function("sample", sampler, processors)(
            *loop_state, steps=steps
        )  # the weights stay; logits, states, seed state, recent ids move on
        return ops.convert_to_numpy(tokens)

    def _beam(self, prompts, length, sampler, stops, processors):
        """Beam search for each prompt: see `keras_chargen.samplers.BeamSampler`."""
        loop_state, processors = self._start(prompts, length, None, processors)
        weights, logits, states, _, recent, step = loop_state
        search = beam_search.BeamSearch(len(prompts), sampler.num_beams)
        loop_state = [weights, *search.start(logits, states, recent), step]
        chunk = length if not stops else min(length, STOP_CHUNK)
        done = 0
        while done < length:
            n = min(chunk, length - done)
            outputs, *loop_state[1:] = self._function("beam", sampler, processors)(
                *loop_state, steps=n
            )
            search.add(
                [ops.convert_to_numpy(x) for x in outputs],
                ops.convert_to_numpy(loop_state[3]),
            )
            done += n
            if stops and search.all_stopped(self.vectorizer, stops):
                break
        beams = search.ranked(self.vectorizer, stops, sampler.length_penalty)
        if sampler.return_all_beams:
            return [
                [(prompt + text, score) for text, score in row]
                for prompt, row in zip(prompts, beams, strict=True)
            ]
        return [prompt + row[0][0] for prompt, row in zip(prompts, beams, strict=True)]

    def _function(self, kind, sampler, processors=()):
        sampler = TemperatureSampler() if sampler is None else sampler
        key = (
            kind,
            None if kind == "prefill" else _sampler_key(sampler),
            processors_key(processors),
        )
        if key not in self._functions:
            if kind == "prefill":
                fn = self._prefill
            elif kind == "beam":
                fn = beam_search.beam_loop(
                    self._stateful, processors, sampler.num_beams
                )
            else:
                fn = self._sampling_loop(loop_sampler(sampler), processors)
            self._functions[key] = compiled(
                fn,
                self.model.variables,
                static_argnames=("steps",),
                jit_compile=self.jit_compile,
            )
        return self._functions[key]

    def _prefill(self, weights, prompt_ids):
        return prefill(self._stateful, weights, prompt_ids)

    def _sampling_loop(self, sampler, processors):
        carrier = self._seed_generator

        def loop(weights, logits, states, seed_state, recent, step, steps):
            def body(carry, _):
                logits, states, seed_state, recent, step = carry
                logits = apply_processors(processors, logits, recent, step)
                # The seed state is a loop variable, not a variable write,
                # so the loop stays a pure function on every backend.
                mapping = [(carrier.state, seed_state)]
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    token = ops.cast(sampler(logits, carrier), "int32")
                seed_state = scope.get_current_value(carrier.state)
                if processors:  # only processors read the recent ids
                    recent = ops.concatenate([recent[:, 1:], token[:, None]], axis=1)
                logits, states = self._stateful.call_with_state(
                    token[:, None], states, step_weights=weights
                )
                return (logits[:, 0], states, seed_state, recent, step + 1), token

            carry, tokens = scan(
                body, (logits, states, seed_state, recent, step), length=steps
            )
            return ops.transpose(tokens), *carry

        return loop


def _sampler_key(sampler):
    # Samplers of one class and config (the seed aside) share a compiled
    # loop; an object without a config has a loop of its own.
    if not callable(getattr(sampler, "get_config", None)):
        return ("object", id(sampler))
    config = dict(sampler.get_config())
    config.pop("seed", None)
    return (type(sampler), json.dumps(config, sort_keys=True, default=repr))


def _as_list(stop):
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def _cut(text, stops):
    """`text` up to and including the first stop string, or None."""
    hits = [text.find(s) + len(s) for s in stops if s and s in text]
    return text[: min(hits)] if hits else None


def prefill(stateful, weights, prompt_ids):
    """The logits after each left-padded prompt, and the states there.

    Shared by `TextGenerator` and the server's engine.
    """
    batch = ops.shape(prompt_ids)[0]
    logits, states = stateful.call_with_state(
        prompt_ids, stateful.initial_state(batch), step_weights=weights
    )
    # Prompts are left-padded, so every row's last character is last; an
    # empty prompt's row is all padding and gives the zero state's logits.
    return logits[:, -1], states
