"""Shared fixtures: a small corpus and a tiny trained model file."""

import random

import pytest

WORDS = (
    "the quick brown fox jumps over a lazy dog while alice follows the white "
    "rabbit to tea with the hatter and the queen of hearts"
).split()


def make_text(num_words=6000, seed=0):
    rng = random.Random(seed)
    lines = []
    for _ in range(num_words // 12):
        lines.append(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + ".")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


TINY = dict(
    lstm_units=16, embedding_dim=8, num_layers=1, sequence_length=32, batch_size=16
)


@pytest.fixture(scope="session")
def trained_model_path(tmp_path_factory, corpus_file):
    """A tiny model trained for two epochs by `keras_chargen.train`."""
    import keras_chargen

    path = tmp_path_factory.mktemp("run") / "run.keras"
    keras_chargen.train(str(corpus_file), str(path), epochs=2, verbose=0, **TINY)
    return path


def random_model_file(path, text, scale=0.7, seed=0):
    """A 1x8 LSTM `CharLM` over `text`'s characters, random weights, saved."""
    import numpy as np

    from keras_chargen.layers.char_vectorizer import CharVectorizer
    from keras_chargen.models.char_lm import CharLM
    from keras_chargen.models.saving import save_model

    model = CharLM(
        CharVectorizer(vocabulary=sorted(set(text))),
        embedding_dim=4,
        units=8,
        num_layers=1,
    )
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))
    save_model(model, path)
    return model


@pytest.fixture
def small_filesystem():
    """A factory of tmpfs mounts: `small_filesystem("256k", read_only=False)`.

    Each call mounts a new tmpfs of that size (tests/disk.py) and returns its
    folder; all are unmounted when the test ends. Skips, saying why, where
    mounting is refused (it needs root).
    """
    import contextlib

    from disk import MountError, mounted_tmpfs, remount_read_only

    with contextlib.ExitStack() as mounts:

        def mount(size="1m", read_only=False):
            try:
                folder = mounts.enter_context(mounted_tmpfs(size))
            except MountError as error:
                pytest.skip(f"full-disk tests need a tmpfs mount (root): {error}")
            if read_only:
                remount_read_only(folder)
            return folder

        yield mount


def run_cli(argv):
    """Runs `keras-chargen ARGV` in-process; returns the exit status."""
    from keras_chargen.commands.cli import main

    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


# The tests CI runs again under KERAS_BACKEND=jax and KERAS_BACKEND=torch
# (`python -m pytest -m "all_backends and not large"`): everything that runs
# a model, generates, scores, trains or samples.
ALL_BACKENDS = {
    "build_char_lstm_test.py",
    "char_lm_test.py",
    "cli_evaluate_test.py",
    "cli_score_test.py",
    "cli_test.py",
    "evaluate_test.py",
    "filter_samplers_test.py",
    "fused_lstm_test.py",
    "loops_test.py",
    "perplexity_metric_test.py",
    "sample_text_callback_test.py",
    "sampler_generation_test.py",
    "samplers_test.py",
    "score_test.py",
    "state_protocol_test.py",
    "temperature_sampler_test.py",
    "text_generator_test.py",
    "vectorizer_backends_test.py",
    "train_test.py",
    "run_backup_test.py",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in ALL_BACKENDS:
            item.add_marker("all_backends")
