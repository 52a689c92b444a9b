"""`export_step_model` and the NumPy driver loop over every exported format.

Each (cell, format) pair is converted once per module. The driver loop
(`keras_chargen/export/driver.py`) runs each artifact in its own runtime:
`tf.saved_model.load`, onnxruntime, the LiteRT interpreter.
"""

import json

import keras
import numpy as np
import pytest
from conftest import make_text

import keras_chargen
from keras_chargen.export import driver
from keras_chargen.export.export_step_model import MANIFEST, MODEL_FILES

FORMATS = ("tf_saved_model", "onnx", "litert")
CELLS = ("lstm", "gru")
PROMPT = "The quick "
# Characters that a newline-joined vocabulary would lose or break on.
SPECIAL = "\n\r\u2028\u0301é🙂"


def random_char_lm(cell, seed=0):
    """A 2-layer CharLM with random weights over the test corpus + SPECIAL."""
    vocabulary = sorted(set(make_text(600) + SPECIAL))
    model = keras_chargen.CharLM(
        keras_chargen.CharVectorizer(vocabulary=vocabulary),
        embedding_dim=6,
        units=12,
        num_layers=2,
        cell=cell,
    )
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.9, size=weight.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def models():
    return {cell: random_char_lm(cell) for cell in CELLS}


@pytest.fixture(scope="module")
def artifact(models, tmp_path_factory):
    """`artifact(cell, format)`: the exported folder, converted on first use."""
    folder = tmp_path_factory.mktemp("export")
    done = {}

    def get(cell, format):
        if (cell, format) not in done:
            done[cell, format] = keras_chargen.export_step_model(
                models[cell], folder / f"{cell}_{format}", format=format
            )
        return done[cell, format]

    return get


@pytest.fixture(scope="module")
def expected(models):
    """Per cell: `TextGenerator`'s greedy text, and Keras' logits along it.

    The logits are those the model's own `predict` gives at the positions
    where each generated character was chosen (the last prompt character
    onwards), computed over the whole text from the zero state.
    """
    out = {}
    for cell, model in models.items():
        text = keras_chargen.TextGenerator(model).generate(
            PROMPT, length=200, sampler=keras_chargen.samplers.GreedySampler()
        )
        ids = model.vectorizer.encode(text)[None, :]
        logits = model.predict(ids, verbose=0)[0, len(PROMPT) - 1 : -1]
        out[cell] = text, logits
    return out


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("cell", CELLS)
def test_driver_loop_reproduces_text_generator(
    models, artifact, expected, cell, format
):
    text, reference = expected[cell]
    rows = []
    runner = driver.StepRunner(artifact(cell, format))
    assert driver.generate(runner, PROMPT, 200, rows) == text
    # Varied text, not a model stuck on one character.
    assert len(set(text[len(PROMPT) :])) >= 5
    logits = np.stack(rows)
    assert logits.shape == reference.shape == (200, models[cell].vocabulary_size)
    np.testing.assert_allclose(logits, reference, atol=1e-4, rtol=0)


@pytest.mark.parametrize("format", FORMATS)
def test_empty_prompt_starts_from_the_zero_state(models, artifact, format):
    expected = models["gru"].generate(
        "", length=20, sampler=keras_chargen.samplers.GreedySampler()
    )
    runner = driver.StepRunner(artifact("gru", format))
    assert driver.generate(runner, "", 20) == expected


@pytest.mark.parametrize("format", ("tf_saved_model", "onnx"))
def test_left_padded_batch_matches_rows_run_alone(models, artifact, format):
    runner = driver.StepRunner(artifact("lstm", format))
    short, long = runner.encode("fox"), runner.encode("the lazy dog")
    batch = np.zeros((2, len(long)), np.int32)
    batch[0, -len(short) :], batch[1] = short, long
    logits, states = runner.step(batch, runner.initial_state(2))
    for row, ids in enumerate((short, long)):
        alone, alone_states = runner.step(ids[None, :], runner.initial_state(1))
        np.testing.assert_allclose(logits[row, -1], alone[0, -1], atol=1e-5)
        for name, state in alone_states.items():
            np.testing.assert_allclose(states[name][row], state[0], atol=1e-5)


