"""
Title: Greedy, temperature, top-k and top-p sampling from a saved model
Author: keras_chargen contributors
Date created: 2026/11/29
Last modified: 2026/11/29
Description: Load a `.keras` file and compare sampling strategies: what each
keeps of the next-character distribution, and how diverse its samples are.
Accelerator: None (runs on a CPU)
"""

"""
## Introduction

A trained character model gives, at every step, a probability for each
possible next character. How you pick from it changes the text more than
most training tweaks do:

- **greedy** (`temperature=0`): always the likeliest character. Deterministic,
  and it soon falls into a loop.
- **temperature** `T`: divide the logits by `T` before the softmax. `T < 1`
  sharpens the distribution (safer, more repetitive), `T > 1` flattens it
  (more varied, more mistakes).
- **top-k**: sample only among the `k` likeliest characters.
- **top-p** (nucleus): sample only among the smallest set of likeliest
  characters whose probabilities add up to `p`; the set is small where the
  model is sure and large where it is not.

All four are settings of one class, `keras_chargen.TemperatureSampler`.

Usage:

```
python examples/generate_from_checkpoint.py run.keras     # or CHECKPOINT=run.keras
TRAIN_CORPUS=pydoc python examples/generate_from_checkpoint.py run.keras
```

`run.keras` is what `keras-chargen train` writes. With `TRAIN_CORPUS` (the
corpus the model was trained on), the table also shows how much of the
samples is copied from it. `SMOKE=1` first trains a tiny model for a few
seconds and uses that; the test suite runs it that way.

**Measured** (2026-11-29, 2 CPU cores shared with other jobs): the
`run.keras` of the README quickstart (`keras-chargen train --minutes 3` on the
embedded `pydoc` corpus, 2.66 validation bits/char), with
`TRAIN_CORPUS=pydoc python examples/generate_from_checkpoint.py run.keras`
(16 s in all):

| sampler | can pick (after "The ") | distinct-3 | memorized-16 |
|---|---|---|---|
| greedy | 1 | 0.010 | 0.000 |
| temperature 0.5 | 103 | 0.221 | 0.283 |
| temperature 1.0 | 103 | 0.580 | 0.020 |
| temperature 1.5 | 103 | 0.865 | 0.000 |
| top-k 5 | 5 | 0.289 | 0.114 |
| top-p 0.9 | 18 | 0.500 | 0.004 |
| T 0.8 + top-p 0.95 | 18 | 0.327 | 0.307 |

Greedy decoding loops at once (`The a sumpess an the calle a sumpess an the
calle ...`), so its 8 samples are identical. Lower temperatures repeat more
and copy more of the training text (more 16-character pieces found verbatim
in it); higher ones are more varied and misspell more. Top-p adapts: after
`"The "` it keeps 18 of 103 characters. With 8 streams at once the model
generated 12,000-17,000 characters per second.
"""

"""
## Setup
"""

# ruff: noqa: E402 (keras-io script format: markdown cells come before the imports)
import os
import sys
import time

import keras
import numpy as np

import keras_chargen

SMOKE = os.environ.get("SMOKE") == "1"  # train a tiny model first, for tests

# ---- settings ----
CHECKPOINT = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CHECKPOINT")
CHECKPOINT = CHECKPOINT or "run.keras"
TRAIN_CORPUS = os.environ.get("TRAIN_CORPUS")  # optional: the training corpus
PROMPT = "The "
LENGTH = 300  # characters per sample
NUM_SAMPLES = 8  # samples per sampler, generated as one batch
SEED = 1337
if SMOKE:
    LENGTH, NUM_SAMPLES = 60, 4

"""
In smoke mode, train a model for a few seconds so there is a checkpoint to
load.
"""

train_text = None
if SMOKE:
    train_text = keras_chargen.load_corpus("pydoc")[:20_000]
    CHECKPOINT = "smoke.keras"
    keras_chargen.train(
        text=train_text,
        output=CHECKPOINT,
        epochs=1,
        verbose=0,
        lstm_units=32,
        embedding_dim=16,
        num_layers=1,
        sequence_length=50,
    )

