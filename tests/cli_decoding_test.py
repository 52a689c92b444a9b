"""`generate` and `chat` with every sampler and processor flag.

What the commands print is compared with the library called directly with
the sampler and processors that `samplers.from_settings` builds, so the
flags and the /commands mean what the library means; bad values give one
line on stderr and exit status 2.
"""

import io

import pytest
from conftest import random_model_file, run_cli

from keras_chargen import samplers
from keras_chargen.commands.decoding_options import COMMANDS, FLAGS
from keras_chargen.generation.text_generator import TextGenerator

pytestmark = pytest.mark.all_backends

TEXT = "the cat sat on the mat. "


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("decoding") / "run.keras"
    model = random_model_file(path, TEXT, scale=0.9)
    return path, model


def generated(model, prompt, length, settings):
    sampler, processors = samplers.from_settings(settings)
    return TextGenerator(model).generate(
        prompt, length, sampler=sampler, processors=processors
    )


@pytest.mark.parametrize(
    ("argv", "settings"),
    [
        pytest.param(
            ["--min-p", "0.2", "--seed", "3", "--repetition-penalty", "1.5",
             "--penalty-window", "8"],
            {"min_p": 0.2, "seed": 3, "temperature": 0.8,
             "repetition_penalty": 1.5, "penalty_window": 8},
            marks=pytest.mark.large,
        ),
        (
            ["--sampler", "typical", "--typical", "0.8", "--seed", "4",
             "--frequency-penalty", "0.4", "--presence-penalty", "0.3",
             "--no-repeat-ngram", "5", "--ban", "at", "--ban", "m",
             "--temperature-schedule", "1.3", "0.6", "12", "--temperature", "1"],
            {"sampler": "typical", "typical_p": 0.8, "seed": 4, "temperature": 1.0,
             "frequency_penalty": 0.4, "presence_penalty": 0.3,
             "no_repeat_ngram": 5, "ban": ["at", "m"],
             "temperature_schedule": [1.3, 0.6, 12]},
        ),
        (["--beams", "4"], {"num_beams": 4}),
        pytest.param(
            ["--sampler", "greedy", "--ban", "t"], {"sampler": "greedy", "ban": ["t"]},
            marks=pytest.mark.large,
        ),
        pytest.param(
            ["--sampler", "top_k", "--top-k", "3", "--seed", "1"],
            {"sampler": "top_k", "top_k": 3, "seed": 1, "temperature": 0.8},
            marks=pytest.mark.large,
        ),
    ],
    ids=["min_p", "typical_and_all_processors", "beam", "greedy", "top_k"],
)  # fmt: skip
def test_generate_flags_give_the_library_text(model_file, capsys, argv, settings):
    path, model = model_file
    code = run_cli(["generate", str(path), "--prompt", "the ", "--length", "30", *argv])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out == generated(model, "the ", 30, settings) + "\n"