@pytest.mark.parametrize("format", FORMATS)
def test_manifest_names_shapes_and_settings(models, artifact, format):
    folder = artifact("lstm", format)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [MANIFEST, MODEL_FILES[format]]
    )
    manifest = json.loads((folder / MANIFEST).read_text("ascii"))
    batch = 1 if format == "litert" else None
    names = ["token_ids", "state_0_0", "state_0_1", "state_1_0", "state_1_1"]
    assert [i["name"] for i in manifest["inputs"]] == names
    assert [i["shape"] for i in manifest["inputs"]] == [[batch, None]] + [
        [batch, 12]
    ] * 4
    assert [o["name"] for o in manifest["outputs"]] == ["logits"] + [
        f"new_{n}" for n in names[1:]
    ]
    vocabulary_size = models["lstm"].vocabulary_size
    assert manifest["outputs"][0]["shape"] == [batch, None, vocabulary_size]
    assert manifest["settings"]["cell"] == "lstm"
    assert manifest["settings"]["units"] == 12
    assert manifest["format"] == format


def test_onnx_graph_has_the_manifest_names(artifact):
    import onnxruntime

    folder = artifact("gru", "onnx")
    manifest = json.loads((folder / MANIFEST).read_text("ascii"))
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == [
        i["name"] for i in manifest["inputs"]
    ]
    assert sorted(o.name for o in session.get_outputs()) == sorted(
        o["name"] for o in manifest["outputs"]
    )


def test_litert_artifact_uses_builtin_ops_only(artifact):
    from ai_edge_litert.interpreter import Interpreter

    # ai_edge_litert has no TensorFlow (Flex) delegate: loading and running
    # the model there shows that it needs none.
    path = artifact("lstm", "litert") / "model.tflite"
    runner = Interpreter(model_path=str(path)).get_signature_runner()
    zeros = np.zeros((1, 12), np.float32)
    states = {f"state_{i}_{k}": zeros for i in range(2) for k in range(2)}
    out = runner(token_ids=np.array([[3, 4, 5]], np.int32), **states)
    assert out["logits"].shape == (
        1,
        3,
        runner.get_output_details()["logits"]["shape"][2],
    )


def test_vocabulary_is_lossless(models, artifact):
    model = models["lstm"]
    folder = artifact("lstm", "onnx")
    manifest = json.loads((folder / MANIFEST).read_text("ascii"))
    revived = keras_chargen.CharVectorizer.from_config(manifest["vectorizer"])
    assert revived.get_vocabulary() == model.vectorizer.get_vocabulary()
    assert all(c in revived.vocabulary for c in SPECIAL)
    runner = driver.StepRunner(folder)
    text = "The\r\nend\u2028é🙂 ¿unknown§"
    np.testing.assert_array_equal(runner.encode(text), model.vectorizer.encode(text))
    ids = model.vectorizer.encode(text)
    assert runner.decode(ids) == model.vectorizer.decode(ids)
    assert runner.decode([0, *ids[:3], 0]) == model.vectorizer.decode(ids[:3])


# ---------------------------------------------------------------- bad input
def test_unknown_format(models, tmp_path):
    with pytest.raises(ValueError, match=r"`format` must be one of .*format='tflite'"):
        keras_chargen.export_step_model(models["lstm"], tmp_path / "a", "tflite")
    assert list(tmp_path.iterdir()) == []


def test_not_a_model(tmp_path):
    with pytest.raises(ValueError, match="Received: str"):
        keras_chargen.export_step_model("run.keras", tmp_path / "a")


def test_model_without_vocabulary(tmp_path):
    plain = keras.Sequential(
        [keras.Input((None,)), keras.layers.Embedding(10, 4), keras.layers.LSTM(4)]
    )
    with pytest.raises(ValueError, match="type Sequential without one"):
        keras_chargen.export_step_model(plain, tmp_path / "a")


@pytest.mark.parametrize("batch_size", [0, 1.5, True])
def test_bad_batch_size(models, tmp_path, batch_size):
    with pytest.raises(ValueError, match="`batch_size` must be None or an int"):
        keras_chargen.export_step_model(
            models["lstm"], tmp_path / "a", batch_size=batch_size
        )


def test_existing_path_is_left_alone(models, tmp_path):
    existing = tmp_path / "out"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="exists: choose another path"):
        keras_chargen.export_step_model(models["lstm"], existing, format="onnx")
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_missing_parent_folder(models, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        keras_chargen.export_step_model(models["lstm"], tmp_path / "no" / "out")
