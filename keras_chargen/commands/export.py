"""`keras-chargen export`: a step model for ONNX Runtime, LiteRT or SavedModel."""

from pathlib import Path

from keras_chargen.commands.common import (
    CliError,
    add_model_argument,
    load_model_argument,
    positive_int,
)

# The command's names for Keras' `Model.export` formats.
FORMATS = {"savedmodel": "tf_saved_model", "onnx": "onnx", "litert": "litert"}


def add_parser(subparsers):
    p = subparsers.add_parser(
        "export",
        help="export the one-step model (SavedModel, ONNX, LiteRT)",
        description="Export the model's one-step function, (token_ids, *states) "
        "-> (logits, *new_states), with its vocabulary and settings in "
        "step_model.json, to a new folder. Runs on the TensorFlow backend. "
        "See docs/deploy.md for the driver loop that runs it without Keras.",
    )
    add_model_argument(p)
    p.add_argument(
        "--format", required=True, choices=list(FORMATS), help="the artifact's format"
    )
    p.add_argument("--output", required=True, help="the folder to create")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        help="a fixed batch size (default: any for savedmodel and onnx, 1 for litert)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing --output"
    )
    p.set_defaults(run=run)


def run(args):
    from keras_chargen.export.export_step_model import (
        MODEL_FILES,
        export_step_model,
        require_modules,
    )

    format = FORMATS[args.format]
    output = Path(args.output)
    # Everything that can be checked before the model loads is checked first.
    try:
        require_modules(format)
    except ImportError as error:
        raise CliError(str(error)) from None
    if output.exists() and not args.overwrite:
        raise CliError(
            f"--output {args.output!r} exists (pass --overwrite to replace it)"
        )
    if not output.resolve().parent.is_dir():
        raise CliError(f"folder of --output {args.output!r} does not exist")
    model = load_model_argument(args)
    try:
        path = export_step_model(
            model,
            output,
            format=format,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise CliError(
            f"cannot write --output {args.output!r}: {reason}; nothing was written"
        ) from None
    size = _size(path / MODEL_FILES[format])
    print(f"Wrote {path} ({args.format}, {MODEL_FILES[format]}: {size:,} bytes)")


def _size(path):
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
