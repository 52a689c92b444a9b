"""`keras-chargen serve`: an HTTP server with streaming and a playground page."""

import sys

from keras_chargen.commands.common import (
    CliError,
    add_model_argument,
    load_model_argument,
    positive_int,
)


def add_parser(subparsers):
    from keras_chargen.serving.limits import Limits

    defaults = Limits()
    p = subparsers.add_parser(
        "serve",
        help="serve a trained model over HTTP (JSON, streaming, a web playground)",
        description="Serve a .keras model: POST /v1/generate (JSON or "
        "Server-Sent Events), POST /v1/score, GET /v1/model, GET /health, the "
        "playground page at / and the OpenAPI schema at /docs. Requests that "
        "run at the same time are batched together. Needs the `serve` extra.",
    )
    add_model_argument(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only)",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    limits = (
        ("--max-length", defaults.max_length, "most characters generated per prompt"),
        (
            "--max-prompt-chars",
            defaults.max_prompt_chars,
            "most characters in a prompt",
        ),
        ("--max-prompts", defaults.max_prompts, "most prompts in one request"),
        (
            "--max-concurrent",
            defaults.max_concurrent,
            "most requests at once (then 429)",
        ),
    )
    for flag, default, text in limits:
        p.add_argument(
            flag,
            type=positive_int,
            default=default,
            help=f"{text} (default: %(default)s)",
        )
    p.add_argument(
        "--max-batch",
        type=positive_int,
        default=64,
        help="most rows stepped together per sampler setting (default: %(default)s)",
    )
    p.add_argument(
        "--chunk-size",
        type=positive_int,
        default=8,
        help="characters per compiled step call; text reaches clients in pieces "
        "of this size (default: %(default)s)",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="dtype of the step's matrix products (default: %(default)s)",
    )
    p.set_defaults(run=run)


def _port(text):
    import argparse

    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(
            f"expected a port number 0-65535, got {text!r}"
        )
    return int(text)


def run(args):
    try:
        from keras_chargen.serving.app import create_app
        from keras_chargen.serving.limits import Limits
        from keras_chargen.serving.server import address, bind, make_server
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("keras_chargen"):
            raise  # a bug of ours, not a missing extra
        raise CliError(
            f"`serve` needs the serve extra ({error.name} is missing): "
            'pip install "keras-chargen[serve]"'
        ) from None
    model = load_model_argument(args)
    if args.preset is not None:  # /v1/model names and hashes the shipped file
        from keras_chargen.models.presets import preset_file

        model_path = preset_file(args.preset)
    else:
        model_path = args.model
    limits = Limits(
        max_length=args.max_length,
        max_prompt_chars=args.max_prompt_chars,
        max_prompts=args.max_prompts,
        max_concurrent=args.max_concurrent,
    )
    app = create_app(
        model,
        model_path=model_path,
        limits=limits,
        chunk_size=args.chunk_size,
        max_batch=args.max_batch,
        dtype=args.dtype,
    )
    try:
        sock = bind(args.host, args.port)
    except (OSError, OverflowError) as error:
        raise CliError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
        ) from None
    # The one line a script (or a test) reads to find the server.
    print(f"keras-chargen serve: listening on {address(sock)}", flush=True)
    try:
        make_server(app, log_level="warning").run(sockets=[sock])
    finally:
        sock.close()
    print("keras-chargen serve: stopped", file=sys.stderr)
