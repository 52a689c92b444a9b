"""`RunLock`: one live writer per output; a killed one never blocks the next."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keras_chargen.training.run_lock import RunLock, RunLockedError

# The other processes load run_lock.py alone, by path: importing the package
# would import TensorFlow, seconds per process.
_MODULE = Path(__file__).parents[1] / "keras_chargen" / "training" / "run_lock.py"
_LOAD = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("run_lock", {str(_MODULE)!r})
run_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_lock)
"""


def _holder(path):
    """A process that holds the lock on `path` until its stdin closes."""
    code = _LOAD + textwrap.dedent(f"""
        lock = run_lock.RunLock({str(path)!r}).acquire()
        print("locked", flush=True)
        sys.stdin.read()
    """)
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "locked\n"
    return process


def test_a_second_lock_on_the_same_output_is_refused(tmp_path):
    output = tmp_path / "run.keras"
    with RunLock(output, what="training run"):
        with pytest.raises(RunLockedError) as info:
            RunLock(output).acquire()
    error = info.value
    assert isinstance(error, OSError)
    assert error.holder["pid"] == os.getpid()
    assert error.lock_path == tmp_path / "run.keras.lock"
    message = str(error)
    assert f"Another run is writing {str(output)!r}: pid {os.getpid()} on " in message
    assert "\n" not in message


def test_the_lock_file_says_who_holds_it_and_goes_when_released(tmp_path):
    lock = RunLock(tmp_path / "run.keras").acquire()
    holder = json.loads((tmp_path / "run.keras.lock").read_text())
    assert holder["pid"] == os.getpid()
    assert set(holder) == {"pid", "hostname", "started", "command"}
    assert lock.locked
    lock.release()
    assert not lock.locked
    assert list(tmp_path.iterdir()) == []
    lock.release()  # a second release does nothing


def test_locks_on_other_outputs_do_not_conflict(tmp_path):
    with RunLock(tmp_path / "a.keras"), RunLock(tmp_path / "b.keras"):
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "a.keras.lock",
            "b.keras.lock",
        ]


def test_the_error_names_the_live_process_that_holds_it(tmp_path):
    output = tmp_path / "run.keras"
    holder = _holder(output)
    try:
        with pytest.raises(RunLockedError, match=f"pid {holder.pid} on "):
            RunLock(output, what="search").acquire()
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    with RunLock(output):  # released when it ended
        pass


def test_a_killed_holder_leaves_a_stale_file_that_does_not_block(tmp_path):
    output = tmp_path / "run.keras"
    holder = _holder(output)
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    stale = json.loads((tmp_path / "run.keras.lock").read_text())
    assert stale["pid"] == holder.pid  # the file is still there...
    with RunLock(output):  # ...but the kernel released its flock
        mine = json.loads((tmp_path / "run.keras.lock").read_text())
        assert mine["pid"] == os.getpid()


def test_a_lock_file_with_garbage_in_it_is_taken_over(tmp_path):
    (tmp_path / "run.keras.lock").write_bytes(b"\x00\xffnot json" * 100)
    with RunLock(tmp_path / "run.keras"):
        holder = json.loads((tmp_path / "run.keras.lock").read_text())
        assert holder["pid"] == os.getpid()


def test_a_missing_folder_is_a_one_line_os_error(tmp_path):
    with pytest.raises(OSError, match="Cannot create the lock file .*No such file"):
        RunLock(tmp_path / "nope" / "run.keras").acquire()


def test_acquiring_twice_with_one_object_is_an_error(tmp_path):
    with RunLock(tmp_path / "run.keras") as lock:
        with pytest.raises(RuntimeError, match="already locked by this RunLock"):
            lock.acquire()


def test_processes_racing_for_one_lock_never_hold_it_together(tmp_path):
    """Three processes lock, check, unlock and delete in a tight loop.

    Inside the lock each process creates a marker file that must not exist,
    then removes it: two holders at once would find the other's marker. With
    `acquire`'s same-file check removed, this failed within 1000 rounds.
    """
    code = _LOAD + textwrap.dedent(f"""
        import os
        output, marker = {str(tmp_path / "run.keras")!r}, {str(tmp_path / "held")!r}
        held = 0
        while held < 1000:
            try:
                lock = run_lock.RunLock(output).acquire()
            except run_lock.RunLockedError:
                continue
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if held
            os.close(fd)
            os.unlink(marker)
            lock.release()
            held += 1
        print(held)
    """)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], [e for _, e in results]
    assert [out.strip() for out, _ in results] == [b"1000"] * 3
    assert list(tmp_path.iterdir()) == []


def test_train_refuses_an_output_that_a_live_run_writes(tmp_path, corpus_file, capsys):
    from conftest import run_cli

    output = tmp_path / "run.keras"
    holder = _holder(output)
    try:
        code = run_cli(["train", "--corpus", str(corpus_file), "--output", str(output)])
    finally:
        holder.communicate("")
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"keras-chargen train: error: Another training run is writing {str(output)!r}: "
        f"pid {holder.pid} on "
    )
    assert "\n" not in err
    # Nothing written but the holder's lock file (left as its process ended).
    assert [p.name for p in tmp_path.iterdir()] == ["run.keras.lock"]


def test_search_refuses_a_project_that_a_live_search_runs(
    tmp_path, corpus_file, capsys
):
    import importlib.util

    script = Path(__file__).parents[1] / "tuning" / "search.py"
    spec = importlib.util.spec_from_file_location("tuning_search_script", script)
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    project = tmp_path / "runs" / "chargen"
    project.parent.mkdir()
    holder = _holder(project)
    try:
        argv = ["--corpus", str(corpus_file), "--directory", str(tmp_path / "runs")]
        code = driver.main(argv)
    finally:
        holder.communicate("")
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"search.py: error: Another search is writing {str(project)!r}: "
        f"pid {holder.pid} on "
    )
    assert "\n" not in err
    assert [p.name for p in project.parent.iterdir()] == ["chargen.lock"]
