"""`keras_chargen.samplers.get`: a sampler from a name, a config or itself."""

import keras

from keras_chargen.samplers.beam_sampler import BeamSampler
from keras_chargen.samplers.greedy_sampler import GreedySampler
from keras_chargen.samplers.min_p_sampler import MinPSampler
from keras_chargen.samplers.random_sampler import RandomSampler
from keras_chargen.samplers.sampler import Sampler
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.samplers.top_k_sampler import TopKSampler
from keras_chargen.samplers.top_p_sampler import TopPSampler
from keras_chargen.samplers.typical_sampler import TypicalSampler

# The names `get()` knows, as KerasHub's `samplers.get` names its samplers.
SAMPLERS = {
    "beam": BeamSampler,
    "greedy": GreedySampler,
    "min_p": MinPSampler,
    "random": RandomSampler,
    "temperature": TemperatureSampler,
    "top_k": TopKSampler,
    "top_p": TopPSampler,
    "typical": TypicalSampler,
}


def get(identifier):
    """Returns a sampler from its name, its config or the sampler itself.

    As `keras_hub.samplers.get`: a name (`"beam"`, `"greedy"`, `"min_p"`,
    `"random"`, `"temperature"`, `"top_k"`, `"top_p"`, `"typical"`) gives that sampler
    with its default arguments; a dict `{"class_name": ..., "config": {...}}`
    (the `class_name` a name above, a class name such as `"TopPSampler"` or
    a registered name such as `"keras_chargen>TopPSampler"`, as
    `keras.saving.serialize_keras_object` writes it) gives that sampler
    built by `from_config`; a sampler, or any object with a
    `get_next_token(probabilities)` method, is returned as it is, and `None`
    gives `None`.

    Args:
        identifier: a str, a dict, a sampler or `None`.

    Returns:
        A sampler, or `None`.

    Raises:
        ValueError: for an unknown name or class name, or an identifier of
            any other kind.

    Example:

    ```python
    sampler = keras_chargen.samplers.get("top_p")
    sampler = keras_chargen.samplers.get(
        {"class_name": "min_p", "config": {"min_p": 0.05, "seed": 1}}
    )
    ```
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in SAMPLERS:
            raise ValueError(
                f"Unknown sampler name. Known names: {_known(SAMPLERS)}. "
                f"Received: identifier={identifier!r}"
            )
        return SAMPLERS[identifier]()
    if isinstance(identifier, dict):
        return _from_dict(identifier)
    if isinstance(identifier, Sampler | BeamSampler) or callable(
        getattr(identifier, "get_next_token", None)
    ):
        return identifier
    raise ValueError(
        "`identifier` must be a sampler name, a config dict, a sampler or None. "
        f"Received: identifier={identifier!r:.60}"
    )


def _from_dict(identifier):
    name = identifier.get("registered_name") or identifier.get("class_name")
    cls = _class_named(name)
    if cls is None:
        raise ValueError(
            f"Unknown sampler class_name. Known names: {_known(SAMPLERS)}, their "
            "class names, or a registered Sampler subclass. "
            f"Received: class_name={name!r}"
        )
    return cls.from_config(identifier.get("config") or {})


def _class_named(name):
    if not isinstance(name, str):
        return None
    if name in SAMPLERS:
        return SAMPLERS[name]
    by_class_name = {cls.__name__: cls for cls in SAMPLERS.values()}
    by_class_name["Sampler"] = Sampler
    if name in by_class_name:
        return by_class_name[name]
    # A registered name: ours ("keras_chargen>TopPSampler") or a user's own
    # Sampler subclass.
    cls = keras.saving.get_registered_object(name)
    return (
        cls
        if isinstance(cls, type) and issubclass(cls, Sampler | BeamSampler)
        else None
    )


def _known(names):
    return ", ".join(repr(name) for name in sorted(names))
