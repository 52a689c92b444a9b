"""Broken and hostile `.keras` files: `keras_chargen.models.loading.load_model`.

Every archive is a real file: a tiny `CharLM` saved by `save_model`, then
rewritten with `zipfile` (entries, `config.json`) and h5py (the weights).
Each bad file must raise `ModelFileError` (a `ValueError`) with a one-line
message naming the file, before Keras builds anything; the command line
prints that line and exits with status 2.

The helpers at the top are shared with `fuzz_model_files_test.py`.
"""

import io
import json
import os
import resource
import subprocess
import sys
import warnings
import zipfile

import h5py
import keras
import numpy as np
import pytest
from conftest import run_cli

import keras_chargen
from keras_chargen.models.loading import (
    MAX_CONFIG_BYTES,
    MAX_NUM_LAYERS,
    MAX_PARAMETERS,
    ModelFileError,
    check_model_file,
    load_model,
)

TEXT = "hello world\n"


# ------------------------------------------------------------------ helpers
def save_tiny_model(path, **kwargs):
    """Saves the tiny `CharLM` every test mutates; returns the model."""
    vectorizer = keras_chargen.CharVectorizer()
    vectorizer.adapt(TEXT)
    options = dict(embedding_dim=4, units=8, num_layers=1) | kwargs
    model = keras_chargen.CharLM(vectorizer, **options)
    keras_chargen.save_model(model, path)
    return model


def read_members(path):
    """The archive's entries as `[(name, bytes)]`, in order."""
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def write_members(path, members, compression=zipfile.ZIP_STORED):
    """Writes `[(name or ZipInfo, bytes)]` as a zip archive, duplicates included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return path


def replace_member(members, name, data):
    return [(n, data if n == name else d) for n, d in members]


def member(members, name):
    return next(d for n, d in members if n == name)


def edit_config(src, dst, edit):
    """Copies `src` to `dst` with `edit(config)` applied to its `config.json`."""
    members = read_members(src)
    config = json.loads(member(members, "config.json"))
    edit(config)
    return write_members(
        dst, replace_member(members, "config.json", json.dumps(config))
    )


def edit_weights(src, dst, edit):
    """Copies `src` to `dst` with `edit(h5_file)` applied to its weights."""
    members = read_members(src)
    buffer = io.BytesIO(member(members, "model.weights.h5"))
    with h5py.File(buffer, "r+") as h5:
        edit(h5)
    data = buffer.getvalue()
    return write_members(dst, replace_member(members, "model.weights.h5", data))


def assert_refused(path, *fragments):
    """`load_model(path)` raises a one-line `ModelFileError` naming the file."""
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert len(message.splitlines()) == 1, message
    assert repr(str(path)) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """`(path, model)` of the tiny model file."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    return path, save_tiny_model(path)


@pytest.fixture
def good(tiny):
    return tiny[0]


# ------------------------------------------------------------- good files
def test_load_model_gives_back_the_same_model(tiny):
    path, model = tiny
    loaded = load_model(path)
    assert isinstance(loaded, keras_chargen.CharLM)
    ids = model.vectorizer.encode("hello")[None]
    np.testing.assert_allclose(loaded(ids), model(ids), rtol=1e-6, atol=1e-6)
    assert loaded.vectorizer.get_vocabulary() == model.vectorizer.get_vocabulary()


@pytest.mark.parametrize(
    "options",
    [dict(cell="gru", num_layers=2, layer_norm=True, dropout=0.0), dict(units=3)],
)
def test_every_architecture_passes_the_checks(tmp_path, options):
    path = tmp_path / "m.keras"
    save_tiny_model(path, **options)
    assert check_model_file(path)["class_name"] == "CharLM"


# Keras warns that it skips the optimizer state these files hold.
@pytest.mark.filterwarnings("ignore:Skipping variable loading")
@pytest.mark.parametrize("name", ["charlm-0.1.0-lstm.keras", "charlm-0.1.0-gru.keras"])
def test_files_saved_by_0_1_0_load(name):
    path = os.path.join(os.path.dirname(__file__), "data", name)
    assert isinstance(load_model(path), keras_chargen.CharLM)


def test_a_trained_model_with_optimizer_state_loads(tmp_path):
    vectorizer = keras_chargen.CharVectorizer(vocabulary=sorted(set(TEXT)))
    model = keras_chargen.CharLM(vectorizer, embedding_dim=4, units=8, num_layers=1)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = vectorizer.encode("hello world")[None]
    model.train_on_batch(ids[:, :-1], ids[:, 1:])
    path = keras_chargen.save_model(model, tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive:
        weights = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights, "r") as h5:
        assert len(h5["optimizer/vars"]) == 2 + 2 * len(model.trainable_weights)
    assert isinstance(load_model(path), keras_chargen.CharLM)


