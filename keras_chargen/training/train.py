"""`train`: corpus -> one `.keras` file, a log, a plot and samples."""

import json
import math
import shutil
import time
from pathlib import Path

import keras

from keras_chargen.data.corpus import load_corpus
from keras_chargen.data.datasets import make_datasets
from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.build_char_lstm import SEARCH_SPACE, build_char_lstm
from keras_chargen.models.saving import save_model
from keras_chargen.plots.history import plot_history
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.training.callbacks import (
    AtomicCheckpoint,
    ProgressLogger,
    TimeLimit,
    read_log,
)
from keras_chargen.training.run_settings import (
    check_settings,
    describe_corpus,
    paths_beside,
    resolve_resume,
)
from keras_chargen.training.sample_text_callback import SampleTextCallback

_LN2 = math.log(2)
# With a time budget, the learning rate keeps its value for the first
# _ANNEAL_FROM of the budget, then falls along a half cosine to _ANNEAL_TO of
# it. Measured on the 15-minute tiny-shakespeare run (docs/benchmarks.md): two
# more minutes at 10% of the rate lowered held-out bits/char from 2.152 to
# 2.123, while a cosine over the whole budget ended worse (2.188).
_ANNEAL_TO = 0.1
_ANNEAL_FROM = 0.8


def train(
    corpus=None,
    output="run.keras",
    *,
    text=None,
    epochs=20,
    minutes=None,
    anneal=True,
    seed=1337,
    sequence_length=100,
    batch_size=64,
    validation_split=0.1,
    cell="lstm",
    layer_norm=False,
    clipnorm=1.0,
    patience=3,
    resume=False,
    sample_prompts=("\n",),
    temperatures=(0.2, 0.5, 1.0),
    sample_length=200,
    verbose="auto",
    **hyperparameters,
):
    """Trains a character model on a corpus, the whole recipe in one call.

    The corpus is either `corpus`, a name, path or URL that
    `keras_chargen.load_corpus` reads, or `text`, the text itself (a `str`
    you loaded, cut or cleaned). `keras_chargen.split_text` holds out its
    tail for validation, so `split_text(text, validation_split)[1]` is the
    text the model never trained on.

    Writes, next to `output`:

    - `output` (e.g. `run.keras`): the best model by validation loss,
      replaced atomically after each improving epoch; it holds the
      vocabulary and loads with `keras.saving.load_model`.
    - `<stem>.csv`: per-epoch metrics; `<stem>.png`: the training figure.
    - `<stem>.backup/`: while training runs, the state `resume=True` picks
      up after a crash or a kill; removed when training ends.

    Callbacks: the checkpoint above, `ReduceLROnPlateau`, `EarlyStopping`
    (best weights restored), `BackupAndRestore`, `TerminateOnNaN`,
    `CSVLogger`, a wall-clock budget (`minutes`), and a
    `SampleTextCallback` when verbose.

    Args:
        corpus: Optional corpus name, path or URL for
            `keras_chargen.load_corpus`. Defaults to `None`: `"pydoc"`
            (embedded, works offline) unless `text` is given.
        output: the `.keras` path. Defaults to `"run.keras"`.
        text: Optional `str`, the text to train on, instead of `corpus`. The
            run settings (and the summary's `"corpus"`) record it as
            `"<text: N characters, sha256 ...>"`, so `resume=True` checks
            that it is the same text. Defaults to `None`.
        epochs: int, at most this many epochs. Defaults to `20`.
        minutes: Optional float wall-clock budget; training stops cleanly
            within the epoch that reaches it. Defaults to `None`.
        anneal: bool, with a `minutes` budget, keep the learning rate for
            the first 80% of the budget, then lower it along a half cosine
            to 10% of its value at the end. Defaults to `True`.
        seed: int, seeds weights, shuffling and sampling. Defaults to `1337`.
        sequence_length, batch_size, validation_split: see
            `keras_chargen.make_datasets`.
        cell, layer_norm, clipnorm, **hyperparameters: see
            `keras_chargen.build_char_lstm` (`embedding_dim`, `lstm_units`,
            `num_layers`, `dropout`, `learning_rate`).
        patience: int, epochs without improvement before the learning rate
            is halved; early stopping waits twice as long. Defaults to `3`.
        resume: bool, continue an interrupted run with the same settings.
            Defaults to `False`.
        sample_prompts, temperatures, sample_length: the samples printed
            after each epoch and at the end when verbose.
        verbose: `"auto"`, 0, 1 or 2 as in `model.fit`. Defaults to `"auto"`.

    Returns:
        `(model, summary)`: the trained `CharLM` (best weights) and a
        JSON-serialisable dict of the run's figures and file paths.

    Raises:
        ValueError: on a bad setting, both `corpus` and `text`, or a leftover
            backup without `resume`.
        TypeError: if `text` is not a `str`.
        keras_chargen.CorpusError: if the corpus cannot be read.
        OSError: if the output folder is not writable.

    Example:

    ```python
    model, summary = keras_chargen.train("shakespeare", "shakespeare.keras", minutes=15)
    print(summary["best_val_bits_per_char"])

    text = keras_chargen.load_corpus("alice", normalize_whitespace="lines")
    model, summary = keras_chargen.train(text=text[:50_000], output="alice.keras")
    ```
    """
    started = time.monotonic()
    output = Path(output)
    settings = dict(
        corpus=describe_corpus(corpus, text), seed=seed,
        sequence_length=sequence_length, batch_size=batch_size,
        validation_split=validation_split, cell=cell, layer_norm=layer_norm,
        clipnorm=clipnorm, **hyperparameters,
    )  # fmt: skip
    check_settings(output, epochs, minutes, validation_split, patience, hyperparameters)
    paths = paths_beside(output)
    settings = resolve_resume(paths, settings, resume)

    keras.utils.set_random_seed(seed)
    if text is None:
        text = load_corpus(settings["corpus"], verbose=bool(verbose))
    vectorizer = CharVectorizer()
    vectorizer.adapt(text)
    train_ds, val_ds = make_datasets(
        text, vectorizer, sequence_length, batch_size, validation_split, seed=seed
    )
    fixed = {k: settings[k] for k in SEARCH_SPACE if k in settings}
    model = build_char_lstm(
        vectorizer=vectorizer,
        cell=cell,
        layer_norm=layer_norm,
        clipnorm=clipnorm,
        **fixed,
    )
    paths["backup"].mkdir(parents=True, exist_ok=True)
    (paths["backup"] / "settings.json").write_text(json.dumps(settings, indent=1))
    if not resume:
        paths["log"].unlink(missing_ok=True)

    previous = read_log(paths["log"])
    checkpoint = AtomicCheckpoint(
        output, best=min(previous.get("val_loss", []), default=math.inf)
    )
    time_limit = None
    if minutes:
        anneal_to = _ANNEAL_TO if anneal else None
        time_limit = TimeLimit(minutes, anneal_to=anneal_to, anneal_from=_ANNEAL_FROM)
    callbacks = [
        ProgressLogger(max(previous.get("wall_minutes", []), default=0.0)),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=patience, min_lr=1e-5),
        keras.callbacks.EarlyStopping(patience=2 * patience, restore_best_weights=True),
        checkpoint,
        keras.callbacks.BackupAndRestore(str(paths["backup"])),
        keras.callbacks.CSVLogger(str(paths["log"]), append=True),
        *([time_limit] if time_limit else []),
    ]
    if verbose:
        callbacks.append(
            SampleTextCallback(sample_prompts, 100, temperatures[-1:], seed=seed)
        )
    model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks,
        verbose=verbose, shuffle=False,  # the dataset shuffles itself
    )  # fmt: skip
    if not output.exists():  # no finite validation loss: keep the last weights
        save_model(model, output)
    model = keras.saving.load_model(output)
    shutil.rmtree(paths["backup"], ignore_errors=True)

    history = read_log(paths["log"])
    corpus = settings["corpus"]
    summary = _summary(history, model, output, paths, corpus, text, started, time_limit)
    plot_history(history, paths["plot"], title=f"{output.name} on {corpus}", summary={
        "corpus characters": f"{len(text):,}",
        "vocabulary size": model.vocabulary_size,
        "parameters": f"{model.count_params():,}",
        "wall time": f"{summary['wall_seconds'] / 60:.1f} min",
        "LSTM loop": _short_loop(model, summary["backend"]),
    })  # fmt: skip
    if verbose:
        _print_samples(model, sample_prompts, temperatures, sample_length, seed)
    return model, summary


