"""
Title: Tune, then train the best configuration longer
Author: keras_chargen contributors
Date created: 2026/11/29
Last modified: 2026/11/29
Description: A small KerasTuner search over `build_char_lstm`'s
hyperparameters with `keras_chargen.search`, then `keras_chargen.train` on
the winner with a longer budget.
Accelerator: None (runs on a CPU)
"""

"""
## Introduction

Hyperparameter searches are expensive, so the usual recipe is in two steps:

1. **search** many configurations, each for a few epochs, to rank them;
2. **train** the best one for much longer.

`keras_chargen.search` runs KerasTuner (Hyperband by default) over the
hyperparameters of `keras_chargen.build_char_lstm` (LSTM units, embedding
size, layers, dropout, learning rate) with the objective `val_perplexity`,
minimised. It resumes where it stopped when run again, keeps every trial's
best model, and writes a results table, a CSV and a plot.
`keras_chargen.train` then trains the winning configuration with checkpoints,
learning-rate reduction, early stopping and a time budget. Both hold out the
same last 10% of the text, so their validation figures are comparable.

The search needs the tuning extra: `pip install "keras-chargen[tuning]"`
(KerasTuner, and TensorBoard, which KerasTuner imports on the TensorFlow
backend). More on the search space and distributed searches in
`docs/tuning.md`.

**Measured** (2026-11-29, `python examples/tune_then_train.py`, 2 CPU cores
shared with other jobs, load average 2.6-3.9; 9.6 minutes in all). The
5-minute Hyperband search on the embedded `pydoc` corpus ran 6 trials:

| trial | embedding_dim | lstm_units | num_layers | dropout | learning_rate | from | epochs | val bits/char |
|---|---|---|---|---|---|---|---|---|
| 0003 | 64 | 256 | 2 | 0.1 | 0.003 | 0000 | 3 | 2.637 |
| 0004 | 64 | 256 | 1 | 0.1 | 0.001 | | 3 | 3.146 |
| 0000 | 64 | 256 | 2 | 0.1 | 0.003 | | 1 | 3.765 |
| 0001 | 64 | 128 | 2 | 0.1 | 0.003 | | 1 | 3.989 |
| 0002 | 32 | 256 | 1 | 0.0 | 0.001 | | 1 | 4.157 |
| 0005 | 16 | 64 | 2 | 0.2 | 0.001 | | 1 | 4.757 (stopped by the budget) |

The winner was the default configuration (the search tries it first, as
the baseline to beat): on 2 CPU cores and 5 minutes, nothing beat it. Trained
again from scratch for 4 minutes, it reached 2.245 validation bits/char in 5
epochs (3.80, 3.03, 2.66, 2.36, 2.25). A longer search (`SEARCH_MINUTES`,
`SEARCH_EPOCHS`) or a GPU is needed to find something better.

`SMOKE=1` searches two tiny configurations for one epoch on 20,000
characters and trains the better one for one more epoch, in well under a
minute; the test suite runs it that way.
"""

"""
## Setup
"""

# ruff: noqa: E402 (keras-io script format: markdown cells come before the imports)
import os

import keras_chargen

SMOKE = os.environ.get("SMOKE") == "1"  # a tiny run, for tests

# ---- settings ----
CORPUS = "pydoc"  # embedded, offline; or "shakespeare", a path, a URL
TUNER = "hyperband"  # hyperband | bayesian | random
MAX_TRIALS = None  # bayesian / random: trials (None: 10); hyperband: a cap
SEARCH_EPOCHS = 3  # the most epochs one trial trains (Hyperband's max_epochs)
SEARCH_MINUTES = 5.0  # the search budget; the running trial stops, no new one starts
SEARCH_SPACE = None  # None: keras_chargen.search's CPU-sized default space
TRAIN_MINUTES = 4.0  # the budget for the winner
SEQUENCE_LENGTH = 100
BATCH_SIZE = 64
if SMOKE:
    text = keras_chargen.load_corpus("pydoc")[:20_000]
    with open("smoke_corpus.txt", "w", encoding="utf-8") as file:
        file.write(text)
    CORPUS, TUNER, MAX_TRIALS, SEARCH_EPOCHS = "smoke_corpus.txt", "random", 2, 1
    SEARCH_MINUTES = TRAIN_MINUTES = None
    SEARCH_SPACE = {  # a list is searched, a single value is fixed
        "lstm_units": [16, 32],
        "embedding_dim": 8,
        "num_layers": 1,
        "dropout": 0.0,
        "learning_rate": 0.01,
    }
    SEQUENCE_LENGTH, BATCH_SIZE = 50, 32

"""
## 1. The search

Hyperband starts many configurations with a few epochs and continues only
the best third of them, up to `SEARCH_EPOCHS` epochs in all (the `from`
column of the table says which trial a row continues). With a budget, the running trial
stops within an epoch when time is up and no new one starts.
`overwrite=True` starts a fresh project each time this script runs; leave it
out to resume an interrupted search (finished trials are not re-run).
`verbose=2` prints one line per epoch.
"""

summary = keras_chargen.search(
    CORPUS,
    tuner=TUNER,
    max_trials=MAX_TRIALS,
    epochs=SEARCH_EPOCHS,
    minutes=SEARCH_MINUTES,
    directory="tuning_runs",
    project_name="tune_then_train",
    overwrite=True,
    sequence_length=SEQUENCE_LENGTH,
    batch_size=BATCH_SIZE,
    search_space=SEARCH_SPACE,
    verbose=2,
)

"""
`summary["table"]` ranks the trials, best validation bits/char first.
`results.csv` and `results.png` in the project folder hold the same data.
"""

print(f"\n{len(summary['trials'])} trials in {summary['wall_seconds'] / 60:.1f} min\n")
print(summary["table"])
best = summary["best_hyperparameters"]
print(
    f"\nBest: {summary['best_val_bits_per_char']:.3f} val bits/char after "
    f"{SEARCH_EPOCHS} epoch(s) or fewer: {best}"
)
print("Results:", summary["csv_path"], summary["plot_path"])

"""
## 2. Train the winner longer

The best hyperparameters are keyword arguments of `keras_chargen.train`
(and of `build_char_lstm`), so they pass straight through. The search also
saved the winning trial's model (`summary["model_path"]`), ready for
`keras-chargen generate`; here we start again from fresh weights with a
longer budget.
"""

model, result = keras_chargen.train(
    CORPUS,
    "best.keras",
    epochs=1 if SMOKE else 50,
    minutes=TRAIN_MINUTES,
    sequence_length=SEQUENCE_LENGTH,
    batch_size=BATCH_SIZE,
    verbose=2,
    temperatures=[0.8],
    **best,
)
print(
    f"\nTrained {result['epochs']} epoch(s) in {result['wall_seconds'] / 60:.1f} "
    f"min: {result['best_val_bits_per_char']:.3f} val bits/char "
    f"(search: {summary['best_val_bits_per_char']:.3f}), saved to "
    f"{result['model_path']}"
)

"""
## 3. Use it

The file holds its vocabulary; generate from it here or with
`keras-chargen generate best.keras --prompt "The "`.
"""

sampler = keras_chargen.TemperatureSampler(0.8, top_p=0.95, seed=1)
print(model.generate("The ", length=200, sampler=sampler))