"""
## Loading the checkpoint

`import keras_chargen` registers the library's classes with Keras; after
that, a plain `keras.saving.load_model` gives back the model with its
vocabulary. It loads with `safe_mode=True` (the default): nothing is
unpickled.
"""

model = keras.saving.load_model(CHECKPOINT)
print(
    f"{CHECKPOINT}: {model.num_layers}x{model.units} {model.cell.upper()}, "
    f"{model.count_params():,} parameters, {model.vocabulary_size} ids"
)
if TRAIN_CORPUS:
    train_text = keras_chargen.load_corpus(TRAIN_CORPUS, verbose=False)

samplers = {
    "greedy": keras_chargen.TemperatureSampler(temperature=0.0),
    "temperature 0.5": keras_chargen.TemperatureSampler(0.5, seed=SEED),
    "temperature 1.0": keras_chargen.TemperatureSampler(1.0, seed=SEED),
    "temperature 1.5": keras_chargen.TemperatureSampler(1.5, seed=SEED),
    "top-k 5": keras_chargen.TemperatureSampler(1.0, top_k=5, seed=SEED),
    "top-p 0.9": keras_chargen.TemperatureSampler(1.0, top_p=0.9, seed=SEED),
    "T 0.8 + top-p 0.95": keras_chargen.TemperatureSampler(0.8, top_p=0.95, seed=SEED),
}

"""
## What each sampler keeps of one distribution

The model maps ids to next-character logits at every position; the last
position of the prompt gives the distribution of the first new character.
`sampler.probabilities(logits)` returns the distribution the sampler draws
from, after temperature and filtering, so we can count the characters it
can still pick.
"""

ids = model.vectorizer.encode(PROMPT)[None, :]
logits = model(ids, training=False)[:, -1, :]
vocabulary = model.vectorizer.get_vocabulary()
print(f"\nNext character after {PROMPT!r}:")
print(f"{'sampler':<20} {'can pick':>8}  {'top-1':>6}  likeliest three")
for name, sampler in samplers.items():
    probs = keras.ops.convert_to_numpy(sampler.probabilities(logits))[0]
    top = [i for i in np.argsort(-probs)[:3] if probs[i] > 0]
    likeliest = ", ".join(f"{vocabulary[i]!r} {probs[i]:.2f}" for i in top)
    print(f"{name:<20} {int((probs > 0).sum()):>8}  {probs[top[0]]:>6.2f}  {likeliest}")

"""
## Samples, and how diverse they are

`TextGenerator` generates all `NUM_SAMPLES` continuations of the prompt as
one batch. `keras_chargen.generation_quality` measures them: `distinct_n` is
the share of distinct character n-grams (low: the samples repeat themselves
or each other), and, given the training text, `memorized_16` is the share of
16-character pieces found verbatim in it (high: the model recites).
"""

generator = keras_chargen.TextGenerator(model)
rows, examples = [], {}
for name, sampler in samplers.items():
    generator.generate([PROMPT] * NUM_SAMPLES, 8, sampler)  # compile this setting
    start = time.perf_counter()
    texts = generator.generate([PROMPT] * NUM_SAMPLES, LENGTH, sampler)
    seconds = time.perf_counter() - start
    continuations = [t[len(PROMPT) :] for t in texts]
    quality = keras_chargen.generation_quality(continuations, train_text=train_text)
    rows.append((name, quality, NUM_SAMPLES * LENGTH / seconds))
    examples[name] = texts[0]

for name, text in examples.items():
    print(f"\n=== {name} ===\n{text}")

print(f"\n{NUM_SAMPLES} samples x {LENGTH} characters per sampler, prompt {PROMPT!r}\n")
header = f"| {'sampler':<20} | distinct-1 | distinct-2 | distinct-3 |"
if train_text is not None:
    header += " memorized-16 |"
print(header + " chars/s |")
print("|" + "---|" * (header.count("|")))
for name, quality, speed in rows:
    cells = [f"{quality[f'distinct_{n}']:.3f}" for n in (1, 2, 3)]
    if train_text is not None:
        cells.append(f"{quality['memorized_16']:.3f}")
    print(f"| {name:<20} | " + " | ".join(cells) + f" | {speed:,.0f} |")
