"""Kill anywhere: `SIGKILL` `keras-chargen train` (and the search), then resume.

Each run is a real `keras-chargen` process killed with `SIGKILL` at a chosen
instant: some while a checkpoint or a backup is being written (the test
watches the folders and kills as soon as a temporary file appears, after a
random 0-15 ms), some at a random time. After every kill:

- the output path holds nothing or a complete model that loads through
  `keras_chargen.models.loading.load_model` (checked, `safe_mode=True`);
- the CSV log lists the epochs 0, 1, 2, ... once each;

then the same command is run again (`--resume` when a backup exists), until
a run finishes: its log lists every epoch exactly once, and nothing is left
beside the output but the model, the log and the plot.

The default suite kills 3 times; `-m large` kills 20 times, and the search 4
times.
"""

import csv
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_text

from keras_chargen.models.loading import load_model

EPOCHS = 6
_TRAIN = [
    "--epochs", str(EPOCHS), "--units", "8", "--embedding-dim", "4",
    "--layers", "1", "--sequence-length", "16", "--batch-size", "32", "--quiet",
]  # fmt: skip
# How long one killed run waits for its instant before giving up on it.
_DEADLINE_SECONDS = 300


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(make_text(num_words=2000), encoding="utf-8")
    return path


def _start(argv, log_path):
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "keras_chargen_cli", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


# `replace_atomically`'s temporary files: `.<name>.<8 random chars><suffix>`.
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}(\..+)?")


def _temporary_files(*folders):
    """The files `replace_atomically` is writing now, in `folders`."""
    found = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            continue
        found += [n for n in names if _TEMPORARY.fullmatch(n)]
    return found


def _kill_when(process, ready, rng):
    """SIGKILLs `process` once `ready()` is true, after 0-15 ms; `False` if
    the process ended before that (or within the deadline)."""
    deadline = time.monotonic() + _DEADLINE_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.015))
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def _instant(kind, work, process, rng):
    """A `ready()` predicate for one kind of kill instant in folder `work`."""
    backup = work / "run.backup"
    start = time.time()
    if kind == "start-up":  # `process` took the lock: reading, restoring
        lock = work / "run.keras.lock"
        return lambda: lock.exists() and f'"pid": {process.pid},' in lock.read_text()
    if kind == "model checkpoint":  # AtomicCheckpoint writing run.keras
        return lambda: any(n.startswith(".run.keras.") for n in _temporary_files(work))
    if kind == "backup":  # RunBackup writing epoch weights or state.json
        return lambda: bool(_temporary_files(backup))
    if kind == "log row":  # an epoch logged, its backup being written
        rows = len(_epochs_in_log(work / "run.csv"))
        return lambda: len(_epochs_in_log(work / "run.csv")) > rows
    if kind == "anytime":  # start-up, training or the end, 0-20 s in
        delay = rng.uniform(0, 20)
        return lambda: time.time() - start >= delay
    # "training": 0-2 s after this run (re)wrote its settings, about to train.
    settings, delay = backup / "settings.json", rng.uniform(0, 2)

    def ready():
        try:
            written = settings.stat().st_mtime
        except FileNotFoundError:
            return False
        return written >= start and time.time() - written >= delay

    return ready


def _epochs_in_log(path):
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _check_after_kill(work):
    output = work / "run.keras"
    if output.exists():
        model = load_model(output)  # complete, checked, safe_mode=True
        assert model.vectorizer is not None
    epochs = _epochs_in_log(work / "run.csv")
    assert epochs == list(range(len(epochs))), f"log epochs {epochs}"


