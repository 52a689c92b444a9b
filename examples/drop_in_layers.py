"""
Title: keras_chargen components in your own Keras model
Author: keras_chargen contributors
Date created: 2026/11/29
Last modified: 2026/11/29
Description: A plain `keras.Sequential` character model fed by `CharVectorizer`
in a `tf.data` pipeline, with `PerplexityMetric` in `compile`,
`SampleTextCallback` in `fit` and `TextGenerator` to write text.
Accelerator: None (runs on a CPU)
"""

"""
## Introduction

`keras_chargen` is a set of components, not a framework. `keras_chargen.train`
and `build_char_lstm` wire them together for you, but each piece also drops
into ordinary Keras code on its own. This recipe writes the model by hand,
the way you would without the library, and uses the library only where it
helps:

| step | plain Keras | keras_chargen piece |
|---|---|---|
| text -> ids | `tf.data.Dataset.map(...)` | `CharVectorizer`, a Keras layer |
| model | `keras.Sequential([Embedding, LSTM, Dense])` | - |
| metrics | `model.compile(metrics=[...])` | `PerplexityMetric`, `BitsPerCharacter` |
| watching training | `model.fit(callbacks=[...])` | `SampleTextCallback` |
| writing text | - | `TextGenerator`, `TemperatureSampler` |

The model is many-to-many: every position of a 100-character window predicts
the next character, so one forward pass supervises 100 characters.

**Measured** (2026-11-29, `python examples/drop_in_layers.py`, 2 CPU cores
shared with other jobs): on the embedded `pydoc` corpus (465,047 characters,
105 ids) the one-layer 256-unit LSTM trained 3 epochs in 55 seconds (16-20 s
each) and reached 2.575 validation bits/char (perplexity 5.96); the whole
script took 61 seconds. A sample after the third epoch, at temperature 0.5:

```
def that the seter of the execalt in a be as is string a sequence rase a secured the a furent ore a defi
```

`SMOKE=1 python examples/drop_in_layers.py` shrinks everything (20,000
characters, a 32-unit LSTM, one epoch) so that it runs in well under a
minute; the test suite runs it that way.
"""

"""
## Setup
"""

# ruff: noqa: E402 (keras-io script format: markdown cells come before the imports)
import os
import time

import keras
import tensorflow as tf

import keras_chargen

SMOKE = os.environ.get("SMOKE") == "1"  # a tiny run, for tests

# ---- settings ----
CORPUS = "pydoc"  # embedded: the help text every Python ships, no download
SEQUENCE_LENGTH = 100  # characters per training window
BATCH_SIZE = 64  # windows per batch
EMBEDDING_DIM = 64
UNITS = 256  # LSTM units
EPOCHS = 3
SAMPLE_LENGTH = 200  # characters per sample
if SMOKE:
    SEQUENCE_LENGTH, BATCH_SIZE, EMBEDDING_DIM, UNITS = 50, 32, 16, 32
    EPOCHS, SAMPLE_LENGTH = 1, 40

keras.utils.set_random_seed(1337)

"""
## Text to ids: `CharVectorizer` in a `tf.data` pipeline

`CharVectorizer` is a Keras layer. `adapt()` learns the vocabulary: every
distinct character, sorted by code point, from id 2 on. Id 0 is padding and
id 1 stands for characters the vocabulary does not hold. Case, punctuation,
newlines and any Unicode character are kept: nothing is lowercased or
stripped.
"""

text = keras_chargen.load_corpus(CORPUS)
if SMOKE:
    text = text[:20_000]
# A contiguous split: no held-out character appears in a training window.
train_text, val_text = keras_chargen.split_text(text, 0.1)

# Output a fixed `SEQUENCE_LENGTH + 1` ids per string, the window size below.
vectorizer = keras_chargen.CharVectorizer(sequence_length=SEQUENCE_LENGTH + 1)
vectorizer.adapt(train_text)
vocabulary_size = vectorizer.vocabulary_size()
print(f"{len(text):,} characters, {vocabulary_size} ids (2 reserved)")
print("'Hello' ->", vectorizer.encode("Hello"))

"""
We cut the text into strings of `SEQUENCE_LENGTH + 1` characters and let the
layer turn each batch of strings into ids inside `Dataset.map`, the usual
pattern for Keras preprocessing layers. Each window is then split into
`(inputs, targets)`, shifted by one character.
"""


def windows(text, shuffle):
    size = SEQUENCE_LENGTH + 1
    chunks = [text[i : i + size] for i in range(0, len(text) - size + 1, size)]
    ds = tf.data.Dataset.from_tensor_slices(chunks)
    if shuffle:
        ds = ds.shuffle(len(chunks), seed=1337)
    ds = ds.batch(BATCH_SIZE, drop_remainder=True)
    ds = ds.map(vectorizer, num_parallel_calls=tf.data.AUTOTUNE)  # (batch, size)
    ds = ds.map(lambda ids: (ids[:, :-1], ids[:, 1:]))
    return ds.prefetch(tf.data.AUTOTUNE)


