import csv
import importlib.util
import ipaddress
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

import keras_chargen
from keras_chargen.tuning.search import search

DRIVER = Path(__file__).resolve().parents[1] / "tuning" / "search.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A tiny model; only the dropout is searched.
TINY_SPACE = {
    "lstm_units": 16,
    "embedding_dim": 8,
    "num_layers": 1,
    "dropout": [0.0, 0.1, 0.2],
    "learning_rate": 0.01,
}
SMALL = dict(sequence_length=32, batch_size=64, verbose=0)


@pytest.fixture(autouse=True)
def not_distributed(monkeypatch):
    for name in (
        "KERASTUNER_TUNER_ID",
        "KERASTUNER_ORACLE_IP",
        "KERASTUNER_ORACLE_PORT",
    ):
        monkeypatch.delenv(name, raising=False)


def read_rows(project):
    with open(project / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def searched(tmp_path_factory, corpus_file):
    directory = tmp_path_factory.mktemp("search")
    summary = search(
        str(corpus_file), tuner="random", max_trials=2, epochs=2,
        directory=directory, search_space=TINY_SPACE, **SMALL,
    )  # fmt: skip
    return summary, directory / "chargen"


def test_csv_has_one_row_per_trial(searched):
    _, project = searched
    rows = read_rows(project)
    assert [r["trial"] for r in rows] == ["0", "1"]
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert len({r["dropout"] for r in rows}) == 2
    for row in rows:
        assert row["lstm_units"] == "16" and row["epochs"] == "2"
        assert float(row["val_bits_per_char"]) == pytest.approx(
            math.log2(float(row["val_perplexity"])), rel=1e-4
        )


def test_table_lists_every_trial_best_first(searched):
    summary, _ = searched
    lines = summary["table"].splitlines()
    assert lines[0].startswith("| trial | status |") and len(lines) == 4
    assert lines[2].startswith(f"| {summary['best_trial']} | COMPLETED |")
    best = min(summary["trials"], key=lambda r: r["val_bits_per_char"])
    assert summary["best_val_bits_per_char"] == best["val_bits_per_char"]


def test_plot_is_a_png(searched):
    _, project = searched
    assert (project / "results.png").read_bytes()[:8] == PNG_MAGIC


def test_best_model_is_the_best_trials_checkpoint(searched, corpus_file):
    summary, _ = searched
    model = keras.saving.load_model(summary["model_path"], safe_mode=True)
    assert isinstance(model, keras_chargen.CharLM)
    _, val_ds = keras_chargen.make_datasets(
        corpus_file.read_text(), model.vectorizer, 32, 64, 0.1, seed=1337
    )
    perplexity = model.evaluate(val_ds, return_dict=True, verbose=0)["perplexity"]
    assert perplexity == pytest.approx(summary["best_val_perplexity"], rel=1e-4)


def test_best_model_generates(searched):
    summary, _ = searched
    model = keras.saving.load_model(summary["model_path"], safe_mode=True)
    text = model.generate(
        "The ", length=30, sampler=keras_chargen.TemperatureSampler(0)
    )
    assert text.startswith("The ") and len(text) == 34


def test_running_a_finished_search_again_reruns_nothing(searched, corpus_file):
    summary, project = searched
    before = {p: p.read_bytes() for p in project.glob("trial_*/trial.json")}
    again = search(
        str(corpus_file), tuner="random", max_trials=2, epochs=2,
        directory=project.parent, search_space=TINY_SPACE, **SMALL,
    )  # fmt: skip
    assert {p: p.read_bytes() for p in project.glob("trial_*/trial.json")} == before
    assert again["trials"] == summary["trials"]


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path, corpus_file):
    summary = search(
        str(corpus_file), tuner="random", max_trials=3, epochs=1, seed=2,
        directory=tmp_path, search_space={**TINY_SPACE, "dropout": [0.0, 1.0, 0.5]},
        **SMALL,
    )  # fmt: skip
    rows = read_rows(tmp_path / "chargen")
    # The defaults come first (dropout=0.0 here); seed 2 then draws the bad
    # value (dropout=1.0) before the last one.
    assert [(r["dropout"], r["status"]) for r in rows] == [
        ("0.0", "COMPLETED"),
        ("1.0", "FAILED"),
        ("0.5", "COMPLETED"),
    ]
    assert "`dropout` must be in [0, 1)" in rows[1]["note"]
    assert summary["best_trial"] in (rows[0]["trial"], rows[2]["trial"])


