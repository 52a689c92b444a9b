"""`load_model`: load a keras_chargen `.keras` file that may be broken or hostile.

`keras.saving.load_model` builds the model its `config.json` describes and
only then reads the weights, so a file whose config says `units: 20000`
beside the weights of an 8-unit model allocates gigabytes before it fails,
and a corrupted archive fails with whichever exception the broken part
raises. `load_model` first checks the archive with the standard library and
h5py (no Keras object is built, no weight is read), then loads it with
`safe_mode=True`. Every failure is a `ModelFileError` (a `ValueError`) whose
one-line message names the file and says what is wrong.

A file is refused when:

- it is missing, not named `*.keras`, not a zip archive, or truncated;
- the archive holds anything but `metadata.json`, `config.json` and
  `model.weights.h5` (each at most once): no folders, nested archives,
  absolute paths or `..`, so nothing is ever extracted;
- `config.json` is over `MAX_CONFIG_BYTES`, not JSON, names Python code
  (a `lambda` or a `Lambda` layer) or an object outside Keras and
  keras_chargen, or is not a `CharLM` with valid sizes;
- the sizes it declares add up to more than `MAX_PARAMETERS` parameters or
  `MAX_NUM_LAYERS` recurrent layers, or disagree with each other (the
  vocabulary against `vocabulary_size`);
- `model.weights.h5` is not the weights of that model: a missing, extra or
  differently shaped weight, a weight that is not floating point, data the
  file does not actually hold (a "hollow" HDF5 dataset), or links to other
  files or paths.

The model is then built from the checked config, so what loading allocates
is bounded by what the file holds.

**Note:** the file is checked, closed, then opened again by Keras. A file
replaced in between is not checked: load only files that nobody else writes.
"""

import collections
import inspect
import json
import math
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import h5py
import keras

from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS
from keras_chargen.models.char_lm import CharLM

# 2e9 parameters are 8 GB of float32 weights: more than a character model on
# one machine needs, and less than loading such a file takes down a laptop.
MAX_PARAMETERS = 2_000_000_000
MAX_NUM_LAYERS = 128
# Room for a vocabulary of some 800,000 characters, JSON-escaped; JSON made
# of tiny objects takes some 20 times its size in memory once parsed.
MAX_CONFIG_BYTES = 8 * 2**20
# HDF5 groups and datasets looked at in `model.weights.h5`.
_MAX_H5_OBJECTS = 10_000
# A compressed HDF5 dataset must store at least this fraction of its bytes.
_MAX_COMPRESSION_RATIO = 100
# Room for HDF5's own metadata in `model.weights.h5`, beyond the weights.
_WEIGHTS_OVERHEAD_BYTES = 64 * 2**20

# Keras keeps the optimizer's variables (step, learning rate, moments) apart.
_OPTIMIZER = "/optimizer/"
# Optimizer values per model parameter: Adam's two moments, AMSGrad's third,
# an EMA copy, gradient accumulators.
_MAX_OPTIMIZER_COPIES = 8
_CONFIG = "config.json"
_WEIGHTS = "model.weights.h5"
_MEMBERS = ("metadata.json", _CONFIG, _WEIGHTS)
_CHAR_LM = "keras_chargen>CharLM"
_CHAR_VECTORIZER = "keras_chargen>CharVectorizer"
_CODE_CLASS_NAMES = ("__lambda__", "Lambda")
_TRUSTED_PACKAGES = ("keras", "keras_chargen")
_CELL_GATES = {"lstm": 4, "gru": 3}
# What corrupted archives raise from `zipfile` and its decompressors.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    struct.error,
    zlib.error,
)
# What h5py raises for a corrupted HDF5 file, on top of `_ZIP_ERRORS`.
_H5_ERRORS = (*_ZIP_ERRORS, KeyError, TypeError)


class ModelFileError(ValueError):
    """A `.keras` file is missing, corrupted, hostile or not a keras_chargen model."""


