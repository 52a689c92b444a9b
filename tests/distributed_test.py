"""Data-parallel training: two real processes on 127.0.0.1 against one.

The two-process run and its one-process reference run as subprocesses with
KERAS_BACKEND=jax (distributed training is JAX-only), on a corpus prepared
by `prepare_corpus` that both share. The argument checks run in-process.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from conftest import TINY, make_text, run_cli

import keras_chargen
from keras_chargen.training.callbacks import read_log
from keras_chargen.training.distributed import ENVIRONMENT

# 5,157 characters with validation_split=0.1: 144 training windows (9 full
# batches of 16) and 16 validation windows (1 batch), so the one-process run
# sees exactly the global batches the two processes share (a short batch
# would be dropped by the distributed run only; checked below).
CHARACTERS = 5157
SETTINGS = dict(TINY, dropout=0.0, epochs=2, validation_split=0.1, seed=7)
TIMEOUT = 300  # seconds per process; a healthy run takes ~20-40 s on 2 cores

WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras_chargen

    kwargs = json.loads(sys.argv[1])
    weights = kwargs.pop("weights")
    model, summary = keras_chargen.train(**kwargs)
    np.savez(weights, *model.get_weights())
    """
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jax_env(**variables):
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2")
    for name in ENVIRONMENT.values():
        env.pop(name, None)
    env.update(variables)
    return env


def worker(script, weights, env, **kwargs):
    kwargs = dict(kwargs, weights=str(weights), verbose=0)
    return [sys.executable, str(script), json.dumps(kwargs)], env