# ------------------------------------------------------- absurd sizes (OOM)
def test_units_that_disagree_with_the_weights_are_refused(good, tmp_path):
    path = edit_config(good, tmp_path / "m.keras", _set(units=20000))
    assert_refused(
        path,
        "model.weights.h5 does not hold the weights config.json declares",
        "units=20000",
        "missing (4, 80000), (20000, 80000)",
        "unexpected (4, 32), (8, 32)",
    )


@pytest.mark.parametrize(
    "key, value",
    [
        ("units", 10**9),
        ("embedding_dim", 10**12),
        ("units", 10**100),
    ],
)
def test_a_declared_size_over_the_parameter_budget_is_refused(
    good, tmp_path, key, value
):
    path = edit_config(good, tmp_path / "m.keras", _set(**{key: value}))
    assert_refused(
        path, f"{key}={str(value)[:20]}", f"more than the {MAX_PARAMETERS:,} allowed"
    )


def test_a_size_too_large_to_print_is_refused(good, tmp_path):
    # Found by review: 10**4000 units make a parameter count of 8000 digits,
    # which Python refuses to format (int_max_str_digits), a plain ValueError.
    path = edit_config(good, tmp_path / "m.keras", _set(units=10**4000))
    message = assert_refused(path, "about 10^8000 parameters", "units=1000000")
    assert len(message) < 400


def test_too_many_layers_are_refused(good, tmp_path):
    path = edit_config(good, tmp_path / "m.keras", _set(num_layers=10**9))
    assert_refused(path, "num_layers=1000000000", f"the {MAX_NUM_LAYERS} allowed")


def test_hollow_weights_of_the_declared_size_are_refused(good, tmp_path):
    # Shapes that agree with units=20000 (1.6e9 parameters, under the budget)
    # in datasets that hold no data: HDF5 allocates them lazily.
    def hollow(h5):
        for where, shape in [
            ("layers/lstm/cell/vars/0", (4, 80000)),
            ("layers/lstm/cell/vars/1", (20000, 80000)),
            ("layers/lstm/cell/vars/2", (80000,)),
            ("layers/dense/vars/0", (20000, 11)),
        ]:
            del h5[where]
            h5.create_dataset(where, shape=shape, dtype="float32")

    path = edit_config(good, tmp_path / "a.keras", _set(units=20000))
    path = edit_weights(path, tmp_path / "b.keras", hollow)
    assert os.path.getsize(path) < 100_000
    assert_refused(path, "stores only 0 of its")


def test_generate_refuses_a_huge_declared_size_under_a_memory_cap(good, tmp_path):
    """The bug: this file made `generate` grow to 24 GB and be OOM-killed."""
    path = edit_config(good, tmp_path / "m.keras", _set(units=20000))
    cap = 4 * 2**30

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    result = subprocess.run(
        [sys.executable, "-m", "keras_chargen_cli", "generate", str(path)]
        + ["--length", "5"],
        preexec_fn=limit_memory,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("keras-chargen generate: error: ")
    assert "does not hold the weights config.json declares" in lines[0]
    assert result.stdout == ""


# ----------------------------------------------------- corrupted config.json
def _set(**values):
    def edit(config):
        config["config"].update(values)

    return edit


def _set_vocabulary(vocabulary):
    def edit(config):
        config["config"]["vectorizer"]["config"]["vocabulary"] = vocabulary

    return edit


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (_set(units="8"), "`units` in config.json must be an integer >= 1"),
        (_set(units=8.0), "Received: units=8.0"),
        (_set(units=True), "Received: units=True"),
        (_set(units=-1), "Received: units=-1"),
        (_set(units=None), "Received: units=None"),
        (_set(embedding_dim=[4]), "Received: embedding_dim=[4]"),
        (_set(num_layers=0), "`num_layers` in config.json must be an integer >= 1"),
        (_set(cell="rnn"), "`cell` must be one of ['gru', 'lstm']"),
        (_set(cell=[]), "Received: cell=[]"),  # unhashable: found by fuzzing
        (_set(layer_norm="yes"), "`layer_norm` must be true or false"),
        (_set(vocabulary_size=12), "has 11 ids (with the 2 reserved ones)"),
        (_set(vectorizer=None, vocabulary_size=None), "`vocabulary_size`"),
        (_set(vectorizer="abc"), "is not a keras_chargen CharVectorizer"),
        (_set_vocabulary(None), "has no vocabulary"),
        (_set_vocabulary([]), "has no vocabulary"),
        (_set_vocabulary(["ab", "c"]), "entry that is not one character: 'ab'"),
        (_set_vocabulary([1, 2]), "entry that is not one character: 1"),
        (_set_vocabulary(list("hello world")), "repeats a character"),
        (lambda c: c.pop("config"), "has no CharLM `config` object"),
        (lambda c: c.update(class_name="Sequential"), "not a keras_chargen model"),
        (lambda c: c.update(registered_name="x>CharLM"), "not a keras_chargen model"),
    ],
)
def test_a_corrupted_config_is_refused(good, tmp_path, edit, fragment):
    assert_refused(edit_config(good, tmp_path / "m.keras", edit), fragment)