def test_the_first_trial_is_the_default_configuration(searched):
    summary, _ = searched
    assert summary["trials"][0]["dropout"] == 0.1  # build_char_lstm's default


def test_hyperband_continues_the_best_first_round_trial(tmp_path, corpus_file):
    # Hyperband with epochs=3 runs three 1-epoch trials, then trains the best
    # of them on to epoch 3; max_trials=4 stops the schedule there.
    summary = search(
        str(corpus_file), tuner="hyperband", epochs=3, max_trials=4,
        directory=tmp_path, search_space=TINY_SPACE, **SMALL,
    )  # fmt: skip
    rows = summary["trials"]
    first_round = min(rows[:3], key=lambda r: r["val_bits_per_char"])
    assert [r["epochs"] for r in rows] == [1, 1, 1, 3]
    assert rows[3]["continues"] == first_round["trial"]
    assert rows[3]["dropout"] == first_round["dropout"]


def test_time_budget_stops_the_search(tmp_path, corpus_file):
    summary = search(
        str(corpus_file), tuner="random", max_trials=3, epochs=1, minutes=1e-4,
        directory=tmp_path, search_space=TINY_SPACE, **SMALL,
    )  # fmt: skip
    assert summary["stopped_by_time_limit"] is True
    assert summary["trials"] == [] and summary["model_path"] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(tuner="grid"), "`tuner` must be one of"),
        (dict(epochs=0), "`epochs` must be a positive int. Received: epochs=0"),
        (dict(max_trials=0), "`max_trials` must be a positive int"),
        (dict(minutes=0), "`minutes` must be positive. Received: minutes=0"),
        (dict(search_space={"units": [8]}), "`search_space` keys must be among"),
        (dict(search_space={"dropout": []}), "lists must not be empty"),
        (dict(output="best.h5"), "`output` must end in `.keras`"),
    ],
)
def test_bad_settings_raise(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        search("pydoc", directory=tmp_path, **kwargs)


def test_resuming_with_other_settings_is_refused(tmp_path, corpus_file):
    (tmp_path / "chargen").mkdir()
    settings = dict(corpus=str(corpus_file), tuner="random", epochs=1, seed=1337)
    settings.update(sequence_length=32, batch_size=64, search_space={})
    (tmp_path / "chargen" / "settings.json").write_text(json.dumps(settings))
    with pytest.raises(
        ValueError, match="started with other settings.*'epochs': \\(1, 2\\)"
    ):
        search(str(corpus_file), tuner="random", epochs=2, directory=tmp_path, **SMALL)


def test_importing_the_package_does_not_import_keras_tuner():
    code = (
        "import sys, keras_chargen, keras_chargen.tuning.search, "
        "keras_chargen.tuning.compat; print('keras_tuner' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.strip() == "False", result.stderr[-2000:]


def test_a_partial_distributed_setup_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    with pytest.raises(
        ValueError, match="Missing: KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_PORT"
    ):
        search("pydoc", directory=tmp_path)


def test_a_tuner_id_and_port_without_an_address_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "(KERASTUNER_ORACLE_IP=127.0.0.1 keeps the oracle's port on loopback). "
            "Missing: KERASTUNER_ORACLE_IP"
        ),
    ):
        search("pydoc", directory=tmp_path)
    assert "KERASTUNER_ORACLE_IP" not in os.environ  # read, never written


def test_a_search_leaves_the_environment_alone(tmp_path, corpus_file):
    before = dict(os.environ)
    summary = search(
        str(corpus_file), tuner="random", max_trials=1, epochs=1,
        directory=tmp_path, search_space=TINY_SPACE, **SMALL,
    )  # fmt: skip
    assert [r["status"] for r in summary["trials"]] == ["COMPLETED"]
    assert dict(os.environ) == before


# === The driver, tuning/search.py ===


