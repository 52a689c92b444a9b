"""Data-parallel training across processes and machines (JAX backend).

`keras_chargen.train(..., distributed=...)` and `keras-chargen train
--distributed` join this process to a cluster with Keras' own distribution
API: `keras.distribution.initialize` starts JAX's distributed runtime (a
coordinator on process 0; on CPU the collectives go over TCP with gloo, JAX's
default `jax_cpu_collectives_implementation`), and a
`keras.distribution.DataParallel` over every device of every process
replicates the variables and splits each batch.

Every process runs the same program on the same corpus and seed, so each
builds the same datasets; `batch_size` is the *global* batch, and each
process feeds its own `batch_size / num_processes` slice of every global
batch (`Cluster.local_batches`), which Keras' JAX trainer assembles into the
global batch (`jax.make_array_from_process_local_data`). The gradients are
averaged over the global batch inside the compiled train step, so a run on
N processes takes the same steps as a one-process run on the same global
batches. The slicing is ours rather than Keras' `auto_shard_dataset`, which
needs a batch size it can read from the `tf.data` graph and so fails on the
generator-backed datasets of prepared corpora.

**Note:** TensorFlow's `tf.distribute.MultiWorkerMirroredStrategy` does not
train a Keras 3 model here (TF 2.21, Keras 3.15): `model.fit` fails on its
first step with "Attempt to convert a value (PerReplica...) with an
unsupported type to a Tensor" (keras-team/keras#20585,
tensorflow/tensorflow#72388), so distributed training needs
`KERAS_BACKEND=jax`.
"""

import contextlib
import numbers
import os
from pathlib import Path

import keras

# Where each setting comes from when it is not given: Keras' own variables,
# which `keras.distribution.initialize` reads too.
ENVIRONMENT = {
    "coordinator_address": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "process_id": "KERAS_DISTRIBUTION_PROCESS_ID",
}


class Cluster:
    """This process's place in a data-parallel training run.

    Built by `join_cluster`, which also starts the distributed runtime.

    Args:
        num_processes: int, the processes in the run.
        process_id: int, this process, in `[0, num_processes)`. Process 0
            writes the files; the others only train.
        distribution: the `keras.distribution.DataParallel` to build and fit
            the model in.
    """

    def __init__(self, num_processes, process_id, distribution):
        self.num_processes = num_processes
        self.process_id = process_id
        self.distribution = distribution

    @property
    def is_chief(self):
        """Whether this process writes the model file, the log and the plot."""
        return self.process_id == 0

    def scope(self):
        """The context to build and fit the model in (the `DataParallel`)."""
        return self.distribution.scope()

    def probe_path(self, output):
        """The path a process other than 0 checks the settings with.

        Every process checks the settings as process 0 does, and all at
        once; each with its own name beside `output` (same folder, same
        suffix), their folder write tests cannot remove each other's file.
        """
        output = Path(output)
        return output.with_name(
            f"{output.stem}.process-{self.process_id}{output.suffix}"
        )

    def callbacks(self, callbacks, writers):
        """This process's share of `train`'s callbacks.

        Processes other than 0 drop the callbacks that write files. Process
        0 runs them outside the `DataParallel`: saving a model inside it
        moves arrays onto the devices of all processes, a collective the
        others never join, and the run stops with "passed to device_put is
        not the same on each process" (measured). The callbacks that steer
        training (learning rate, early stopping) run on every process alike:
        they read the global loss, so they take the same decisions.

        Args:
            callbacks: a list of `keras.callbacks.Callback`.
            writers: a tuple of the callback classes that write files.

        Returns:
            The list for this process, in the same order.
        """
        if not self.is_chief:
            return [c for c in callbacks if not isinstance(c, writers)]
        return [_Local(c) if isinstance(c, writers) else c for c in callbacks]

    def local_batches(self, dataset, batch_size):
        """This process's slice of every full global batch of `dataset`.

        Each process takes rows `[k * b, (k + 1) * b)` of each global batch,
        `b = batch_size / num_processes`. A short last batch is dropped:
        it would not split evenly, and a step that some processes take and
        others do not leaves their collectives unmatched. That costs at most
        `batch_size - 1` windows per epoch (training windows start at a new
        offset each epoch, so no character is left out for good), and makes
        the epoch's length unknown to Keras until the first epoch ends.

        Args:
            dataset: a `tf.data.Dataset` of `(inputs, targets)` batches, or
                `None` (returned as is).
            batch_size: int, the global batch.

        Returns:
            The dataset of this process's `(inputs, targets)` slices.
        """
        if dataset is None:
            return None
        import tensorflow as tf

        size = batch_size // self.num_processes
        start = size * self.process_id

        def local(inputs, targets):
            rows = slice(start, start + size)
            return (
                tf.ensure_shape(inputs[rows], [size, *inputs.shape[1:]]),
                tf.ensure_shape(targets[rows], [size, *targets.shape[1:]]),
            )

        dataset = dataset.filter(lambda inputs, _: tf.shape(inputs)[0] == batch_size)
        return dataset.map(local).prefetch(tf.data.AUTOTUNE)