def test_generate_streams_beam_search_at_the_end(model_file, capsys):
    path, model = model_file
    argv = ["--prompt", "a", "--length", "20", "--beams", "3", "--stream"]
    assert run_cli(["generate", str(path), *argv]) == 0
    assert capsys.readouterr().out == generated(model, "a", 20, {"num_beams": 3}) + "\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--min-p", "0"], "`min_p` must be a number in (0, 1]. Received: min_p=0.0"),
        (["--min-p", "1.5"], "Received: min_p=1.5"),
        (["--typical", "0"], "`p` must be a number in (0, 1]. Received: p=0.0"),
        (["--beams", "0"], "`num_beams` must be an int >= 1. Received: num_beams=0"),
        (["--repetition-penalty", "0"], "`penalty` must be a finite number > 0"),
        (["--repetition-penalty", "-1"], "Received: penalty=-1.0"),
        (["--no-repeat-ngram", "0"], "`n` must be an int >= 1. Received: n=0"),
        (["--penalty-window", "3"], "`penalty_window` needs a penalty"),
        (["--repetition-penalty", "1.2", "--penalty-window", "0"], "Received: window=0"),
        (["--ban", "é"], "`strings` may only hold characters of the model's vocabulary"),
        (["--sampler", "top_k", "--min-p", "0.1"], "`min_p` does not apply to the 'top_k'"),
        (["--sampler", "greedy", "--temperature", "0.5"], "`temperature` does not apply"),
        (["--beams", "2", "--seed", "1"], "`seed` does not apply to the 'beam' sampler"),
        (["--temperature-schedule", "1", "0", "5"], "`end` must be a finite number > 0"),
        (["--temperature-schedule", "1", "0.5", "2.5"], "Received: steps=2.5"),
        (["--beams", "x"], "argument --beams: expected an integer, got 'x'"),
        (["--min-p", "nan"], "argument --min-p: expected a finite number, got 'nan'"),
        (["--sampler", "nucleus"], "argument --sampler: invalid choice: 'nucleus'"),
    ],
)  # fmt: skip
def test_generate_rejects_bad_decoding_values(model_file, capsys, argv, message):
    path, _ = model_file
    code = run_cli(["generate", str(path), "--length", "5", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1, err


def test_every_flag_has_a_chat_command():
    flag_settings = {setting for setting, *_ in FLAGS.values()}
    command_settings = {setting for setting, _ in COMMANDS.values()}
    # --sampler, --ban and --temperature-schedule have commands of their own.
    assert command_settings == flag_settings | {"sampler"}
    assert set(samplers.settings.SETTINGS) == {
        *command_settings, "temperature", "ban", "temperature_schedule",
        "return_all_beams",
    }  # fmt: skip


def chat(path, lines, monkeypatch, capsys, *argv):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert run_cli(["chat", str(path), "--length", "20", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_chat_commands_change_the_sampler_and_processors(
    model_file, monkeypatch, capsys
):
    path, model = model_file
    lines = [
        "/min_p 0.3", "/repetition_penalty 1.4", "/penalty_window 6",
        "/ban at", "/ban m", "/temperature_schedule 1.2 0.7 9", "the ",
        "/sampler beam", "/min_p off", "/sampler beam", "/beams 3", "/ban off",
        "/temperature_schedule off", "the ",
    ]  # fmt: skip
    out = chat(path, lines, monkeypatch, capsys, "--seed", "2")
    assert out[1:7] == [
        "min_p = 0.3",
        "repetition_penalty = 1.4",
        "penalty_window = 6",
        "ban = ['at']",
        "ban = ['at', 'm']",
        "temperature_schedule = [1.2, 0.7, 9]",
    ]
    first = {"min_p": 0.3, "seed": 2, "temperature": 0.8, "repetition_penalty": 1.4,
             "penalty_window": 6, "ban": ["at", "m"],
             "temperature_schedule": [1.2, 0.7, 9]}  # fmt: skip
    assert out[7] == generated(model, "the ", 20, first)[4:]
    # min_p does not apply to beam search: /sampler beam is refused until
    # /min_p off; the seed and temperature are left out for beam search.
    assert out[8].startswith("not changed: `min_p` does not apply to the 'beam'")
    assert out[9:14] == [
        "min_p = None", "sampler = beam", "num_beams = 3", "ban = None",
        "temperature_schedule = None",
    ]  # fmt: skip
    second = {"num_beams": 3, "repetition_penalty": 1.4, "penalty_window": 6}
    assert out[14] == generated(model, "the ", 20, second)[4:]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/min_p 2", "not changed: `min_p` must be a number in (0, 1]"),
        pytest.param(
            "/beams 0",
            "not changed: `num_beams` must be an int >= 1",
            marks=pytest.mark.large,
        ),
        ("/beams x", "not changed: `num_beams` must be an integer. Received: 'x'"),
        pytest.param(
            "/repetition_penalty 0",
            "not changed: `penalty` must be a finite number > 0",
            marks=pytest.mark.large,
        ),
        pytest.param(
            "/sampler nucleus",
            "not changed: Unknown sampler. Known samplers: beam,",
            marks=pytest.mark.large,
        ),
        ("/ban é", "not changed: `strings` may only hold characters"),
    ],
)
def test_chat_rejects_bad_values_and_keeps_the_settings(
    model_file, monkeypatch, capsys, line, message
):
    path, _ = model_file
    out = chat(path, [line, "/settings"], monkeypatch, capsys)
    assert out[1].startswith(message), out[1]
    assert "min_p=None" in out[2] and "num_beams=None" in out[2]
