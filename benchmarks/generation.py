"""Generation speed: the tutorial's per-character `model.predict` loop vs TextGenerator.

Measures characters per second, side by side in one run, on the same randomly
initialised model of the tutorial's size (Embedding(256) -> LSTM(512) ->
LSTM(512) -> Dense over tiny-shakespeare's 65 characters). Speed does not
depend on the weights, so nothing is trained.

(a) the tutorial's loop, re-implemented here: keep a 100-character window of
    ids; for each new character call `model.predict(window[None])`, sample
    from the last position's logits with a temperature, append, slide.
(b) `keras_chargen.TextGenerator`, one prompt: the prompt runs through the
    network once, then one recurrent step per character in a compiled loop.
(c) the same with 64 prompts at once (aggregate characters per second).
(d) (c) with bfloat16 matrix products (`TextGenerator(dtype="bfloat16")`),
    which CPUs with AMX run faster; states and the output layer stay float32.

Each method is timed twice and the faster run is kept, so a burst of load
from another process on this shared machine counts against no method. Every
timed call includes its prompt (40-100 characters): TextGenerator's prompt
pass costs about one generation step per prompt character, so it is ~10% of
a 1,000-character continuation and ~25% of a 300-character one
(`--batch-chars 300`).

The tutorial's model was many-to-one (one output per window) and this one is
many-to-many (logits at every position), but a `predict` call costs the same
100 LSTM steps per layer either way; the extra Dense on 99 positions is
small next to them.

Run from the repository root:

    python benchmarks/generation.py            # ~1 minute on a 2-core CPU
    python benchmarks/generation.py --quick    # tiny sizes, a smoke test

It prints a Markdown table (chars/s and the ratio to the tutorial's loop) and
the machine it ran on. Issue 4's targets: batch 1 >= 300x, batch 64 >= 5,000x.
"""

import argparse
import datetime
import os
import platform
import string
import time

import keras
import numpy as np
import tensorflow as tf

import keras_chargen

# ---- settings (most have a command-line flag; see --help) ----
UNITS = 512  # units per LSTM layer (the tutorial's 2 x 512)
NUM_LAYERS = 2
EMBEDDING_DIM = 256
WINDOW = 100  # characters the tutorial feeds to every predict call
TEMPERATURE = 0.8  # sampling temperature, same for every method
TUTORIAL_CHARS = 40  # characters timed for (a): it runs at ~2-7 chars/s
CHARS = 1000  # characters timed for (b)
BATCH = 64  # prompts generated together in (c) and (d)
BATCH_CHARS = 1000  # characters per prompt in (c) and (d), as in (b)
SEED = 0
# ----

# tiny-shakespeare's 65 characters, and a public-domain passage as the prompt.
VOCABULARY = "\n !$&',-.3:;?" + string.ascii_uppercase + string.ascii_lowercase
PROMPT = (
    "Now is the winter of our discontent\n"
    "Made glorious summer by this sun of York;\n"
    "And all the clouds that lour'd upon our house\n"
    "In the deep bosom of the ocean buried.\n"
)


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1. Received: {text}")
    return value


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutorial-chars", type=positive_int, default=TUTORIAL_CHARS)
    parser.add_argument("--chars", type=positive_int, default=CHARS)
    parser.add_argument("--batch", type=positive_int, default=BATCH)
    parser.add_argument("--batch-chars", type=positive_int, default=BATCH_CHARS)
    parser.add_argument("--units", type=positive_int, default=UNITS)
    parser.add_argument("--embedding-dim", type=positive_int, default=EMBEDDING_DIM)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--quick", action="store_true", help="tiny model and counts (smoke test)"
    )
    args = parser.parse_args()
    if args.quick:
        args.tutorial_chars, args.chars, args.batch, args.batch_chars = 3, 50, 4, 20
        args.units, args.embedding_dim = 32, 16
    return args


def tutorial_loop(model, vectorizer, prompt, length, rng):
    """The tutorial's generation: the whole window through `predict` per char."""
    window = list(vectorizer.encode(prompt)[-WINDOW:])
    generated = []
    for _ in range(length):
        logits = model.predict(np.array([window]), verbose=0)[0, -1]
        scaled = logits[2:].astype("float64") / TEMPERATURE  # ids 0, 1 reserved
        probabilities = np.exp(scaled - scaled.max())
        probabilities /= probabilities.sum()
        next_id = 2 + rng.choice(len(probabilities), p=probabilities)
        generated.append(next_id)
        window = window[1:] + [next_id]
    return vectorizer.decode(generated)


def timed(function, *args, repeats=2):
    """Seconds the fastest of `repeats` calls takes."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    args = parse_args()
    keras.utils.set_random_seed(args.seed)
    vectorizer = keras_chargen.CharVectorizer(vocabulary=VOCABULARY)
    model = keras_chargen.CharLM(
        vectorizer,
        embedding_dim=args.embedding_dim,
        units=args.units,
        num_layers=NUM_LAYERS,
    )
    prompt = PROMPT[:WINDOW]
    sampler = keras_chargen.TemperatureSampler(TEMPERATURE, seed=args.seed)
    generator = keras_chargen.TextGenerator(model)
    generator_bf16 = keras_chargen.TextGenerator(model, dtype="bfloat16")
    # Different lengths, as a real batch of prompts has.
    prompts = [prompt[i % 40 :] for i in range(args.batch)]

    # Warm-up: build predict's function and trace the generator's loops for
    # the shapes timed below, so that only generation is measured.
    rng = np.random.default_rng(args.seed)
    tutorial_loop(model, vectorizer, prompt, 1, rng)
    generator.generate(prompt, 10, sampler=sampler)
    generator.generate(prompts, 10, sampler=sampler)
    generator_bf16.generate(prompts, 10, sampler=sampler)

    tutorial = timed(tutorial_loop, model, vectorizer, prompt, args.tutorial_chars, rng)
    single = timed(generator.generate, prompt, args.chars, sampler)
    batched = timed(generator.generate, prompts, args.batch_chars, sampler)
    batched_bf16 = timed(generator_bf16.generate, prompts, args.batch_chars, sampler)
    rows = [
        ("(a) tutorial loop: `predict` on the 100-char window per char",
         args.tutorial_chars, tutorial),
        ("(b) TextGenerator, batch 1", args.chars, single),
        (f"(c) TextGenerator, batch {args.batch} (aggregate)",
         args.batch * args.batch_chars, batched),
        (f"(d) TextGenerator, batch {args.batch}, bfloat16 matmuls",
         args.batch * args.batch_chars, batched_bf16),
    ]  # fmt: skip

    print_table(rows)
    print()
    print(
        f"Model: {NUM_LAYERS} x LSTM({args.units}), embedding {args.embedding_dim}, "
        f"vocabulary {vectorizer.vocabulary_size()} ids, "
        f"{model.count_params():,} parameters; temperature {TEMPERATURE}."
    )
    print(
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__} ({keras.backend.backend()} backend), "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}."
    )


def print_table(rows):
    baseline = rows[0][1] / rows[0][2]
    print("| method | characters | seconds | chars/s | vs (a) |")
    print("|---|---:|---:|---:|---:|")
    for name, chars, seconds in rows:
        rate = chars / seconds
        print(
            f"| {name} | {chars:,} | {seconds:.2f} | {rate:,.1f} "
            f"| {rate / baseline:,.0f}x |"
        )


if __name__ == "__main__":
    main()
