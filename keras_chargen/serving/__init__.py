"""keras_chargen.serving: the HTTP server behind `keras-chargen serve`.

Needs the `serve` extra (`pip install "keras-chargen[serve]"`: FastAPI and
uvicorn); `import keras_chargen` does not import this package. `create_app(model)`
gives the FastAPI app; `BackgroundServer(app)` runs it from a thread on a
free loopback port; `Limits` holds what a request may ask. See
docs/serving.md.
"""

import importlib

from keras_chargen.serving.limits import Limits

# FastAPI and uvicorn load on first use, so that `Limits` (which the CLI's
# `--help` shows) needs neither.
_LAZY = {
    "create_app": "keras_chargen.serving.app",
    "BackgroundServer": "keras_chargen.serving.server",
}

__all__ = ["BackgroundServer", "Limits", "create_app"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
