"""Running the app on uvicorn: in the foreground (the CLI) or in a thread.

The socket is bound here, before uvicorn starts, so that a port in use is
a clear error (not a log line and an exit), and so that port 0 (any free
port) tells its number: `BackgroundServer` is how tests, notebooks and
benchmarks start a real server on a free loopback port.
"""

import socket
import threading
import time

import uvicorn


def bind(host="127.0.0.1", port=8000):
    """A listening TCP socket on `host:port` (`port=0`: a free one).

    Raises:
        OSError: the address cannot be bound (in use, not local, ...).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def make_server(app, log_level="warning"):
    """A `uvicorn.Server` for `app`, one process, no access log."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=3,
        lifespan="on",
    )
    return uvicorn.Server(config)


def address(sock):
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class BackgroundServer:
    """Serves `app` from a thread of this process; a context manager.

    Args:
        app: an ASGI app, e.g. from `keras_chargen.serving.create_app`.
        host: Defaults to `"127.0.0.1"`.
        port: Defaults to `0`, a free port.

    Example:

    ```python
    with BackgroundServer(create_app(model)) as server:
        requests.post(server.url + "/v1/generate", json={"prompt": "The "})
    ```
    """

    def __init__(self, app, host="127.0.0.1", port=0):
        self.socket = bind(host, port)
        self.url = address(self.socket)
        self.server = make_server(app)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self, timeout=60):
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout=10):
        self.server.should_exit = True
        self._thread.join(timeout)
        self.socket.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
