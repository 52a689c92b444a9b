"""Property-based fuzzing of the model loader on mutated `.keras` archives.

`keras_chargen.models.loading.load_model`, which every command uses, must
load a file or refuse it with its one-line `ModelFileError`, whatever the
archive holds: never another exception, a hang, or an allocation the file
does not justify. Each test starts from a tiny real `CharLM` file and
mutates one layer of it: random JSON values for the config keys, flipped
bytes in `config.json`, in the weights or anywhere in the archive, zip
entries deleted, duplicated or added (nested, absolute, `..`), and the HDF5
weights reshaped, retyped, deleted or added.

Why hypothesis rather than atheris: the mutations are structured (a JSON
value at a config key, a dataset of some shape at an HDF5 path), which
hypothesis strategies generate directly and shrink to the smallest failing
edit, inside pytest; byte-level coverage guidance would spend its time in
zlib and HDF5, not in our checks, and atheris needs a native build that not
every supported platform has. The byte-flip tests cover the unstructured
side.

`hypothesis.event` records what happened to each input: run with
`--hypothesis-show-statistics` to see how many were refused by the checks,
refused by Keras, or loaded.

The short runs are part of the default suite; `-m large` runs each property
on many more, random, inputs (see `fuzzing.py`).
"""

import io
import json
import warnings
import zipfile

import h5py
import numpy as np
import pytest
from fuzzing import fuzz
from hypothesis import event, example
from hypothesis import strategies as st
from model_files_test import (
    member,
    read_members,
    replace_member,
    save_tiny_model,
    write_members,
)

import keras_chargen
from keras_chargen.models.loading import ModelFileError, load_model


class _Tiny(tuple):
    """`(members, path)`: the tiny model's entries, and a scratch file path."""

    def __repr__(self):  # hypothesis prints the arguments of a failing test
        return "tiny"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    save_tiny_model(folder / "tiny.keras")
    return _Tiny((read_members(folder / "tiny.keras"), folder / "fuzzed.keras"))