class _Local(keras.callbacks.Callback):
    """Runs `callback`'s hooks with no distribution set (see `callbacks`)."""

    def __init__(self, callback):
        super().__init__()
        self.callback = callback

    def set_model(self, model):
        super().set_model(model)
        self.callback.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)


def _forward(hook):
    def forward(self, *args, **kwargs):
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        try:
            return getattr(self.callback, hook)(*args, **kwargs)
        finally:
            keras.distribution.set_distribution(previous)

    forward.__name__ = hook
    return forward


for _hook in (
    f"on_{part}_{event}"
    for part in ("train", "test", "predict", "epoch", "train_batch", "test_batch",
                 "predict_batch")
    for event in ("begin", "end")
):  # fmt: skip
    setattr(_Local, _hook, _forward(_hook))


def training_scope(cluster):
    """The context to build and fit the model in: `cluster`'s `DataParallel`,
    or nothing for a one-process run (`cluster=None`)."""
    return contextlib.nullcontext() if cluster is None else cluster.scope()


def join_cluster(distributed, batch_size, *, minutes=None, resume=False):
    """Joins this process to a data-parallel run, or returns `None`.

    Args:
        distributed: `False` or `None` (one process, returns `None`); `True`
            (the settings come from the `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
            `KERAS_DISTRIBUTION_NUM_PROCESSES` and
            `KERAS_DISTRIBUTION_PROCESS_ID` variables, or, when none is set,
            from JAX's cluster detection, e.g. under Slurm or Open MPI); or a
            dict with any of `"coordinator_address"` (`"host:port"` of
            process 0), `"num_processes"` and `"process_id"`, the rest read
            as for `True`. If this process already joined a cluster (a second
            `train` call, or the caller ran `keras.distribution.initialize`),
            that cluster is used; settings given must then match it.
        batch_size: int, the global batch; it must split evenly over the
            devices of all processes.
        minutes: `train`'s wall-clock budget; not supported here (each
            process has its own clock). Defaults to `None`.
        resume: `train`'s `resume`; not supported here (the backup is on
            process 0's disk only). Defaults to `False`.

    Returns:
        A `Cluster`, or `None` for a one-process run.

    Raises:
        ValueError: on a bad or missing setting, a backend other than JAX,
            `minutes` or `resume`, or a batch that does not split evenly.
        RuntimeError: if JAX already ran a computation in this process, so
            it can no longer join a cluster.
    """
    if distributed is None or distributed is False:
        return None
    settings = _settings(distributed)
    if minutes is not None:
        raise ValueError(
            "`minutes` is not supported with `distributed`: each process has "
            "its own clock, and all must stop at the same step. Use `epochs`. "
            f"Received: minutes={minutes!r}"
        )
    if resume:
        raise ValueError(
            "`resume` is not supported with `distributed`: the backup is on "
            "process 0's disk only. Start a new run."
        )
    if keras.backend.backend() != "jax":
        raise ValueError(
            "Distributed training runs on the JAX backend (keras.distribution "
            "with JAX's distributed runtime); TensorFlow's "
            "MultiWorkerMirroredStrategy does not train Keras 3 models. Set "
            "KERAS_BACKEND=jax. Received: backend "
            f"{keras.backend.backend()!r}"
        )
    _initialize(**settings)
    from jax.experimental import multihost_utils

    num_processes, process_id = _joined()
    devices = keras.distribution.list_devices()
    if isinstance(batch_size, int) and batch_size % len(devices):
        raise ValueError(
            f"`batch_size` is the global batch and must split evenly over the "
            f"{len(devices)} devices of the {num_processes} processes. "
            f"Received: batch_size={batch_size}"
        )
    if isinstance(batch_size, int):  # all processes must agree on it
        multihost_utils.assert_equal(batch_size, "the processes' `batch_size` differ")
    # Each process slices its own share (see `Cluster.local_batches`).
    distribution = keras.distribution.DataParallel(
        devices=devices, auto_shard_dataset=False
    )
    return Cluster(num_processes, process_id, distribution)


