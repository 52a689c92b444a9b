"""`train`: corpus -> one `.keras` file, a log, a plot and samples."""

import contextlib
import json
import math
import time
from pathlib import Path

import keras

from keras_chargen.data.training_data import load_training_data
from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.models.build_char_lstm import build_char_lstm
from keras_chargen.models.loading import load_model
from keras_chargen.models.presets import describe_source, resolve_model
from keras_chargen.models.saving import (
    remove_temporary_files,
    replace_atomically,
    save_model,
)
from keras_chargen.models.vocabulary_extension import (
    architecture_of,
    check_architecture,
    copy_weights,
)
from keras_chargen.plots.history import plot_history
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.training.callbacks import (
    AtomicCheckpoint,
    ProgressLogger,
    TimeLimit,
    read_log,
    stop_reason,
)
from keras_chargen.training.distributed import join_cluster, training_scope
from keras_chargen.training.run_backup import RunBackup
from keras_chargen.training.run_lock import RunLock
from keras_chargen.training.run_settings import (
    MODEL_SETTINGS,
    SIZE_RULE,
    check_settings,
    corpus_size_defaults,
    describe_corpus,
    epoch_limit,
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
# The callbacks that write files: with `distributed`, process 0's only.
_WRITERS = (AtomicCheckpoint, keras.callbacks.CSVLogger, RunBackup)


def train(
    corpus=None,
    output="run.keras",
    *,
    text=None,
    epochs=None,
    minutes=None,
    anneal=True,
    seed=1337,
    sequence_length=100,
    batch_size=64,
    validation_split=0.1,
    cell="lstm",
    layer_norm=False,
    clipnorm=1.0,
    weight_decay=None,
    variational_dropout=None,
    patience=3,
    resume=False,
    init_from=None,
    sample_prompts=("\n",),
    temperatures=(0.2, 0.5, 1.0),
    sample_length=200,
    verbose="auto",
    distributed=False,
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
    - `<output>.lock` (e.g. `run.keras.lock`): while training runs, the
      lock that makes a second run on the same `output` refuse to start
      (`keras_chargen.training.run_lock.RunLock`); a killed run's lock is
      released by the kernel, so it never blocks the next run.

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
        epochs: Optional int, at most this many epochs. Defaults to `None`:
            with `minutes`, no epoch limit (the run lasts for the budget,
            unless early stopping ends it sooner); without, 20 epochs.
        minutes: Optional float wall-clock budget; training stops cleanly
            within the epoch that reaches it. An explicit `epochs` still
            caps the run. Defaults to `None`.
        anneal: bool, with a `minutes` budget, keep the learning rate for
            the first 80% of the budget, then lower it along a half cosine
            to 10% of its value at the end. Defaults to `True`.
        seed: int, seeds weights, shuffling and sampling. Defaults to `1337`.
        sequence_length, batch_size, validation_split: see
            `keras_chargen.make_datasets`.
        cell, layer_norm, clipnorm, **hyperparameters: see
            `keras_chargen.build_char_lstm` (`embedding_dim`, `lstm_units`,
            `num_layers`, `dropout`, `learning_rate`).
        weight_decay, variational_dropout: see `keras_chargen.build_char_lstm`.
            Defaults to `None`: 0 (plain Adam) and `False`, the better
            settings in one-core runs on 150,000 characters
            (docs/benchmarks.md); given explicitly, they are recorded with
            the run's settings.
        patience: int, epochs without improvement before the learning rate
            is halved; early stopping waits twice as long. Defaults to `3`.
        resume: bool, continue an interrupted run with the same settings.
            Defaults to `False`.
        init_from: Optional starting point, to fine-tune instead of training
            from scratch: a `CharLM`, a `.keras` path or a preset name
            (`keras_chargen.list_presets()`). Its architecture is kept
            (`embedding_dim`, `lstm_units`, `num_layers`, `cell`,
            `layer_norm` must be left out or match); characters of the new
            text it has not seen extend its vocabulary (old ids keep their
            ids and weights). `dropout` and `learning_rate` may be changed.
            Defaults to `None`.
        sample_prompts, temperatures, sample_length: the samples printed
            after each epoch and at the end when verbose.
        verbose: `"auto"`, 0, 1 or 2 as in `model.fit`. Defaults to `"auto"`.
        distributed: data-parallel training over processes and machines
            (JAX backend): `True` reads the coordinator address, number of
            processes and process id from `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
            `KERAS_DISTRIBUTION_NUM_PROCESSES`, `KERAS_DISTRIBUTION_PROCESS_ID`
            (or JAX's cluster detection); a dict gives any of
            `"coordinator_address"`, `"num_processes"`, `"process_id"`. Every
            process calls `train` with the same arguments; `batch_size` is
            the global batch, shared evenly; process 0 writes the files and
            prints the samples. See `docs/scaling.md`. Not with `minutes` or
            `resume`. Defaults to `False`.

    Returns:
        `(model, summary)`: the trained `CharLM` (best weights) and a
        JSON-serialisable dict of the run's figures and file paths. With
        `distributed`, processes other than 0 return `(model, None)`: the
        model with the same weights, no files.

    Raises:
        ValueError: on a bad setting, both `corpus` and `text`, or a leftover
            backup without `resume`.
        TypeError: if `text` is not a `str`.
        keras_chargen.CorpusError: if the corpus cannot be read.
        OSError: if the output folder is not writable, or (as a
            `RunLockedError`) if another live run writes `output`.

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
        clipnorm=clipnorm, init_from=None, **hyperparameters,
    )  # fmt: skip
    # Recorded only when given, so backups of older runs still resume.
    for name, value in (
        ("weight_decay", weight_decay), ("variational_dropout", variational_dropout)
    ):  # fmt: skip
        if value is not None:
            settings[name] = value
    # With `distributed`, every process trains; only process 0 writes files.
    cluster = join_cluster(distributed, batch_size, minutes=minutes, resume=resume)
    writes = cluster is None or cluster.is_chief
    probe = output if writes else cluster.probe_path(output)
    check_settings(probe, epochs, minutes, validation_split, patience, hyperparameters)
    init = None
    if init_from is not None:
        init = resolve_model(init_from)
        requested = dict(hyperparameters, cell=cell, layer_norm=layer_norm)
        check_architecture(init, requested)
        settings["init_from"] = describe_source(init_from)
    # One writer per output: a second run on it refuses (RunLockedError).
    with RunLock(output, what="training run") if writes else contextlib.nullcontext():
        paths = paths_beside(output)
        if writes:
            settings = resolve_resume(paths, settings, resume)

        epoch_count = epoch_limit(epochs, minutes)

        keras.utils.set_random_seed(seed)
        # `text`: a str, or a PreparedCorpus read through memory maps; len() works.
        # With `init`, its ids are kept and the corpus's new characters follow.
        text, vectorizer, train_ds, val_ds = load_training_data(
            settings["corpus"] if text is None else None, text,
            sequence_length, batch_size, validation_split, seed=seed,
            verbose=bool(verbose), extend=None if init is None else init.vectorizer,
        )  # fmt: skip
        if cluster is not None:  # this process's share of every global batch
            train_ds = cluster.local_batches(train_ds, batch_size)
            val_ds = cluster.local_batches(val_ds, batch_size)
        fixed = {k: settings[k] for k in MODEL_SETTINGS if k in settings}
        # Explicit settings win; the rest may come from the corpus' length.
        from_size = {
            k: v for k, v in corpus_size_defaults(len(text)).items() if k not in fixed
        }
        fixed.update(from_size)
        if init is not None:
            fixed.update(architecture_of(init))
            cell, layer_norm = fixed.pop("cell"), fixed.pop("layer_norm")
        with training_scope(cluster):  # replicated variables when distributed
            model = build_char_lstm(
                vectorizer=vectorizer,
                cell=cell,
                layer_norm=layer_norm,
                clipnorm=clipnorm,
                **fixed,
            )
        if init is not None:
            copy_weights(init, model)
        backup = RunBackup(paths["backup"], log_path=paths["log"])
        initial_epoch, previous = 0, {}
        if writes:
            if not resume:  # a new run: nothing of an older one
                backup.delete()
                paths["log"].unlink(missing_ok=True)
            # What killed saves left (we hold the lock).
            for path in (output, paths["log"], paths["plot"]):
                remove_temporary_files(path)
            paths["backup"].mkdir(parents=True, exist_ok=True)
            replace_atomically(
                paths["backup"] / "settings.json",
                lambda tmp: Path(tmp).write_text(json.dumps(settings, indent=1)),
            )
            initial_epoch = backup.restore(model)  # 0 for a new run
            previous = read_log(paths["log"])

        checkpoint = AtomicCheckpoint(
            output, best=min(previous.get("val_loss", []), default=math.inf)
        )
        time_limit = None
        if minutes:
            anneal_to = _ANNEAL_TO if anneal else None
            time_limit = TimeLimit(
                minutes, anneal_to=anneal_to, anneal_from=_ANNEAL_FROM
            )
        early_stopping = keras.callbacks.EarlyStopping(
            patience=2 * patience, restore_best_weights=True
        )
        callbacks = [
            ProgressLogger(max(previous.get("wall_minutes", []), default=0.0)),
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.ReduceLROnPlateau(
                factor=0.5, patience=patience, min_lr=1e-5
            ),
            early_stopping,
            checkpoint,
            keras.callbacks.CSVLogger(str(paths["log"]), append=True),
            backup,  # after the log (see RunBackup)
            *([time_limit] if time_limit else []),
        ]
        if cluster is not None:  # the files are process 0's
            callbacks = cluster.callbacks(callbacks, writers=_WRITERS)
        if verbose and cluster is None:  # samples are generated out of the cluster
            callbacks.append(
                SampleTextCallback(sample_prompts, 100, temperatures[-1:], seed=seed)
            )
        with training_scope(cluster):
            model.fit(
                train_ds, validation_data=val_ds, epochs=epoch_count,
                callbacks=callbacks, initial_epoch=initial_epoch, verbose=verbose,
                shuffle=False,  # the dataset shuffles itself
            )  # fmt: skip
        if not writes:
            return model, None
        if not output.exists():  # no finite validation loss: keep the last weights
            save_model(model, output)
        model = load_model(output)  # checked, safe_mode=True
        backup.delete()

        history = read_log(paths["log"])
        corpus = settings["corpus"]
        summary = _summary(
            history, model, output, paths, corpus, text, started, time_limit
        )
        summary["stop_reason"] = stop_reason(
            history, epoch_count, time_limit, early_stopping
        )
        summary["corpus_size_defaults"] = from_size
        summary["corpus_size_rule"] = SIZE_RULE
        summary["init_from"] = settings.get("init_from")
        summary["num_processes"] = 1 if cluster is None else cluster.num_processes
        stopped = _describe_stop(summary)
        plot_history(history, paths["plot"], title=f"{output.name} on {corpus}", summary={
            "corpus characters": f"{len(text):,}",
            "vocabulary size": model.vocabulary_size,
            "parameters": f"{model.count_params():,}",
            "wall time": f"{summary['wall_seconds'] / 60:.1f} min",
            "stopped by": stopped,
            **{f"{k} (corpus size)": v for k, v in from_size.items()},
            **({"fine-tuned from": settings["init_from"]} if init else {}),
            "LSTM loop": _short_loop(model, summary["backend"]),
        })  # fmt: skip
        if verbose:
            print(f"Training stopped by {stopped}.")
            _print_samples(model, sample_prompts, temperatures, sample_length, seed)
        return model, summary


def _describe_stop(summary):
    """`"time budget after 15.0 min (52 epochs)"`: the figure's and log's line."""
    return (
        f"{summary['stop_reason']} after {summary['wall_seconds'] / 60:.1f} min "
        f"({summary['epochs']} epochs)"
    )


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