def assert_loads_or_refuses(path):
    """The property: a `CharLM`, or a one-line `ModelFileError` naming `path`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load_model(path)
    except ModelFileError as error:
        message = str(error)
        assert "\n" not in message and repr(str(path)) in message, message
        event("refused by Keras" if message.startswith("cannot load") else "refused")
    else:
        assert isinstance(model, keras_chargen.CharLM)
        event("loaded")


def flip(data, flips):
    data = bytearray(data)
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    return bytes(data)


FLIP = st.tuples(st.integers(0, 2**20), st.integers(0, 255))
FLIPS = st.lists(FLIP, max_size=8)
SOME_FLIPS = st.lists(FLIP, min_size=1, max_size=8)

# ---------------------------------------------------------------- config
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 1, 2, 3, 10**9, 2**31, 2**63, 10**30, 10**4000])
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["lstm", "gru", "auto", "float32", "NFC", "drop", "raise"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["class_name", "module", "config", "registered_name"])
            | st.text(max_size=4),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)
CHAR_LM_KEYS = [
    "vocabulary_size", "embedding_dim", "units", "num_layers", "dropout", "cell",
    "layer_norm", "use_fused_lstm", "training_matmul_dtype", "name", "trainable",
    "vectorizer",
]  # fmt: skip
VECTORIZER_KEYS = [
    "vocabulary", "sequence_length", "normalization", "on_unknown", "name",
    "dtype", "trainable",
]  # fmt: skip
TOP_KEYS = [
    "class_name", "registered_name", "module", "config", "build_config",
    "compile_config",
]  # fmt: skip
CONFIG_EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("model"), st.sampled_from(CHAR_LM_KEYS), JSON),
        st.tuples(st.just("vectorizer"), st.sampled_from(VECTORIZER_KEYS), JSON),
        st.tuples(st.just("top"), st.sampled_from(TOP_KEYS), JSON),
        st.tuples(st.just("delete"), st.sampled_from(CHAR_LM_KEYS), st.none()),
    ),
    min_size=1,
    max_size=3,
)


def edited_config(data, edits):
    config = json.loads(data)
    for where, key, value in edits:
        model = config.get("config")
        vectorizer = model.get("vectorizer") if isinstance(model, dict) else None
        target = {"top": config, "model": model, "delete": model}.get(where, vectorizer)
        if not isinstance(target, dict):
            continue
        if where == "delete":
            target.pop(key, None)
        else:
            target[key] = value
    return json.dumps(config).encode()


@fuzz(CONFIG_EDITS)
@example([("model", "units", 20000)])  # the OOM of issue 17
@example([("model", "units", 10**9)])
@example([("vectorizer", "vocabulary", ["a"] * 3)])
@example([("model", "vectorizer", {"class_name": "__lambda__", "config": {}})])
@example([("model", "cell", [])])  # unhashable: found by this test
@example([("model", "units", 10**4000)])  # too many digits to print
def test_random_values_for_the_config_keys(tiny, edits):
    members, path = tiny
    config = edited_config(member(members, "config.json"), edits)
    write_members(path, replace_member(members, "config.json", config))
    assert_loads_or_refuses(path)


test_random_values_for_the_config_keys_large = (
    test_random_values_for_the_config_keys.large
)


@fuzz(SOME_FLIPS)
def test_flipped_bytes_in_config_json(tiny, flips):
    members, path = tiny
    config = flip(member(members, "config.json"), flips)
    write_members(path, replace_member(members, "config.json", config))
    assert_loads_or_refuses(path)


test_flipped_bytes_in_config_json_large = test_flipped_bytes_in_config_json.large


# ----------------------------------------------------------- zip entries
NAMES = st.sampled_from(
    ["config.json", "model.weights.h5", "metadata.json", "../x", "/etc/x",
     "a/../../x", "assets/", "assets/x", "C:\\x", "config.json/", "x\x00y",
     "model.weights.npz", "inner.keras"]
) | st.text(max_size=10)  # fmt: skip
ENTRY_EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("delete"), NAMES),
        st.tuples(st.just("duplicate"), NAMES),
        st.tuples(st.just("add"), NAMES),
    ),
    min_size=1,
    max_size=4,
)


@fuzz(ENTRY_EDITS, st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
def test_deleted_duplicated_and_added_zip_entries(tiny, edits, compression):
    members, path = tiny
    members = list(members)
    for operation, name in edits:
        if operation == "delete":
            members = [m for m in members if m[0] != name]
        elif operation == "duplicate" and name in dict(members):
            members.append((name, member(members, name)))
        elif operation == "add":
            members.append((name, b"{}" if name.endswith(".json") else b"\x00" * 8))
    try:
        write_members(path, members, compression)
    except (ValueError, IndexError):  # zipfile cannot write "" and some others
        return
    assert_loads_or_refuses(path)


test_deleted_duplicated_and_added_zip_entries_large = (
    test_deleted_duplicated_and_added_zip_entries.large
)


# ------------------------------------------------------- the whole file
@fuzz(FLIPS, st.one_of(st.none(), st.integers(0, 2**20)), st.booleans())
def test_flipped_and_truncated_archives(tiny, flips, cut, deflated):
    members, path = tiny
    compression = zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED
    write_members(path, members, compression)
    data = flip(path.read_bytes(), flips)
    path.write_bytes(data if cut is None else data[: cut % (len(data) + 1)])
    assert_loads_or_refuses(path)


test_flipped_and_truncated_archives_large = test_flipped_and_truncated_archives.large


# --------------------------------------------------------------- weights
@fuzz(SOME_FLIPS)
def test_flipped_bytes_in_the_weights(tiny, flips):
    members, path = tiny
    weights = flip(member(members, "model.weights.h5"), flips)
    write_members(path, replace_member(members, "model.weights.h5", weights))
    assert_loads_or_refuses(path)


test_flipped_bytes_in_the_weights_large = test_flipped_bytes_in_the_weights.large


SHAPES = st.lists(st.integers(0, 40), max_size=3).map(tuple)
DTYPES = st.sampled_from(["float32", "float64", "float16", "int64", "uint8", "S1"])
WEIGHT_EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("delete"), st.integers(0, 100), st.none(), st.none()),
        st.tuples(st.just("reshape"), st.integers(0, 100), SHAPES, DTYPES),
        st.tuples(
            st.just("add"),
            st.sampled_from(["layers/x/vars/0", "optimizer/vars/9", "vars/0", "y"]),
            SHAPES,
            DTYPES,
        ),
    ),
    min_size=1,
    max_size=3,
)


def dataset_names(h5):
    names = []
    h5.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(names)


def edited_weights(data, edits):
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as h5:
        for operation, where, shape, dtype in edits:
            names = dataset_names(h5)
            if operation != "add":
                if not names:
                    continue
                where = names[where % len(names)]
            if where in h5:
                del h5[where]
            if operation != "delete":
                h5.create_dataset(where, data=np.zeros(shape, dtype=dtype))
    return buffer.getvalue()


@fuzz(WEIGHT_EDITS)
@example([("reshape", 0, (8, 12), "float32")])
def test_deleted_reshaped_and_added_weights(tiny, edits):
    members, path = tiny
    weights = edited_weights(member(members, "model.weights.h5"), edits)
    write_members(path, replace_member(members, "model.weights.h5", weights))
    assert_loads_or_refuses(path)


test_deleted_reshaped_and_added_weights_large = (
    test_deleted_reshaped_and_added_weights.large
)