def _kill_and_resume(work, corpus, kinds, rng):
    """Runs `train` killed once per entry of `kinds`, then once to the end.

    Returns:
        How the runs went: `{"killed": n, "resumed": n, "kinds": [...]}`.
    """
    argv = ["train", "--corpus", str(corpus), "--output", str(work / "run.keras")]
    argv += _TRAIN
    report = {"killed": 0, "resumed": 0, "kinds": []}
    for i, kind in enumerate(kinds):
        resume = (work / "run.backup" / "settings.json").exists()
        report["resumed"] += resume
        log = work.parent / f"run-{i}.log"
        process = _start(argv + ["--resume"] * resume, log)
        if not _kill_when(process, _instant(kind, work, process, rng), rng):
            assert process.returncode == 0, log.read_text()
            report["kinds"].append(f"{kind} (ended first)")
            continue
        report["killed"] += 1
        report["kinds"].append(kind)
        _check_after_kill(work)
    resume = (work / "run.backup" / "settings.json").exists()
    report["resumed"] += resume
    log = work.parent / "final.log"
    final = _start(argv + ["--resume"] * resume, log)
    assert final.wait(timeout=_DEADLINE_SECONDS) == 0, log.read_text()
    assert _epochs_in_log(work / "run.csv") == list(range(EPOCHS))
    load_model(work / "run.keras")
    # No lock, no backup, no temporary file left.
    assert sorted(p.name for p in work.iterdir()) == ["run.csv", "run.keras", "run.png"]
    return report


def test_train_survives_three_kills(tmp_path, corpus):
    work = tmp_path / "work"
    work.mkdir()
    kinds = ["model checkpoint", "log row", "backup"]
    report = _kill_and_resume(work, corpus, kinds, random.Random(0))
    # Aimed at writes during training, the kills always find a backup.
    assert report["killed"] == 3, report
    assert report["resumed"] == 3, report


@pytest.mark.large
def test_train_survives_twenty_kills(tmp_path, corpus):
    rng = random.Random(17)
    kinds = ["model checkpoint", "log row", "backup", "training", "anytime"] * 3
    kinds += ["start-up"] * 5
    rng.shuffle(kinds)
    work = tmp_path / "work"
    work.mkdir()
    report = _kill_and_resume(work, corpus, kinds, rng)
    print(report)
    assert report["killed"] >= 18, report


def _search_instant(aim, project, rng):
    if aim == "checkpoint":  # a trial's model.keras, oracle.json, trial.json
        return lambda: bool(_temporary_files(project, *project.glob("trial_*")))
    start, delay = time.monotonic(), rng.uniform(5, 25)
    return lambda: time.monotonic() - start >= delay


def _search_rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.large
def test_search_survives_kills(tmp_path, corpus):
    rng = random.Random(3)
    aims = ["checkpoint", "random"] * 2
    script = Path(__file__).parents[1] / "tuning" / "search.py"
    argv = [
        sys.executable, str(script), "--corpus", str(corpus), "--tuner", "random",
        "--max-trials", "4", "--epochs", "2", "--minutes", "30",
        "--directory", str(tmp_path / "runs"), "--sequence-length", "16",
        "--batch-size", "32", "--quiet",
        "--search-space", '{"lstm_units": [4, 8, 12], "embedding_dim": [4], '
        '"num_layers": 1, "dropout": [0.0, 0.1], "learning_rate": [0.01]}',
    ]  # fmt: skip
    project = tmp_path / "runs" / "chargen"
    killed = 0
    for i in range(4):
        with open(tmp_path / f"search-{i}.log", "ab") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        # Once the project exists: at a trial's checkpoint or a random time.
        aim = aims[i]
        if _kill_when(process, _search_instant(aim, project, rng), rng):
            killed += 1
            for model in project.glob("trial_*/model.keras"):
                load_model(model)
        else:
            assert process.returncode == 0
    with open(tmp_path / "search-final.log", "ab") as log:
        final = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT)
    assert final.returncode == 0, (tmp_path / "search-final.log").read_text()
    rows = _search_rows(project / "results.csv")
    trials = [row["trial"] for row in rows]
    assert len(trials) == len(set(trials)) == 4, rows
    assert all(row["status"] == "COMPLETED" for row in rows), rows
    load_model(project / "best.keras")
    print({"search killed": killed, "trials": len(rows)})
    assert killed >= 3
    assert not list(project.rglob(".*.*.*")), "temporary files left"
    assert not (tmp_path / "runs" / "chargen.lock").exists()