def _summary(history, model, output, paths, corpus, text, started, time_limit):
    val_loss = history.get("val_loss", [])
    finite = [(v, i) for i, v in enumerate(val_loss) if math.isfinite(v)]
    best_loss, best = min(finite) if finite else (math.nan, len(val_loss) - 1)

    def at(key, index):
        values = history.get(key, [])
        return values[index] if values and index is not None else math.nan

    return {
        "epochs": len(history.get("loss", [])),
        "wall_seconds": round(time.monotonic() - started, 1),
        "stopped_by_time_limit": bool(time_limit and time_limit.stopped),
        "final_val_loss": at("val_loss", -1),
        "best_val_loss": best_loss,
        "best_epoch": best + 1,
        "best_val_bits_per_char": best_loss / _LN2,
        "best_val_perplexity": math.exp(best_loss) if finite else math.nan,
        "best_val_accuracy": at("val_accuracy", best),
        "corpus": corpus,
        "corpus_characters": len(text),
        "vocabulary_size": model.vocabulary_size,
        "parameters": model.count_params(),
        "backend": keras.backend.backend(),
        "training_loop": _training_loop(model),
        "model_path": str(output),
        "log_path": str(paths["log"]),
        "plot_path": str(paths["plot"]),
    }


def _training_loop(model):
    """How the recurrent layers trained: which loop, which matmul dtype."""
    if model.fused_lstm_active:
        return f"fused LSTM, {model.training_matmul_dtype} products"
    return "Keras' own loop, float32 products"


def _short_loop(model, backend):
    """`training_loop` in a few words, for the figure's summary panel."""
    loop = "fused" if model.fused_lstm_active else "Keras"
    return f"{loop}, {model.training_matmul_dtype}, {backend}"


def _print_samples(model, prompts, temperatures, length, seed):
    generator = TextGenerator(model)
    for temperature in temperatures:
        sampler = TemperatureSampler(temperature, seed=seed)
        for text in generator.generate(list(prompts), length, sampler):
            print(f"\n=== temperature {temperature} ===\n{text}")
