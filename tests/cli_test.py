import signal
import subprocess
import sys

import keras
import pytest
from conftest import run_cli

import keras_chargen


def test_generate_prints_prompts_by_temperatures_table(trained_model_path, capsys):
    code = run_cli([
        "generate", str(trained_model_path), "--prompt", "The ", "--prompt", "A",
        "--temperature", "0", "1", "--length", "30", "--seed", "3",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    for prompt in ("'The '", "'A'"):
        for temperature in ("0", "1"):
            assert f"=== prompt {prompt} | temperature {temperature} ===" in out


def test_generate_matches_the_library(trained_model_path, capsys):
    run_cli(["generate", str(trained_model_path), "--prompt", "The ",
             "--temperature", "0.7", "--length", "40", "--seed", "5"])  # fmt: skip
    out = capsys.readouterr().out
    model = keras.saving.load_model(trained_model_path)
    expected = model.generate(
        "The ", 40, sampler=keras_chargen.TemperatureSampler(0.7, seed=5)
    )
    assert out == expected + "\n"


def test_generate_bfloat16_matches_the_library(trained_model_path, capsys):
    run_cli(["generate", str(trained_model_path), "--prompt", "The ", "--dtype",
             "bfloat16", "--length", "40", "--seed", "5"])  # fmt: skip
    out = capsys.readouterr().out
    model = keras.saving.load_model(trained_model_path)
    generator = keras_chargen.TextGenerator(model, dtype="bfloat16")
    sampler = keras_chargen.TemperatureSampler(0.8, seed=5)
    assert out == generator.generate("The ", 40, sampler=sampler) + "\n"


def test_stream_prints_the_same_text(trained_model_path, capsys):
    argv = [
        "generate",
        str(trained_model_path),
        "--prompt",
        "The ",
        "--length",
        "40",
        "--seed",
        "5",
    ]
    run_cli(argv)
    plain = capsys.readouterr().out
    run_cli([*argv, "--stream"])
    assert capsys.readouterr().out == plain


def test_generate_writes_output_file(trained_model_path, tmp_path, capsys):
    output = tmp_path / "samples.txt"
    code = run_cli(["generate", str(trained_model_path), "--num-samples", "3",
                    "--length", "20", "--output", str(output), "--seed", "1"])  # fmt: skip
    assert code == 0
    text = output.read_text()
    assert text.count("=== prompt '\\n' | temperature 0.8 | sample") == 3
    assert text.strip().replace("\n", "") in capsys.readouterr().out.replace("\n", "")


def test_generate_stop_string(trained_model_path, capsys):
    run_cli(["generate", str(trained_model_path), "--prompt", "The",
             "--length", "200", "--stop", " ", "--seed", "2"])  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("The") and out.endswith(" \n") and out.count(" ") == 1


def _plain_keras_model(path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(path)


@pytest.mark.parametrize(
    "make, argv_tail, message",
    [
        (None, [], "does not exist"),
        (lambda p: p.write_bytes(b"not a zip"), [], "not a .keras model file"),
        (lambda p: p.write_bytes(b"PK\x03\x04broken"), [], "not a .keras model file"),
        (_plain_keras_model, [], "not a keras_chargen model"),
    ],
)
def test_generate_rejects_bad_model_files(tmp_path, capsys, make, argv_tail, message):
    path = tmp_path / "model.keras"
    if make:
        make(path)
    code = run_cli(["generate", str(path), *argv_tail])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--top-p", "1.5"],
            "argument --top-p: expected a number in (0, 1], got '1.5'",
        ),
        (["--top-k", "0"], "argument --top-k: expected a positive integer, got '0'"),
        (["--temperature", "-1"], "expected a number >= 0, got '-1'"),
        (["--length", "-5"], "expected an integer >= 0, got '-5'"),
        (["--temperature", "nan"], "expected a finite number, got 'nan'"),
    ],
)
def test_generate_rejects_bad_numbers(trained_model_path, capsys, argv, message):
    code = run_cli(["generate", str(trained_model_path), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_stream_needs_a_single_generation(trained_model_path, capsys):
    code = run_cli(
        ["generate", str(trained_model_path), "--stream", "--temperature", "0", "1"]
    )
    assert code == 2
    assert "--stream takes one --prompt" in capsys.readouterr().err


def test_chat_driven_through_real_stdin(trained_model_path, tmp_path):
    saved = tmp_path / "saved.txt"
    script = "\n".join([
        "/temperature 0", "/length 25", "/top_p 2", "/settings", "The ",
        f"/save {saved}", "/bogus", "/quit",
    ])  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "keras_chargen.commands.cli", "chat", str(trained_model_path)],
        input=script, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "temperature = 0.0" in out and "length = 25" in out
    assert "not changed: `top_p` must be" in out
    assert "temperature=0.0, top_k=None, top_p=None, length=25" in out
    assert "unknown command /bogus" in out
    text = saved.read_text()[:-1]
    model = keras.saving.load_model(trained_model_path)
    assert text == model.generate(
        "The ", 25, sampler=keras_chargen.TemperatureSampler(0)
    )
    assert f"saved {len(text)} characters" in out


def test_chat_exits_cleanly_on_eof(trained_model_path):
    result = subprocess.run(
        [sys.executable, "-m", "keras_chargen.commands.cli", "chat", str(trained_model_path)],
        input="", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0
    assert "Traceback" not in result.stderr


def test_chat_exits_cleanly_on_ctrl_c(trained_model_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_chargen.commands.cli", "chat", str(trained_model_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout.readline().startswith("Loaded")  # waiting for input now
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "Traceback" not in err
