"""The `keras-chargen` entry point, outside the package on purpose.

TensorFlow's C++ start-up lines are written to file descriptor 2 while
`import tensorflow` runs, and `import keras_chargen` imports Keras (and so
TensorFlow on its backend). Only a module outside the package can hide them
before that import: this one, which needs nothing but the standard library.
`keras_chargen.commands.cli.main` does the same for in-process callers.
"""

import contextlib
import os
import sys
import tempfile


def main(argv=None):
    """Runs `keras-chargen ARGV`; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    quiet = contextlib.nullcontext() if wants_verbose(argv) else native_stderr_hidden()
    with quiet:
        from keras_chargen.commands.cli import run

        return run(argv)


def wants_verbose(argv):
    """Whether `--verbose` (or an abbreviation) comes before the command."""
    for token in argv:
        if not token.startswith("-"):
            return False  # the command: what follows are its own options
        if len(token) > 2 and "--verbose".startswith(token):
            return True
    return False


@contextlib.contextmanager
def native_stderr_hidden():
    """Hides what native code writes to stderr; Python's `sys.stderr` still shows.

    TensorFlow's C++ start-up lines ("All log messages before
    absl::InitializeLog() ...", oneDNN, CUDA drivers, CPU features) are
    written to file descriptor 2 during `import tensorflow` and the first
    operations, and `TF_CPP_MIN_LOG_LEVEL` does not stop all of them. So
    descriptor 2 points at a temporary file while the block runs, and
    `sys.stderr` (warnings, tracebacks, our error messages) writes to the
    real stderr. Both are restored afterwards. If the block raises an
    unexpected exception, the hidden lines are shown before it, since they
    may explain it.
    """
    sys.stderr.flush()
    python_stderr, stand_in = sys.stderr, None
    real_fd = os.dup(2)
    with tempfile.TemporaryFile() as hidden:
        try:
            if _writes_to_fd(python_stderr, 2):
                stand_in = sys.stderr = _RealStderr(python_stderr, real_fd)
            os.dup2(hidden.fileno(), 2)
            yield
        except Exception:
            sys.stderr.flush()
            hidden.seek(0)
            with open(real_fd, "wb", closefd=False) as real:
                real.write(hidden.read())
            raise
        finally:
            if stand_in is not None:
                stand_in.release()
            sys.stderr = python_stderr
            os.dup2(real_fd, 2)
            os.close(real_fd)


def _writes_to_fd(stream, fd):
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError):  # e.g. pytest's capture
        return False


class _RealStderr:
    """`sys.stderr` while descriptor 2 is hidden.

    Writes to a copy of the real descriptor 2. A logging handler created
    meanwhile may keep this object: after `release()` it forwards to the
    `sys.stderr` it stood in for.
    """

    def __init__(self, original, fd):
        self._original = original
        self._file = open(  # closed by release()
            fd,
            "w",
            encoding=original.encoding,
            errors=original.errors,
            buffering=1,  # lines
            closefd=False,
        )

    def release(self):
        self._file.close()  # closefd=False: the descriptor stays open
        self._file = self._original

    def write(self, text):
        return self._file.write(text)

    def __getattr__(self, name):  # flush, fileno, isatty, encoding, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._file, name)


if __name__ == "__main__":
    sys.exit(main())