def test_a_vocabulary_that_does_not_match_the_embedding_is_refused(good, tmp_path):
    # One more character, and vocabulary_size to match: only the weights
    # can tell.
    def edit(config):
        _set_vocabulary(list(" \ndehlorwx"))(config)
        config["config"]["vocabulary_size"] = 12

    path = edit_config(good, tmp_path / "m.keras", edit)
    assert_refused(path, "vocabulary_size=12", "missing (12, 4)", "unexpected (11, 4)")


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"{not json", "config.json is not valid JSON"),
        (b"\xff\xfe\x00garbage", "config.json is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "config.json is not valid JSON"),
        (b'{"units": ' + b"9" * 5000 + b"}", "config.json is not valid JSON"),
        (b"[1, 2]", "config.json must hold a JSON object. Received a list"),
        (b"null", "Received a NoneType"),
        (b"", "config.json is not valid JSON"),
    ],
)
def test_config_that_is_not_a_json_object_is_refused(good, tmp_path, data, fragment):
    members = replace_member(read_members(good), "config.json", data)
    assert_refused(write_members(tmp_path / "m.keras", members), fragment)


def test_an_oversized_config_is_refused_before_it_is_read(good, tmp_path):
    members = read_members(good) + [("config.json", b" " * (MAX_CONFIG_BYTES + 1))]
    members = [m for m in members[:-1] if m[0] != "config.json"] + members[-1:]
    path = write_members(tmp_path / "m.keras", members, zipfile.ZIP_DEFLATED)
    assert_refused(path, f"config.json declares {MAX_CONFIG_BYTES + 1} bytes")


# ------------------------------------------------------ unsafe Python code
def test_a_lambda_layer_is_refused_with_a_clear_message(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    assert_refused(path, "holds Python code (a `Lambda`)", "safe_mode=True")


@pytest.mark.parametrize(
    "vectorizer, fragment",
    [
        (
            {"class_name": "__lambda__", "config": {"value": ["e30=", None, None]}},
            "holds Python code (a `__lambda__`)",
        ),
        (
            {"module": "os", "class_name": "system", "config": {}},
            "names an object from module 'os'",
        ),
        (
            {"module": "builtins", "class_name": "eval", "config": {}},
            "names an object from module 'builtins'",
        ),
    ],
)
def test_code_inside_a_char_lm_config_is_refused(good, tmp_path, vectorizer, fragment):
    path = edit_config(good, tmp_path / "m.keras", _set(vectorizer=vectorizer))
    assert_refused(path, fragment)


def test_a_plain_keras_model_is_not_a_keras_chargen_model(tmp_path):
    path = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(path)
    assert_refused(path, "is a Keras model of type 'Sequential'", "not a keras_chargen")


# ------------------------------------------------------------- zip entries
@pytest.mark.parametrize(
    "extra, fragment",
    [
        ("../x", "unsafe path '../x'"),
        ("a/../../x", "unsafe path 'a/../../x'"),
        ("/etc/x", "unsafe path '/etc/x'"),
        ("..\\x", "unsafe path '..\\\\x'"),
        ("C:/x", "unsafe path 'C:/x'"),
        ("assets/", "unexpected entry 'assets/'"),
        ("sub/config.json", "unexpected entry 'sub/config.json'"),
        ("inner.keras", "unexpected entry 'inner.keras'"),
        ("config.json", "holds config.json 2 times"),
        ("model.weights.h5", "holds model.weights.h5 2 times"),
    ],
)
def test_unexpected_zip_entries_are_refused(good, tmp_path, extra, fragment):
    members = read_members(good)
    data = member(members, extra) if extra in dict(members) else read_bytes(good)
    path = write_members(tmp_path / "m.keras", [*members, (extra, data)])
    assert_refused(path, fragment)
    assert not (tmp_path / "x").exists()


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


@pytest.mark.parametrize("missing", ["config.json", "model.weights.h5"])
def test_a_missing_entry_is_refused(good, tmp_path, missing):
    members = [m for m in read_members(good) if m[0] != missing]
    assert_refused(write_members(tmp_path / "m.keras", members), f"has no {missing}")


def test_an_encrypted_entry_is_refused(good, tmp_path):
    # zipfile cannot write encrypted entries: set the flag in the headers.
    data = bytearray(read_bytes(good))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start != -1:
            data[start + flag_offset] |= 0x1
            start = data.find(signature, start + 4)
    path = tmp_path / "m.keras"
    path.write_bytes(bytes(data))
    assert_refused(path, "is encrypted")


def test_a_compressed_archive_loads(good, tmp_path):
    path = write_members(tmp_path / "m.keras", read_members(good), zipfile.ZIP_DEFLATED)
    assert isinstance(load_model(path), keras_chargen.CharLM)


# ------------------------------------------------------ not a model at all
@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "not a zip archive"),
        (b"not a zip", "not a zip archive"),
        (b"PK\x03\x04broken", "not a zip archive"),
        (b"PK\x05\x06" + b"\x00" * 18, "has no config.json"),  # an empty zip
    ],
)
def test_a_file_that_is_not_a_model_archive_is_refused(tmp_path, content, fragment):
    path = tmp_path / "m.keras"
    path.write_bytes(content)
    assert_refused(path, fragment)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_file_is_refused(good, tmp_path, keep):
    data = read_bytes(good)
    path = tmp_path / "m.keras"
    path.write_bytes(data[: int(len(data) * keep)])
    assert_refused(path)