train_ds = windows(train_text, shuffle=True)
val_ds = windows(val_text, shuffle=False)
inputs, targets = next(iter(train_ds))
print("batch:", inputs.shape, targets.shape)
print("input :", repr(vectorizer.decode(inputs[0, :40].numpy())))
print("target:", repr(vectorizer.decode(targets[0, :40].numpy())))

"""
`keras_chargen.make_datasets(text, vectorizer)` builds the same
`(inputs, targets)` windows from the id stream, and starts them at a new
random offset every epoch, so that every character boundary is seen.

## The model: plain Keras

`Embedding(mask_zero=True)` matters for generation: `TextGenerator` left-pads
prompts of different lengths with id 0, and the mask keeps that padding out
of the LSTM state. No `recurrent_dropout`: it would disable the fused cuDNN
kernel on a GPU (and force a slower cell on the CPU).
"""

model = keras.Sequential(
    [
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(vocabulary_size, EMBEDDING_DIM, mask_zero=True),
        keras.layers.LSTM(UNITS, return_sequences=True),
        keras.layers.Dense(vocabulary_size),  # logits
    ]
)

"""
## Metrics: `PerplexityMetric` and `BitsPerCharacter` in `compile`

Both accumulate the negative log-likelihood over every target seen in the
epoch, weighted per character, so the figure does not depend on how the data
is batched. `mask_token_id=0` leaves padding targets out.
"""

model.compile(
    optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[
        keras_chargen.PerplexityMetric(mask_token_id=0),
        keras_chargen.BitsPerCharacter(mask_token_id=0),
        "accuracy",
    ],
)
model.summary()

"""
## Watching training: `SampleTextCallback` in `fit`

After each epoch the callback continues fixed prompts at fixed temperatures
with a fixed seed, so the samples are comparable from one epoch to the next.
A plain `Sequential` model does not hold its vocabulary, so pass
`vectorizer=`. The samples are kept as data in `callback.samples`.
"""

sample_callback = keras_chargen.SampleTextCallback(
    prompts=["The ", "def "],
    length=SAMPLE_LENGTH // 2,
    temperatures=[0.5],
    vectorizer=vectorizer,
)
started = time.monotonic()
history = model.fit(
    train_ds,
    validation_data=val_ds,
    epochs=EPOCHS,
    callbacks=[sample_callback],
    # The dataset shuffles itself; `shuffle=False` also avoids Keras' warning
    # that `shuffle=True` is ignored for a tf.data.Dataset.
    shuffle=False,
    verbose=2,
)
print(f"Trained {EPOCHS} epoch(s) in {time.monotonic() - started:.0f} s")
print(
    f"validation: {history.history['val_bits_per_char'][-1]:.3f} bits/char, "
    f"perplexity {history.history['val_perplexity'][-1]:.2f}"
)
print(f"{len(sample_callback.samples)} samples kept, the last one:")
print(sample_callback.samples[-1])

"""
## Writing text: `TextGenerator`

`TextGenerator` reads the prompt once, then takes one LSTM step per new
character with the state carried along, in a compiled loop. The tutorial this
library replaces re-ran a whole 100-character window through `model.predict`
for every character. Several prompts of different lengths run as one batch.
"""

generator = keras_chargen.TextGenerator(model, vectorizer=vectorizer)
sampler = keras_chargen.TemperatureSampler(temperature=0.8, top_p=0.95, seed=7)
for text_out in generator.generate(["The ", "import "], SAMPLE_LENGTH, sampler):
    print("---")
    print(text_out)

"""
`stream()` yields the continuation piece by piece, as an interactive tool
would show it:
"""

print("--- streamed:")
for piece in generator.stream("class ", length=SAMPLE_LENGTH // 2, sampler=sampler):
    print(piece, end="", flush=True)
print()

"""
## Saving

A plain `Sequential` model saves as usual with `model.save("model.keras")`,
but its vocabulary lives in the vectorizer, so keep the vectorizer's config
too (it is JSON):

```python
import json
json.dump(vectorizer.get_config(), open("vectorizer.json", "w"))
vectorizer = keras_chargen.CharVectorizer.from_config(json.load(open("vectorizer.json")))
```

`keras_chargen.CharLM` (what `build_char_lstm` returns) holds its vectorizer,
so one `.keras` file is enough: see `examples/train_alice.py`.
"""

restored = keras_chargen.CharVectorizer.from_config(vectorizer.get_config())
print("vocabulary restored:", restored.get_vocabulary() == vectorizer.get_vocabulary())
