"""Runs an exported keras_chargen step model with NumPy alone: greedy text.

A recipe, and a script: it imports only the standard library, NumPy and the
runtime of the artifact's format (`onnxruntime` for ONNX, `ai_edge_litert`
or `tensorflow.lite` for LiteRT, `tensorflow` for a SavedModel), never
Keras or keras_chargen. Copy it beside an application, or run it:

    python driver.py run_onnx --prompt "ROMEO:" --length 200

The loop is the one `keras_chargen.TextGenerator` runs: the whole prompt
in one call from zero states (prefill), then one call per character with
the states the previous call returned; greedy decoding picks the most
likely id that is not reserved (padding, unknown), ties to the lowest id.
`folder` is what `keras_chargen.export_step_model` wrote: the model file and
`step_model.json` (vocabulary, reserved ids, input and output names).
"""

import argparse
import json
import sys
import unicodedata
from pathlib import Path

import numpy as np


class StepRunner:
    """An exported step model: `step(token_ids, states) -> (logits, states)`.

    Args:
        folder: the folder `export_step_model` wrote.
        num_threads: Optional int, the runtime's threads for one call (ONNX
            Runtime's intra-op threads, LiteRT's threads; a SavedModel uses
            TensorFlow's settings). Defaults to `None`: the runtime's
            default. One thread was fastest at batch 1 in docs/deploy.md.

    Attributes:
        manifest: the parsed `step_model.json`.
    """

    def __init__(self, folder, num_threads=None):
        folder = Path(folder)
        self.manifest = json.loads((folder / "step_model.json").read_text("ascii"))
        m = self.manifest
        config = m["vectorizer"]
        self._vocabulary = config["vocabulary"]
        self._normalization = config["normalization"]
        self._on_unknown = config["on_unknown"]
        first = m["num_reserved_ids"]
        self._ids = {c: first + i for i, c in enumerate(self._vocabulary)}
        self._chars = [""] * first + list(self._vocabulary)
        self._chars[m["oov_id"]] = m["oov_character"]
        self.state_specs = m["inputs"][1:]
        self._call = _RUNTIMES[m["format"]](folder / m["model_file"], num_threads)

    # ------------------------------------------------------------ vocabulary
    def encode(self, text):
        """Ids of `text` (int32, one per character), as `CharVectorizer.encode`."""
        if self._normalization:
            text = unicodedata.normalize(self._normalization, text)
        ids = []
        for char in text:
            known = self._ids.get(char)
            if known is None and self._on_unknown == "raise":
                raise ValueError(f"Character {char!r} is not in the vocabulary.")
            if known is None and self._on_unknown == "drop":
                continue
            ids.append(self.manifest["oov_id"] if known is None else known)
        return np.array(ids, np.int32)

    def decode(self, ids):
        """The text of `ids`: padding skipped, unknown as U+FFFD."""
        return "".join(self._chars[i] for i in np.asarray(ids).reshape(-1))

    # ------------------------------------------------------------ the model
    def initial_state(self, batch_size=1):
        """Zero states, a dict keyed by the state inputs' names."""
        return {
            s["name"]: np.zeros((batch_size, s["shape"][1]), np.float32)
            for s in self.state_specs
        }

    def step(self, token_ids, states):
        """Runs ids `(batch, time)` from `states`; returns logits and new states."""
        feed = {"token_ids": np.asarray(token_ids, np.int32), **states}
        out = self._call(feed)
        new_states = {s["name"]: out["new_" + s["name"]] for s in self.state_specs}
        return out["logits"], new_states


def greedy_id(logits, num_reserved_ids):
    """The most likely id of a logits row that is not reserved."""
    return int(np.argmax(logits[num_reserved_ids:])) + num_reserved_ids


def generate(runner, prompt, length, logits_out=None):
    """Greedy continuation of `prompt` by `length` characters.

    Args:
        runner: a `StepRunner`.
        prompt: str (may be `""`: the zero state's prediction comes first).
        length: int >= 0.
        logits_out: Optional list: the logits each character was chosen
            from are appended to it, one float32 row per character.

    Returns:
        The prompt followed by its continuation.
    """
    padding_id = runner.manifest["padding_id"]
    reserved = runner.manifest["num_reserved_ids"]
    ids = runner.encode(prompt)
    if ids.size == 0:  # all padding: the logits of the zero state
        ids = np.array([padding_id], np.int32)
    logits, states = runner.step(ids[None, :], runner.initial_state(1))
    row = logits[0, -1]
    chosen = []
    for i in range(length):
        if logits_out is not None:
            logits_out.append(np.array(row, np.float32))
        chosen.append(greedy_id(row, reserved))
        if i + 1 < length:  # the last character needs no further step
            logits, states = runner.step(np.array([[chosen[-1]]], np.int32), states)
            row = logits[0, -1]
    return prompt + runner.decode(chosen)


# ---------------------------------------------------------------- runtimes
def _onnx(path, num_threads):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
    session = onnxruntime.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return lambda feed: dict(zip(names, session.run(names, feed), strict=True))


def _litert(path, num_threads):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow's own copy of the interpreter
        from tensorflow.lite import Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    runner = interpreter.get_signature_runner()
    return lambda feed: runner(**feed)


def _saved_model(path, num_threads):
    import tensorflow as tf

    function = tf.saved_model.load(str(path)).signatures["serving_default"]
    return lambda feed: {k: v.numpy() for k, v in function(**feed).items()}


_RUNTIMES = {"onnx": _onnx, "litert": _litert, "tf_saved_model": _saved_model}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a folder written by `keras-chargen export`")
    parser.add_argument("--prompt", default="", help="text to continue")
    parser.add_argument("--length", type=int, default=200, help="characters to add")
    parser.add_argument("--threads", type=int, help="the runtime's threads per call")
    args = parser.parse_args(argv)
    if not (Path(args.folder) / "step_model.json").is_file():
        parser.exit(2, f"error: no step_model.json in {args.folder!r}\n")
    runner = StepRunner(args.folder, num_threads=args.threads)
    print(generate(runner, args.prompt, args.length))


if __name__ == "__main__":
    sys.exit(main())