def _settings(distributed):
    """The three settings, from `distributed` first, then the environment."""
    if distributed is True:
        given = {}
    elif isinstance(distributed, dict):
        given = dict(distributed)
    else:
        raise ValueError(
            "`distributed` must be a bool or a dict with keys "
            f"{sorted(ENVIRONMENT)}. Received: distributed={distributed!r}"
        )
    unknown = sorted(set(given) - set(ENVIRONMENT))
    if unknown:
        raise ValueError(
            f"Unknown key(s) {unknown} in `distributed`. Keys: {sorted(ENVIRONMENT)}"
        )
    settings = {}
    for name, variable in ENVIRONMENT.items():
        value = given.get(name)
        source = f"distributed[{name!r}]"
        if value is None and os.environ.get(variable):
            value, source = os.environ[variable], variable
        settings[name] = _checked(name, value, source)
    missing = [name for name, value in settings.items() if value is None]
    if missing and len(missing) < len(settings):
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in missing)
        variables = ", ".join(ENVIRONMENT[name] for name in missing)
        raise ValueError(
            f"Distributed training needs all of {sorted(ENVIRONMENT)} (or none, "
            f"for JAX's cluster detection). Missing: {missing}: give {flags} "
            f"or set {variables}."
        )
    if settings["process_id"] is not None:
        if settings["process_id"] >= settings["num_processes"]:
            raise ValueError(
                "`process_id` must be in [0, num_processes). Received: "
                f"process_id={settings['process_id']}, "
                f"num_processes={settings['num_processes']}"
            )
    return settings


def _checked(name, value, source):
    if value is None:
        return None
    if name == "coordinator_address":
        host, _, port = str(value).split(",")[0].rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                "The coordinator address must be `host:port` (process 0's "
                f"address and a free port). Received: {source}={value!r}"
            )
        return str(value)
    minimum = 1 if name == "num_processes" else 0
    try:
        number = int(value) if isinstance(value, str) else value
    except ValueError:
        number = None
    if (
        isinstance(number, bool)
        or not isinstance(number, numbers.Integral)
        or number < minimum
    ):
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {source}={value!r}"
        )
    return int(number)


def _initialize(coordinator_address, num_processes, process_id):
    import jax

    if jax.distributed.is_initialized():
        joined = _joined()
        if num_processes is not None and joined != (num_processes, process_id):
            raise ValueError(
                "This process already joined a cluster as process "
                f"{joined[1]} of {joined[0]}. Received: num_processes="
                f"{num_processes}, process_id={process_id}"
            )
        return
    try:
        keras.distribution.initialize(coordinator_address, num_processes, process_id)
    except RuntimeError as error:
        if "must be called before" not in str(error):
            raise
        raise RuntimeError(
            "Distributed training must start before JAX runs anything in this "
            "process: call `train(..., distributed=...)` (or "
            "`keras.distribution.initialize`) first."
        ) from None
    except ValueError as error:  # e.g. no settings and no cluster detected
        raise ValueError(
            f"Could not join a distributed run: {error} Give --coordinator-"
            "address, --num-processes and --process-id, or set "
            f"{', '.join(ENVIRONMENT.values())}."
        ) from None


def _joined():
    import jax

    return jax.process_count(), jax.process_index()