@pytest.mark.parametrize("keep", [0, 100, 0.5, -1])
def test_truncated_weights_in_a_valid_archive_are_refused(good, tmp_path, keep):
    members = read_members(good)
    weights = member(members, "model.weights.h5")
    cut = int(len(weights) * keep) if isinstance(keep, float) else keep
    members = replace_member(members, "model.weights.h5", weights[:cut])
    path = write_members(tmp_path / "m.keras", members)
    assert_refused(path, "model.weights.h5 is not a readable HDF5 file")


def test_a_missing_path_a_folder_and_a_wrong_suffix_are_refused(good, tmp_path):
    assert_refused(tmp_path / "none.keras", "does not exist")
    assert_refused(tmp_path, "is not a file")
    other = tmp_path / "m.zip"
    other.write_bytes(read_bytes(good))
    assert_refused(other, "must be named `*.keras`")


# ------------------------------------------------------------------ weights
@pytest.mark.parametrize(
    "edit, fragment",
    [
        (
            lambda h5: h5.__delitem__("layers/embedding/vars/0"),
            "missing (11, 4); unexpected none",
        ),
        (
            lambda h5: h5.create_dataset("layers/extra/vars/0", data=np.ones(3, "f")),
            "missing none; unexpected (3,)",
        ),
        (
            lambda h5: _replace(h5, "layers/dense/vars/1", np.ones(11, "int32")),
            "has dtype int32, not a number",
        ),
        (
            lambda h5: _replace(h5, "layers/dense/vars/1", np.array([b"x"] * 11)),
            "has dtype |S1, not a number",
        ),
        (
            lambda h5: h5.__setitem__("layers/link", h5py.SoftLink("/layers/dense")),
            "holds a SoftLink at '/layers/link'",
        ),
        (
            lambda h5: h5.__setitem__("ext", h5py.ExternalLink("/etc/passwd", "/")),
            "holds a ExternalLink at '/ext'",
        ),
        (
            lambda h5: _replace(h5, "optimizer/vars/0", np.ones((10**4, 10**3), "f")),
            "optimizer values, more than 8 per model parameter",
        ),
    ],
)
def test_weights_that_do_not_match_the_model_are_refused(
    good, tmp_path, edit, fragment
):
    assert_refused(edit_weights(good, tmp_path / "m.keras", edit), fragment)


def _replace(h5, where, data):
    if where in h5:
        del h5[where]
    h5.create_dataset(where, data=data)


def test_a_weights_file_with_too_many_objects_is_refused(good, tmp_path):
    def edit(h5):
        group = h5.create_group("many")
        for i in range(10_001):
            group.create_group(str(i))

    path = edit_weights(good, tmp_path / "m.keras", edit)
    assert_refused(path, "holds more than 10000 objects")


# --------------------------------------------------------- command line
@pytest.mark.parametrize(
    "command", [["generate"], ["chat"], ["inspect"], ["evaluate", "--text", "x"]]
)
def test_every_command_prints_one_line_and_exits_2(good, tmp_path, capsys, command):
    path = edit_config(good, tmp_path / "m.keras", _set(units=10**9))
    code = run_cli([command[0], str(path), *command[1:]])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and f"keras-chargen {command[0]}: error: " in err
    assert "more than the 2,000,000,000 allowed" in err


def test_the_command_line_keeps_its_message_for_a_model_without_vocabulary(
    tmp_path, capsys
):
    model = keras_chargen.CharLM(vocabulary_size=5, embedding_dim=2, units=2)
    path = keras_chargen.save_model(model, tmp_path / "m.keras")
    code = run_cli(["generate", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "model without a vocabulary" in err
    assert len(err.splitlines()) == 1
