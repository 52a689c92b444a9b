import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from test_case import (
    FILE_NAME,
    assert_same_outputs,
    run_saving_test,
    run_serialization_test,
)

from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.build_char_lstm import build_char_lstm
from keras_chargen.models.char_lm import CharLM
from keras_chargen.samplers.temperature_sampler import TemperatureSampler

# Newline and non-ASCII characters: the vocabulary must survive a file intact.
TEXT = "To be, or not to be:\nthat is the question. Café, naïve — ok?\n"
PROMPT = "To be"

# Loads the model in a fresh interpreter, where only `import keras_chargen`
# registers the classes, and prints what the test compares.
LOAD_SCRIPT = """
import json, sys
import keras, keras_chargen
import numpy as np

path, ids, targets, prompt = json.loads(sys.argv[1])
model = keras.saving.load_model(path, safe_mode=True)
logs = model.evaluate(np.array(ids), np.array(targets), verbose=0, return_dict=True)
predictions = model.predict(np.array(ids), verbose=0)
text = model.generate(prompt, length=30, sampler=keras_chargen.TemperatureSampler(0.0))
print(json.dumps({
    "type": type(model).__name__,
    "vocabulary": model.vectorizer.get_vocabulary(),
    "argmax": predictions.argmax(-1).tolist(),
    "loss": logs["loss"],
    "text": text,
}))
"""


@pytest.fixture(scope="module")
def vectorizer():
    vectorizer = CharVectorizer()
    vectorizer.adapt(TEXT)
    return vectorizer


def random_ids(vectorizer, shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(2, vectorizer.vocabulary_size(), size=shape).astype("int32")


def test_config_holds_every_argument(vectorizer):
    model = CharLM(
        vectorizer,
        embedding_dim=4,
        units=8,
        num_layers=1,
        dropout=0.0,
        cell="gru",
        layer_norm=True,
        variational_dropout=True,
        name="tiny",
    )
    config = model.get_config()
    assert config["vectorizer"]["config"]["vocabulary"] == vectorizer.vocabulary
    del config["vectorizer"]
    assert config == {
        "name": "tiny",
        "trainable": True,
        "vocabulary_size": vectorizer.vocabulary_size(),
        "embedding_dim": 4,
        "units": 8,
        "num_layers": 1,
        "dropout": 0.0,
        "variational_dropout": True,
        "cell": "gru",
        "layer_norm": True,
        "use_fused_lstm": "auto",
        # Resolved when built: Keras' GRU loop multiplies in float32.
        "training_matmul_dtype": "float32",
    }


def test_serialization_round_trip_gives_the_same_model(vectorizer):
    model = CharLM(vectorizer, embedding_dim=4, units=8, num_layers=2, layer_norm=True)
    restored = run_serialization_test(model)
    assert restored.get_config() == model.get_config()
    assert restored.vectorizer.get_vocabulary() == vectorizer.get_vocabulary()
    restored.set_weights(model.get_weights())
    ids = random_ids(vectorizer, (2, 9))
    assert_same_outputs(model(ids), restored(ids))


def test_serialization_round_trip_without_vectorizer():
    model = CharLM(vocabulary_size=9, embedding_dim=4, units=8, cell="gru")
    restored = run_serialization_test(model)
    assert restored.vectorizer is None
    assert restored.vocabulary_size == 9


@pytest.mark.parametrize(
    "settings",
    [dict(cell="lstm", num_layers=2), dict(cell="gru", layer_norm=True, dropout=0.0)],
    ids=["lstm", "gru_layer_norm"],
)
def test_keras_file_round_trip_gives_the_same_logits(vectorizer, settings, tmp_path):
    keras.utils.set_random_seed(0)
    model = CharLM(vectorizer, embedding_dim=4, units=8, **settings)
    ids = random_ids(vectorizer, (2, 9))
    ids[1, :3] = 0  # left padding, as generation batches prompts
    loaded = run_saving_test(model, ids, tmp_path)
    assert loaded.vectorizer.get_vocabulary() == vectorizer.get_vocabulary()
    assert sorted(os.listdir(tmp_path)) == [FILE_NAME]


def test_keras_file_loads_in_a_fresh_process_and_generates(vectorizer, tmp_path):
    keras.utils.set_random_seed(0)
    model = build_char_lstm(
        vectorizer=vectorizer, lstm_units=16, embedding_dim=8, num_layers=2
    )
    ids = random_ids(vectorizer, (2, 12), seed=1)
    targets = random_ids(vectorizer, (2, 12), seed=2)
    model.train_on_batch(ids, targets)
    path = tmp_path / "run.keras"
    model.save(path)

    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT]
        + [json.dumps([str(path), ids.tolist(), targets.tolist(), PROMPT])],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    logs = model.evaluate(ids, targets, verbose=0, return_dict=True)
    assert loaded["type"] == "CharLM"
    assert loaded["vocabulary"] == vectorizer.get_vocabulary()
    assert loaded["argmax"] == model.predict(ids, verbose=0).argmax(-1).tolist()
    assert loaded["loss"] == pytest.approx(logs["loss"], rel=1e-5)
    assert loaded["text"] == model.generate(
        PROMPT, length=30, sampler=TemperatureSampler(0.0)
    )
    assert sorted(os.listdir(tmp_path)) == ["run.keras"]