def load_model(filepath):
    """Loads a keras_chargen `CharLM` from a `.keras` file, refusing bad files.

    Checks the file first (see the module docstring: archive entries,
    `config.json`, declared sizes against `MAX_PARAMETERS` and against the
    weights stored), then loads it with
    `keras.saving.load_model(filepath, safe_mode=True)`, which never runs
    Python code from a file.

    Args:
        filepath: `str` or `os.PathLike`, a `.keras` file.

    Returns:
        The `keras_chargen.CharLM`.

    Raises:
        ModelFileError: a `ValueError` with a one-line message naming the
            file and what is wrong with it.

    Example:

    ```python
    model = load_model("run.keras")
    model.generate("The ", length=50)
    ```
    """
    path = Path(filepath)
    check_model_file(path)
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for broken files
        cause = _root_cause(error)
        raise ModelFileError(
            f"cannot load {str(path)!r}: {type(cause).__name__}: {_first_line(cause)}"
        ) from None
    if not isinstance(model, CharLM):
        raise ModelFileError(
            f"{str(path)!r} loaded as a {type(model).__name__}, not a "
            "keras_chargen CharLM"
        )
    return model


def check_model_file(filepath):
    """Checks a `.keras` file without building anything; see `load_model`.

    Returns:
        The `config.json` of the file, as a dict.

    Raises:
        ModelFileError: the file would be refused by `load_model`.
    """
    path = Path(filepath)
    name = repr(str(path))
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ModelFileError(f"model file {name} {what}")
    if path.suffix != ".keras":
        raise ModelFileError(f"model file {name} must be named `*.keras`")
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as error:
        raise ModelFileError(
            f"{name} is not a .keras model file (not a zip archive: "
            f"{_first_line(error)})"
        ) from None
    with archive:
        _check_members(archive, name)
        config = _read_config(archive, name)
        sizes = _check_config(config, name)
        _check_weights(archive, path, name, sizes)
    return config


# ------------------------------------------------------------------ archive
def _check_members(archive, name):
    infos = archive.infolist()
    for info in infos:
        if _is_unsafe_path(info.filename):
            raise ModelFileError(
                f"{name} holds an entry with an unsafe path "
                f"{_short(info.filename)} (absolute or outside the archive)"
            )
    counts = collections.Counter(info.filename for info in infos)
    for member, count in counts.items():
        if member not in _MEMBERS:
            raise ModelFileError(
                f"{name} holds an unexpected entry {_short(member)}: a "
                f"keras_chargen model file holds only {', '.join(_MEMBERS)}"
            )
        if count > 1:
            raise ModelFileError(f"{name} holds {member} {count} times")
    for member in (_CONFIG, _WEIGHTS):
        if member not in counts:
            raise ModelFileError(f"{name} has no {member}: not a .keras model file")
    for info in infos:
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{name}: {info.filename} is encrypted")


def _is_unsafe_path(member):
    parts = re.split(r"[/\\]", member)
    return (
        member.startswith(("/", "\\"))
        or re.match(r"[A-Za-z]:", member) is not None
        or ".." in parts
        or "\x00" in member
    )


def _read_config(archive, name):
    info = archive.getinfo(_CONFIG)
    if info.file_size > MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"{name}: {_CONFIG} declares {info.file_size} bytes, more than the "
            f"{MAX_CONFIG_BYTES} allowed"
        )
    try:
        with archive.open(info) as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except _ZIP_ERRORS as error:
        raise ModelFileError(
            f"{name}: cannot read {_CONFIG} (corrupted or truncated archive: "
            f"{_first_line(error)})"
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"{name}: {_CONFIG} holds more than the {MAX_CONFIG_BYTES} bytes allowed"
        )
    try:
        # Bytes, as Keras reads them, so that both see the same JSON.
        config = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ModelFileError(
            f"{name}: {_CONFIG} is not valid JSON ({_first_line(error)})"
        ) from None
    if not isinstance(config, dict):
        raise ModelFileError(
            f"{name}: {_CONFIG} must hold a JSON object. Received a "
            f"{type(config).__name__}"
        )
    return config


# ------------------------------------------------------------------- config
class _Sizes(NamedTuple):
    """The sizes `config.json` declares: what the weights must match."""

    vocabulary_size: int
    embedding_dim: int
    units: int
    num_layers: int
    cell: str
    layer_norm: bool

    def describe(self):
        return ", ".join(f"{k}={_short(v)}" for k, v in self._asdict().items())


