import inspect
import re
import signal
import subprocess
import sys

import keras
import pytest
from conftest import run_cli

import keras_chargen
from keras_chargen.commands import generate
from keras_chargen.commands.cli import build_parser
from keras_chargen.commands.train import HYPERPARAMETERS
from keras_chargen.models.build_char_lstm import SEARCH_SPACE


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
        [sys.executable, "-m", "keras_chargen_cli", "chat", str(trained_model_path)],
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
        [sys.executable, "-m", "keras_chargen_cli", "chat", str(trained_model_path)],
        input="", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0
    assert "Traceback" not in result.stderr


def test_chat_exits_cleanly_on_ctrl_c(trained_model_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_chargen_cli", "chat", str(trained_model_path)],
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


def _signature_defaults(function):
    return {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


# Options with no library argument behind them; generate's and chat's
# temperature and length are the command's own (tested below).
NO_COUNTERPART = {
    # The three distributed settings arrive in `train(distributed=...)`.
    "train": {"json", "quiet", "coordinator_address", "num_processes", "process_id"},
    "generate": {"model", "preset", "prompt", "temperature", "length",
                 "num_samples", "stop", "stream", "output"},
    "chat": {"model", "preset", "temperature", "length"},
    "evaluate": {"model", "preset", "text", "corpus", "train_text", "json", "quiet"},
    "inspect": {"model", "chars", "plot"},
}  # fmt: skip
ARGV = {
    "train": ["train"],
    "generate": ["generate", "run.keras"],
    "chat": ["chat", "run.keras"],
    "evaluate": ["evaluate", "run.keras", "--text", "held_out.txt"],
    "inspect": ["inspect", "run.keras"],
}


def _library_defaults(command):
    train = _signature_defaults(keras_chargen.train)
    sampler = _signature_defaults(keras_chargen.TemperatureSampler)
    # The decoding flags map to `samplers.from_settings`, where an absent
    # setting (None) means no such sampler option or processor.
    generation = {
        **{name: None for name in keras_chargen.samplers.settings.SETTINGS},
        **sampler,
        "dtype": _signature_defaults(keras_chargen.TextGenerator)["dtype"],
    }
    return {
        "train": train,
        "generate": generation,
        "chat": generation,
        "evaluate": {
            **sampler,
            **_signature_defaults(keras_chargen.evaluate),
            "validation_split": train["validation_split"],
        },
        "inspect": _signature_defaults(keras_chargen.nearest_characters),
    }[command]


@pytest.mark.parametrize("command", sorted(ARGV))
def test_cli_defaults_are_the_library_defaults(command):
    defaults = vars(build_parser().parse_args(ARGV[command]))
    library = _library_defaults(command)
    # Unset, these are not passed: the library's default applies.
    left_to_library = {"sample_prompts", *SEARCH_SPACE} if command == "train" else set()
    options = set(defaults) - {"command", "run", "verbose"} - NO_COUNTERPART[command]
    assert options - left_to_library <= set(library)
    for name in options - left_to_library:
        assert defaults[name] == library[name], name
    for name in left_to_library:
        assert defaults[name] is None, name


def test_train_help_states_the_library_defaults(capsys):
    assert run_cli(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag, name in HYPERPARAMETERS.items():
        value = SEARCH_SPACE[name][1]
        assert re.search(rf"{flag} \S+ [^(]*\(default: {value:g}\)", text), flag
    train = _signature_defaults(keras_chargen.train)
    prompts = ", ".join(map(repr, train["sample_prompts"]))
    assert f"(repeatable; default: {prompts})" in text
    from keras_chargen.training.run_settings import DEFAULT_EPOCHS

    assert train["epochs"] is None  # with --minutes: no limit; without: the default
    assert (
        "--epochs EPOCHS at most this many epochs (default: with --minutes, no "
        f"limit; without, {DEFAULT_EPOCHS})" in text
    )


def test_split_is_the_one_of_train():
    split = _signature_defaults(keras_chargen.split_text)["validation_split"]
    assert split == _signature_defaults(keras_chargen.train)["validation_split"]


def test_generate_and_chat_share_their_own_sampling_defaults():
    generate_defaults = vars(build_parser().parse_args(ARGV["generate"]))
    chat_defaults = vars(build_parser().parse_args(ARGV["chat"]))
    assert generate_defaults["temperature"] == [generate.TEMPERATURE]
    assert chat_defaults["temperature"] == generate.TEMPERATURE
    assert generate_defaults["length"] == chat_defaults["length"] == generate.LENGTH