def test_model_without_vectorizer_saves_and_loads(tmp_path):
    model = CharLM(vocabulary_size=9, embedding_dim=4, units=8, num_layers=1)
    ids = np.array([[2, 3, 8, 4]], dtype="int32")
    loaded = run_saving_test(model, ids, tmp_path)
    assert loaded.vectorizer is None
    assert loaded.vocabulary_size == 9
    assert sorted(os.listdir(tmp_path)) == [FILE_NAME]


def test_generate_continues_the_prompt(vectorizer):
    model = CharLM(vectorizer, embedding_dim=4, units=8, num_layers=1)
    texts = model.generate(["To", ""], length=12, sampler=TemperatureSampler(seed=1))
    assert texts[0].startswith("To")
    assert [len(t) for t in texts] == [14, 12]


def test_generate_without_vectorizer_raises():
    model = CharLM(vocabulary_size=9, embedding_dim=4, units=8, num_layers=1)
    with pytest.raises(ValueError, match="needs the model's CharVectorizer"):
        model.generate("ab", length=3)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(vocabulary_size=2), r"`vocabulary_size` must be an int >= 3\. Received"),
        (dict(vocabulary_size=None), r"Received: vocabulary_size=None"),
        (dict(embedding_dim=0), r"`embedding_dim` must be an int >= 1\. Received"),
        (dict(num_layers=1.5), r"`num_layers` must be an int >= 1\. Received"),
        (dict(units=True), r"`units` must be an int >= 1\. Received: units=True"),
        (dict(dropout=-0.1), r"`dropout` must be in \[0, 1\)\. Received"),
        (dict(cell="rnn"), r"`cell` must be one of \['gru', 'lstm'\]\. Received"),
        (dict(vectorizer="abc"), r"must be a keras_chargen.CharVectorizer\. Received"),
    ],
)
def test_bad_arguments_raise(arguments, message):
    settings = {**dict(vocabulary_size=9, units=8, embedding_dim=4), **arguments}
    with pytest.raises(ValueError, match=message):
        CharLM(**settings)


@pytest.mark.parametrize("dropout", ["0.1", None, True, 1.0])
def test_bad_dropout_is_a_value_error(dropout):
    vectorizer = CharVectorizer(vocabulary="abc")
    with pytest.raises(ValueError, match="Received: dropout="):
        CharLM(vectorizer, units=4, dropout=dropout)


def test_vocabulary_size_must_match_the_vectorizer():
    vectorizer = CharVectorizer(vocabulary="abc")
    with pytest.raises(ValueError, match="must match the vectorizer's 5 ids"):
        CharLM(vectorizer, vocabulary_size=9, units=4)


def test_the_resolved_training_dtype_is_saved(vectorizer, tmp_path):
    model = CharLM(vectorizer, embedding_dim=4, units=8, training_matmul_dtype="auto")
    assert model.training_matmul_dtype in ("bfloat16", "float32")
    loaded = run_saving_test(model, random_ids(vectorizer, (1, 5)), tmp_path)
    assert loaded.get_config()["training_matmul_dtype"] == model.training_matmul_dtype


# A 0.1.0 file in a fresh process: only `import keras_chargen` registers the
# classes, and the logits must be the ones 0.1.0 computed when it saved them.
OLD_FILE_SCRIPT = """
import json, sys
import keras, keras_chargen
import numpy as np

path, prompt = sys.argv[1:]
model = keras.saving.load_model(path, safe_mode=True)
ids = model.vectorizer.encode(prompt)[None]
print(json.dumps({
    "logits": keras.ops.convert_to_numpy(model(ids)).tolist(),
    "text": model.generate(prompt, 20, sampler=keras_chargen.TemperatureSampler(0.0)),
}))
"""


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_files_written_by_0_1_0_load_and_give_the_same_logits(cell):
    data = os.path.join(os.path.dirname(__file__), "data")
    with open(os.path.join(data, "charlm-0.1.0.json")) as f:
        expected = json.load(f)[cell]
    result = subprocess.run(
        [sys.executable, "-c", OLD_FILE_SCRIPT,
         os.path.join(data, expected["file"]), expected["prompt"]],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(out["logits"][0], expected["logits"], atol=1e-5)
    assert out["text"].startswith(expected["prompt"]) and len(out["text"]) == 33