def _check_config(config, name):
    _refuse_code(config, name)
    if not _names_class(config, "CharLM", _CHAR_LM):
        raise ModelFileError(
            f"{name} is a Keras model of type {_short(config.get('class_name'))} "
            "but not a keras_chargen model with a vocabulary (train one with "
            "`keras-chargen train`)"
        )
    inner = config.get("config")
    if not isinstance(inner, dict):
        raise ModelFileError(f"{name}: {_CONFIG} has no CharLM `config` object")
    defaults = {
        key: parameter.default
        for key, parameter in inspect.signature(CharLM).parameters.items()
    }

    def get(key):
        return inner.get(key, defaults[key])

    vocabulary_size = _vocabulary_size(get("vectorizer"), name)
    declared = get("vocabulary_size")
    if vocabulary_size is None:
        vocabulary_size = _int(declared, "vocabulary_size", 3, name)
    elif declared is not None and declared != vocabulary_size:
        raise ModelFileError(
            f"{name}: the vectorizer's vocabulary has {vocabulary_size} ids "
            f"(with the {NUM_RESERVED_IDS} reserved ones) but {_CONFIG} declares "
            f"vocabulary_size={_short(declared)}"
        )
    cell, layer_norm = get("cell"), get("layer_norm")
    if not isinstance(cell, str) or cell not in _CELL_GATES:
        raise ModelFileError(
            f"{name}: `cell` must be one of {sorted(_CELL_GATES)}. Received: "
            f"cell={_short(cell)}"
        )
    if not isinstance(layer_norm, bool):
        raise ModelFileError(
            f"{name}: `layer_norm` must be true or false. Received: "
            f"layer_norm={_short(layer_norm)}"
        )
    sizes = _Sizes(
        vocabulary_size,
        _int(get("embedding_dim"), "embedding_dim", 1, name),
        _int(get("units"), "units", 1, name),
        _int(get("num_layers"), "num_layers", 1, name),
        cell,
        layer_norm,
    )
    if sizes.num_layers > MAX_NUM_LAYERS:
        raise ModelFileError(
            f"{name}: {_CONFIG} declares num_layers={sizes.num_layers}, more "
            f"than the {MAX_NUM_LAYERS} allowed"
        )
    parameters = sum(math.prod(shape) for shape in _weight_shapes(sizes))
    if parameters > MAX_PARAMETERS:
        raise ModelFileError(
            f"{name}: {_CONFIG} declares a model of {_count(parameters)} parameters "
            f"({sizes.describe()}), more than the {MAX_PARAMETERS:,} allowed"
        )
    return sizes


def _refuse_code(config, name):
    # An explicit stack, not recursion: the JSON nests as deep as it likes.
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        if not isinstance(value, dict):
            continue
        stack.extend(value.values())
        class_name, module = value.get("class_name"), value.get("module")
        if class_name in _CODE_CLASS_NAMES:
            raise ModelFileError(
                f"{name}: {_CONFIG} holds Python code (a `{class_name}`), which "
                "keras_chargen never runs: model files are loaded with "
                "safe_mode=True"
            )
        if module is not None and (
            not isinstance(module, str) or module.split(".")[0] not in _TRUSTED_PACKAGES
        ):
            raise ModelFileError(
                f"{name}: {_CONFIG} names an object from module {_short(module)}; "
                f"only {' and '.join(_TRUSTED_PACKAGES)} objects are loaded"
            )


def _names_class(config, class_name, registered_name):
    return config.get("class_name") == class_name and config.get(
        "registered_name", registered_name
    ) in (None, registered_name)


