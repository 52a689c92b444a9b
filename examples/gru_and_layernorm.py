"""
Title: The tutorial's "optimised model": GRU + LayerNormalization vs the default LSTM
Author: keras_chargen contributors
Date created: 2026/11/29
Last modified: 2026/11/29
Description: Train the default 2-layer LSTM and a GRU with LayerNormalization
on the same data for the same time, then compare speed and held-out bits/char.
Accelerator: None (runs on a CPU)
"""

"""
## Introduction

The notebook this library replaces ends with an "optimised model": GRU
layers instead of LSTM, `LayerNormalization` after each recurrent layer and
gradient clipping. Is it better? This recipe trains both on the same
windows, with the same seed and the same wall-clock budget, and prints:

- training speed in supervised characters per second,
- held-out bits per character with `keras_chargen.evaluate` (full context:
  the state is carried through the whole held-out text),
- generation speed in characters per second (one stream).

Both models come from `keras_chargen.build_char_lstm`, which clips the
gradient norm at 1.0 by default; the variants differ only in `cell` and
`layer_norm`.

**Measured** (2026-11-29, 16:32, `python examples/gru_and_layernorm.py`, 2
CPU cores, load average 1.4-1.9, TensorFlow 2.21 / Keras 3.15.1): embedded
`pydoc` corpus (465,047 characters, 105 ids, the last 10% held out), 2x256
layers, 2 minutes of training each (the last epoch cut short by the
budget), 4.8 minutes for the whole script:

| model | parameters | train chars/s | epochs | held-out bits/char | generate chars/s |
|---|---|---|---|---|---|
| LSTM (default) | 887,721 | 18,498 | 4 | 2.686 | 4,604 |
| GRU + LayerNorm | 676,777 | 13,705 | 4 | 1.978 | 3,533 |

GRU + LayerNorm vs LSTM: 0.74x training speed, -0.708 bits/char.

The default LSTM trains faster: `CharLM`'s LSTM layers run a fused CPU loop
(bfloat16 matrix products on CPUs that have bfloat16 units, as this one
does), which the GRU does not have. An earlier run with Keras' own LSTM
loop, on a busier machine, read 9,758 against 10,425 chars/s (GRU 1.07x
faster), with 2.780 against 2.111 bits/char. The large gap in bits/char is
about how fast each model learns in its first few hundred steps, where the
normalised GRU is far ahead; this two-minute comparison says nothing about
which one ends lower after longer: on tiny-shakespeare after 15 minutes the
default fused LSTM ended ahead (2.105 held-out bits/char against 2.125 for a
GRU + LayerNorm run at a constant learning rate, docs/benchmarks.md). Per-step
speeds on a shared machine are noisy: compare ratios measured side by side
in one run, as here.

`SMOKE=1` shrinks the corpus, the model and the budget so the whole script
runs in well under a minute; the test suite runs it that way.
"""

"""
## Setup
"""

# ruff: noqa: E402 (keras-io script format: markdown cells come before the imports)
import os
import time

import keras

import keras_chargen

SMOKE = os.environ.get("SMOKE") == "1"  # a tiny run, for tests

# ---- settings ----
CORPUS = "pydoc"  # embedded, offline
MINUTES = 2.0  # training budget per model, validation included
SEQUENCE_LENGTH = 100
BATCH_SIZE = 64
SIZE = dict(lstm_units=256, embedding_dim=64, num_layers=2)
VARIANTS = {
    "LSTM (default)": dict(cell="lstm", layer_norm=False),
    "GRU + LayerNorm": dict(cell="gru", layer_norm=True),
}
if SMOKE:
    MINUTES, SEQUENCE_LENGTH, BATCH_SIZE = 0.1, 50, 32
    SIZE = dict(lstm_units=32, embedding_dim=16, num_layers=1)

"""
## Data

One vocabulary and one pair of datasets for both models. `make_datasets`
holds out the last 10% of the text; we score exactly that tail afterwards.
"""

text = keras_chargen.load_corpus(CORPUS)
if SMOKE:
    text = text[:30_000]
vectorizer = keras_chargen.CharVectorizer()
vectorizer.adapt(text)
train_ds, val_ds = keras_chargen.make_datasets(
    text, vectorizer, SEQUENCE_LENGTH, BATCH_SIZE, validation_split=0.1, seed=1337
)
_, held_out = keras_chargen.split_text(text, 0.1)  # make_datasets' tail
print(f"{len(text):,} characters, {vectorizer.vocabulary_size()} ids")

"""
## A time budget that also measures speed

A small callback stops training once the budget is spent and adds up the
time spent in training steps. The first step is left out of the speed: it
includes building the graph.
"""


class Budget(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.steps = 0
        self.step_seconds = 0.0

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_train_batch_begin(self, batch, logs=None):
        self.step_started = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if self.steps:  # the first step builds the graph: not timed
            self.step_seconds += now - self.step_started
        self.steps += 1
        if now - self.started >= self.seconds:
            self.model.stop_training = True

    def characters_per_second(self):
        timed_steps = self.steps - 1
        return timed_steps * BATCH_SIZE * SEQUENCE_LENGTH / max(self.step_seconds, 1e-9)


"""
## Train and measure both
"""

results = []
for name, variant in VARIANTS.items():
    print(f"\n=== {name} ===")
    keras.utils.set_random_seed(1337)  # same initial draws, same window order
    model = keras_chargen.build_char_lstm(vectorizer=vectorizer, **variant, **SIZE)
    budget = Budget(MINUTES * 60)
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=1000,  # the budget ends training
        callbacks=[budget],
        shuffle=False,  # the dataset shuffles itself
        verbose=2,
    )
    report = keras_chargen.evaluate(model, held_out, verbose=0)
    generator = keras_chargen.TextGenerator(model)
    sampler = keras_chargen.TemperatureSampler(1.0, seed=0)
    generator.generate("", 20, sampler)  # compile the loop once
    start = time.perf_counter()
    generator.generate("", 1000, sampler)
    results.append(
        {
            "model": name,
            "parameters": model.count_params(),
            "train_chars_per_s": budget.characters_per_second(),
            "epochs": len(history.history["loss"]),
            "bits_per_char": report["bits_per_char"],
            "generate_chars_per_s": 1000 / (time.perf_counter() - start),
        }
    )
    print(f"held-out: {report['bits_per_char']:.3f} bits/char")

"""
## The comparison
"""

print(f"\nSame data, same seed, {MINUTES:g} minute(s) of training each:\n")
print(
    "| model | parameters | train chars/s | epochs | held-out bits/char "
    "| generate chars/s |"
)
print("|---|---|---|---|---|---|")
for r in results:
    print(
        f"| {r['model']} | {r['parameters']:,} | {r['train_chars_per_s']:,.0f} "
        f"| {r['epochs']} | {r['bits_per_char']:.3f} "
        f"| {r['generate_chars_per_s']:,.0f} |"
    )
lstm, gru = results
print(
    f"\nGRU + LayerNorm vs LSTM: {gru['train_chars_per_s'] / lstm['train_chars_per_s']:.2f}x "
    f"training speed, {gru['bits_per_char'] - lstm['bits_per_char']:+.3f} bits/char"
)