@pytest.fixture(scope="module")
def driver():
    spec = importlib.util.spec_from_file_location("tuning_search_driver", DRIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tuner", "grid"], "argument --tuner: invalid choice: 'grid'"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
        (["--max-trials", "-2"], "argument --max-trials: expected a positive integer"),
        (["--minutes", "0"], "argument --minutes: expected a positive number, got '0'"),
        (["--search-space", "{lstm"], "argument --search-space: not JSON"),
    ],
)
def test_driver_rejects_bad_arguments(driver, capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        driver.main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_driver_reports_an_unreadable_corpus_in_one_line(driver, capsys, tmp_path):
    missing = tmp_path / "missing.txt"
    assert driver.main(["--corpus", str(missing), "--directory", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("search.py: error: ") and "no file exists" in err
    assert len(err.strip().splitlines()) == 1


# === Resume and distributed search, in subprocesses ===


def driver_command(corpus, directory):
    """Three tiny trials (the three dropout values of `TINY_SPACE`)."""
    return [
        sys.executable, str(DRIVER), "--corpus", str(corpus), "--directory",
        str(directory), "--tuner", "random", "--max-trials", "3",
        "--epochs", "2", "--sequence-length", "32", "--batch-size", "64",
        "--search-space", json.dumps(TINY_SPACE), "--quiet",
    ]  # fmt: skip


def subprocess_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    root = str(DRIVER.parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def finished_trials(project):
    """Trials the oracle has ended *and* saved as no longer running."""
    try:
        state = json.loads((project / "oracle.json").read_text())
    except (OSError, ValueError):
        return []
    running = set(state["ongoing_trials"].values())
    return [t for t in state["end_order"] if t not in running]


def wait_for(condition, timeout, processes=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if any(p.poll() is not None for p in processes):
            return condition()
        time.sleep(0.1)
    return False


@pytest.mark.large
@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"]
)
def test_a_stopped_search_resumes_without_rerunning_finished_trials(
    tmp_path, corpus_file, stop
):
    project = tmp_path / "chargen"
    command = driver_command(corpus_file, tmp_path)
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(command, env=subprocess_env(), stdout=log, stderr=log)
    try:
        assert wait_for(lambda: finished_trials(project), 180, [first])
        done = {t: (project / f"trial_{t}" / "trial.json").read_bytes()
                for t in finished_trials(project)}  # fmt: skip
        # Not while the next trial starts: Python drops a Ctrl-C that lands
        # in the garbage collector ("Exception ignored ... KeyboardInterrupt").
        time.sleep(2)
        first.send_signal(stop)
        first.wait(60)
    finally:
        first.kill()
        log.close()
    assert first.returncode == (130 if stop == signal.SIGINT else -signal.SIGKILL)
    assert len(done) < 3, "the search finished before it could be stopped"

    again = subprocess.run(
        command, env=subprocess_env(), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-3000:]
    rows = read_rows(project)
    assert [r["status"] for r in rows] == ["COMPLETED"] * 3
    for trial_id, state in done.items():  # finished trials were not run again
        assert (project / f"trial_{trial_id}" / "trial.json").read_bytes() == state
    assert len(list(project.glob("trial_*"))) == 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port):
    """Local addresses with a listening TCP socket on `port` (IPv4-mapped as IPv4)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if int(local_port, 16) != port or state != "0A":  # 0A: LISTEN
                continue
            words = [
                bytes.fromhex(address[i : i + 8])[::-1]
                for i in range(0, len(address), 8)
            ]
            ip = ipaddress.ip_address(b"".join(words))
            found.append(str(getattr(ip, "ipv4_mapped", None) or ip))
    return found


@pytest.mark.large
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_a_chief_and_two_workers_run_every_trial_on_loopback(tmp_path, corpus_file):
    port = free_port()
    command = driver_command(corpus_file, tmp_path)
    common = dict(KERASTUNER_ORACLE_PORT=str(port))
    processes, logs = [], []

    def start(name, **env):
        logs.append(open(tmp_path / f"{name}.log", "w"))
        processes.append(
            subprocess.Popen(
                command,
                env=subprocess_env(**common, **env),
                stdout=logs[-1],
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )

    try:
        start("chief", KERASTUNER_TUNER_ID="chief", KERASTUNER_ORACLE_IP="127.0.0.1")
        assert wait_for(lambda: listening_addresses(port), 120, processes)
        assert listening_addresses(port) == ["127.0.0.1"]
        for i in range(2):
            start(
                f"tuner{i}",
                KERASTUNER_TUNER_ID=f"tuner{i}",
                KERASTUNER_ORACLE_IP="127.0.0.1",
            )
        deadline = time.monotonic() + 300
        codes = [p.wait(max(deadline - time.monotonic(), 1)) for p in processes]
    finally:
        for p in processes:
            p.kill()
        for log in logs:
            log.close()
    tails = {log.name: Path(log.name).read_text()[-1500:] for log in logs}
    assert codes == [0, 0, 0], tails
    rows = read_rows(tmp_path / "chargen")
    assert [r["status"] for r in rows] == ["COMPLETED"] * 3, tails
    assert (tmp_path / "chargen" / "best.keras").is_file()