def _vocabulary_size(vectorizer, name):
    """The ids of the vectorizer in the config, or `None` when there is none."""
    if vectorizer is None:
        return None
    where = f"{name}: the vectorizer in {_CONFIG}"
    if not isinstance(vectorizer, dict) or not _names_class(
        vectorizer, "CharVectorizer", _CHAR_VECTORIZER
    ):
        raise ModelFileError(f"{where} is not a keras_chargen CharVectorizer")
    vectorizer_config = vectorizer.get("config")
    vocabulary = (
        vectorizer_config.get("vocabulary")
        if isinstance(vectorizer_config, dict)
        else None
    )
    if not isinstance(vocabulary, list | str) or not vocabulary:
        raise ModelFileError(
            f"{where} has no vocabulary: expected a list of characters. "
            f"Received: {_short(vocabulary)}"
        )
    vocabulary = list(vocabulary)
    bad = [c for c in vocabulary if not isinstance(c, str) or len(c) != 1]
    if bad:
        raise ModelFileError(
            f"{where} has a vocabulary entry that is not one character: "
            f"{_short(bad[0])}"
        )
    if len(set(vocabulary)) != len(vocabulary):
        raise ModelFileError(f"{where} repeats a character in its vocabulary")
    return len(vocabulary) + NUM_RESERVED_IDS