def run_all(commands, cwd):
    """Starts every command at once; returns their outputs, or fails.

    Each gets `TIMEOUT` seconds; on a failure or a timeout every process
    still running is killed, so no worker outlives the test.
    """
    processes = [
        subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for argv, env in commands
    ]
    outputs = []
    try:
        for process in processes:
            out, _ = process.communicate(timeout=TIMEOUT)
            outputs.append(out)
            assert process.returncode == 0, out[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distributed")
    source = folder / "corpus.txt"
    source.write_text(make_text(2000)[:CHARACTERS], encoding="utf-8")
    keras_chargen.prepare_corpus(
        source, folder / "prepared", SETTINGS["validation_split"], verbose=False
    )
    return folder / "prepared"


def test_corpus_has_only_full_batches(prepared):
    corpus = keras_chargen.PreparedCorpus(prepared)
    train_ds, val_ds = keras_chargen.make_datasets(
        corpus, corpus.vectorizer(), TINY["sequence_length"], TINY["batch_size"],
        SETTINGS["validation_split"], seed=SETTINGS["seed"],
    )  # fmt: skip
    sizes = [len(x) for x, _ in train_ds] + [len(x) for x, _ in val_ds]
    assert sizes == [TINY["batch_size"]] * 10


def test_two_processes_train_like_one(prepared, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    for name in ("chief", "worker", "reference"):
        (tmp_path / name).mkdir()
    address = f"127.0.0.1:{free_port()}"
    flags = [
        "--units", "16", "--embedding-dim", "8", "--layers", "1",
        "--sequence-length", "32", "--batch-size", "16", "--dropout", "0",
        "--epochs", "2", "--validation-split", "0.1", "--seed", "7", "--quiet",
    ]  # fmt: skip
    chief = (
        [
            sys.executable, "-m", "keras_chargen_cli", "train", "--corpus",
            str(prepared), "--output", str(tmp_path / "chief" / "run.keras"),
            *flags, "--distributed", "--coordinator-address", address,
            "--num-processes", "2", "--process-id", "0",
        ],
        jax_env(),
    )  # fmt: skip
    # Process 1 reads its settings from Keras' variables instead of flags.
    second = worker(
        script, tmp_path / "worker.npz",
        jax_env(
            KERAS_DISTRIBUTION_JOB_ADDRESSES=address,
            KERAS_DISTRIBUTION_NUM_PROCESSES="2",
            KERAS_DISTRIBUTION_PROCESS_ID="1",
        ),
        corpus=str(prepared), output=str(tmp_path / "worker" / "run.keras"),
        distributed=True, **SETTINGS,
    )  # fmt: skip
    reference = worker(
        script, tmp_path / "reference.npz", jax_env(),
        corpus=str(prepared), output=str(tmp_path / "reference" / "run.keras"),
        **SETTINGS,
    )  # fmt: skip
    run_all([chief, second, reference], cwd=tmp_path)

    # Only process 0 wrote files; process 1 left its output folder empty.
    assert sorted(p.name for p in (tmp_path / "chief").iterdir()) == [
        "run.csv", "run.keras", "run.png"
    ]  # fmt: skip
    assert list((tmp_path / "worker").iterdir()) == []

    # Both processes hold the same weights: process 0 saved its own.
    saved = keras.saving.load_model(tmp_path / "chief" / "run.keras").get_weights()
    held = np.load(tmp_path / "worker.npz")
    held = [held[f"arr_{i}"] for i in range(len(held.files))]
    assert len(saved) == len(held)
    for a, b in zip(saved, held, strict=True):
        np.testing.assert_array_equal(a, b)

    # The same global batches give the one-process run's losses and weights.
    two, one = (read_log(tmp_path / d / "run.csv") for d in ("chief", "reference"))
    assert len(two["loss"]) == len(one["loss"]) == SETTINGS["epochs"]
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-4)
    alone = np.load(tmp_path / "reference.npz")
    for i, weight in enumerate(held):
        np.testing.assert_allclose(weight, alone[f"arr_{i}"], atol=1e-4)
    assert two["loss"][-1] < two["loss"][0]  # it did train


@pytest.fixture
def no_cluster_variables(monkeypatch):
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "distributed, message",
    [
        ("yes", "`distributed` must be a bool or a dict"),
        ({"rank": 0}, "Unknown key(s) ['rank']"),
        ({"num_processes": 2}, "Missing: ['coordinator_address', 'process_id']"),
        (
            {"coordinator_address": "10.0.0.1", "num_processes": 2, "process_id": 0},
            "must be `host:port`",
        ),
        (
            {"coordinator_address": "h:1", "num_processes": 0, "process_id": 0},
            "`num_processes` must be an int >= 1",
        ),
        (
            {"coordinator_address": "h:1", "num_processes": 2, "process_id": 2},
            "`process_id` must be in [0, num_processes)",
        ),
    ],
)
def test_bad_settings_are_named(distributed, message, tmp_path, no_cluster_variables):
    with pytest.raises(ValueError) as error:
        keras_chargen.train(
            text=make_text(), output=tmp_path / "run.keras", distributed=distributed
        )
    assert message in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_bad_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "h:1")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "two")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "0")
    with pytest.raises(ValueError, match="KERAS_DISTRIBUTION_NUM_PROCESSES='two'"):
        keras_chargen.train(text=make_text(), output=tmp_path / "run.keras",
                            distributed=True)  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(minutes=1.0), "`minutes` is not supported with `distributed`"),
        (dict(resume=True), "`resume` is not supported with `distributed`"),
    ],
)
def test_unsupported_options_are_refused(
    kwargs, message, tmp_path, no_cluster_variables
):
    with pytest.raises(ValueError, match=message):
        keras_chargen.train(
            text=make_text(), output=tmp_path / "run.keras", distributed=True, **kwargs
        )


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="on JAX, distributed=True would join a cluster from the test process",
)
def test_needs_the_jax_backend(tmp_path, no_cluster_variables):
    with pytest.raises(ValueError, match="Set KERAS_BACKEND=jax") as error:
        keras_chargen.train(
            text=make_text(), output=tmp_path / "run.keras", distributed=True
        )
    assert keras.backend.backend() in str(error.value)


def test_cli_setting_alone_joins_and_names_the_missing_ones(
    tmp_path, capsys, no_cluster_variables
):
    status = run_cli(
        ["train", "--output", str(tmp_path / "run.keras"), "--process-id", "1"]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "Missing: ['coordinator_address', 'num_processes']" in err
    assert "--coordinator-address, --num-processes" in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_rejects_a_bad_process_id(tmp_path, capsys, no_cluster_variables):
    status = run_cli([
        "train", "--output", str(tmp_path / "run.keras"), "--distributed",
        "--coordinator-address", "127.0.0.1:1234", "--num-processes", "2",
        "--process-id", "-1",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert "`process_id` must be an int >= 0" in err
    assert len(err.strip().splitlines()) == 1