def _int(value, key, minimum, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelFileError(
            f"{name}: `{key}` in {_CONFIG} must be an integer >= {minimum}. "
            f"Received: {key}={_short(value)}"
        )
    return value


def _weight_shapes(sizes):
    """The shapes of a `CharLM`'s weights, in Keras' own layer layouts."""
    vocabulary, units = sizes.vocabulary_size, sizes.units
    gates = _CELL_GATES[sizes.cell] * units
    # A GRU has separate input and recurrent biases (`reset_after=True`).
    bias = (gates,) if sizes.cell == "lstm" else (2, gates)
    shapes = [(vocabulary, sizes.embedding_dim)]
    for i in range(sizes.num_layers):
        inputs = sizes.embedding_dim if i == 0 else units
        shapes += [(inputs, gates), (units, gates), bias]
        if sizes.layer_norm:
            shapes += [(units,), (units,)]
    return [*shapes, (units, vocabulary), (vocabulary,)]


# ------------------------------------------------------------------ weights
def _check_weights(archive, path, name, sizes):
    expected = collections.Counter(_weight_shapes(sizes))
    parameters = sum(math.prod(shape) * n for shape, n in expected.items())
    info = archive.getinfo(_WEIGHTS)
    # float64 at most, for the model and its optimizer's copies.
    largest = 8 * (1 + _MAX_OPTIMIZER_COPIES) * parameters + _WEIGHTS_OVERHEAD_BYTES
    if info.file_size > largest:
        raise ModelFileError(
            f"{name}: {_WEIGHTS} declares {info.file_size:,} bytes, more than "
            f"the {largest:,} the model in {_CONFIG} can need ({sizes.describe()})"
        )
    try:
        with _open_member(archive, path, info) as file, h5py.File(file, "r") as h5:
            datasets = _datasets(h5, name)
    except ModelFileError:
        raise
    except _H5_ERRORS as error:
        raise ModelFileError(
            f"{name}: {_WEIGHTS} is not a readable HDF5 file (corrupted or "
            f"truncated: {_first_line(error)})"
        ) from None
    found = collections.Counter(
        shape for where, shape in datasets if not where.startswith(_OPTIMIZER)
    )
    if found != expected:
        missing = list((expected - found).elements())
        extra = list((found - expected).elements())
        raise ModelFileError(
            f"{name}: {_WEIGHTS} does not hold the weights {_CONFIG} declares "
            f"({sizes.describe()}): missing {_shapes(missing)}; unexpected "
            f"{_shapes(extra)}"
        )
    optimizer = sum(
        math.prod(shape) for where, shape in datasets if where.startswith(_OPTIMIZER)
    )
    if optimizer > _MAX_OPTIMIZER_COPIES * parameters:
        raise ModelFileError(
            f"{name}: {_WEIGHTS} holds {optimizer:,} optimizer values, more "
            f"than {_MAX_OPTIMIZER_COPIES} per model parameter"
        )


def _datasets(h5, name):
    """`(path, shape)` of every dataset, refusing links and hollow data."""
    found, stack, seen = [], [h5], 0
    while stack:
        group = stack.pop()
        for key in group:
            seen += 1
            if seen > _MAX_H5_OBJECTS:
                raise ModelFileError(
                    f"{name}: {_WEIGHTS} holds more than {_MAX_H5_OBJECTS} "
                    "objects: not the weights of a CharLM"
                )
            link = group.get(key, getlink=True)
            if not isinstance(link, h5py.HardLink):
                kind = "broken link" if link is None else type(link).__name__
                raise ModelFileError(
                    f"{name}: {_WEIGHTS} holds a {kind} at "
                    f"{_short(group.name.rstrip('/') + '/' + key)}; weights "
                    "files hold no links"
                )
            item = group[key]
            if isinstance(item, h5py.Group):
                stack.append(item)
            elif isinstance(item, h5py.Dataset):
                found.append((item.name, _check_dataset(item, name)))
            else:
                raise ModelFileError(
                    f"{name}: {_WEIGHTS} holds a {type(item).__name__} at "
                    f"{_short(item.name)}"
                )
    return found


def _check_dataset(dataset, name):
    shape = tuple(int(n) for n in dataset.shape or ())
    where = f"{name}: {_WEIGHTS}: {_short(dataset.name)}"
    # The optimizer's step counter is an integer; every weight is a float.
    kinds = "fiu" if dataset.name.startswith(_OPTIMIZER) else "f"
    if dataset.dtype.kind not in kinds and not _is_bfloat16(dataset):
        raise ModelFileError(f"{where} has dtype {dataset.dtype}, not a number")
    size = math.prod(shape) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    ratio = _MAX_COMPRESSION_RATIO if dataset.compression else 1
    if stored * ratio < size:
        raise ModelFileError(
            f"{where} of shape {_shape(shape)} stores only {stored:,} of its "
            f"{size:,} bytes"
        )
    return shape


def _is_bfloat16(dataset):
    # How Keras stores bfloat16 weights: 2-byte items marked by an attribute.
    return dataset.dtype.itemsize == 2 and dataset.attrs.get("dtype") == "bfloat16"


class _Window:
    """A read-only file over bytes `[start, start + size)` of an open file.

    h5py seeks back and forth; a zip member opened by `zipfile` re-reads
    from its start on every backward seek, so an uncompressed member is read
    straight from the archive's file instead.
    """

    def __init__(self, file, start, size):
        self._file, self._start, self._size, self._position = file, start, size, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._file.close()

    def seekable(self):
        return True

    def readable(self):
        return True

    def tell(self):
        return self._position

    def seek(self, offset, whence=0):
        base = (0, self._position, self._size)[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size=-1):
        left = max(0, self._size - self._position)
        size = left if size is None or size < 0 else min(size, left)
        self._file.seek(self._start + self._position)
        data = self._file.read(size)
        self._position += len(data)
        return data

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _open_member(archive, path, info):
    if info.compress_type != zipfile.ZIP_STORED:
        return archive.open(info)
    file = open(path, "rb")
    try:
        file.seek(info.header_offset)
        header = file.read(30)
        signature, name_length, extra_length = (
            header[:4],
            *struct.unpack("<HH", header[26:30]),
        )
        if signature != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local header for {info.filename}")
        start = info.header_offset + 30 + name_length + extra_length
        if start + info.file_size > path.stat().st_size:
            raise EOFError(f"{info.filename} is cut short")
    except BaseException:
        file.close()
        raise
    return _Window(file, start, info.file_size)


# ------------------------------------------------------------------ messages
def _root_cause(error):
    # Keras re-raises a component's error inside a long TypeError of its own
    # ("could not be deserialized properly..."): report the original one.
    for _ in range(20):
        inner = error.__cause__ or (
            None if error.__suppress_context__ else error.__context__
        )
        if inner is None:
            break
        error = inner
    return error


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _count(number):
    # Digits beyond 4300 cannot even be printed (`sys.set_int_max_str_digits`).
    if number < 10**15:
        return f"{number:,}"
    return f"about 10^{math.floor(math.log10(number))}"


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shape(shape):
    return str(shape) if shape else "scalar"


def _shapes(shapes):
    if not shapes:
        return "none"
    shown = ", ".join(_shape(s) for s in shapes[:4])
    return shown + (f" and {len(shapes) - 4} more" if len(shapes) > 4 else "")
