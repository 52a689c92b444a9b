"""Quality against time: held-out bits/char after N minutes of CPU training.

Trains `keras_chargen.train` with its default settings on tiny-shakespeare
(first 90% train, last 10% held out) under a wall-clock budget and reports:

- validation bits/char per epoch against wall-clock minutes (the curve),
- the final model scored by `keras_chargen.evaluate` on the held-out tail
  with its full preceding context (state carried across the whole tail,
  not restarted every 100 characters as in training's validation),
- the same tail under dynamic evaluation (`evaluate(..., adapt=True)`),
- both again on the tail after its first 20,000 characters, which were used
  to choose dynamic evaluation's settings (full text only),
- reference points on the same split: an order-5 character n-gram model
  (`keras_chargen.evaluate`'s baseline) and PPMd (7-Zip, order 6), whose
  ~2.03 bits/char on tiny-shakespeare's last 10% is quoted from
  ../shared/corpora/README.md, not re-measured here.

Run from the repository root (needs ../shared/corpora/tinyshakespeare.txt):

    python benchmarks/quality.py                        # ~20 minutes in all
    python benchmarks/quality.py --characters 150000    # the first 150k only
    python benchmarks/quality.py --label L --rescore    # re-score run L's model
    # fine-tuning the shakespeare preset vs training from scratch, equal minutes,
    # on a book-size slice of another corpus (the embedded pydoc text here):
    python benchmarks/quality.py --corpus pydoc --start 200000 --characters 150000 \
        --minutes 15 --init-from shakespeare

Writes benchmarks/results/quality-<label>.{keras,csv,png,json}.
"""

import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import keras_chargen  # noqa: E402
from keras_chargen.training.callbacks import read_log  # noqa: E402

# ---- settings ----
MINUTES = 15.0  # the budget
CORPUS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
)
PPMD_BITS = 2.03  # PPMd order 6, tiny-shakespeare's last 10% (corpora README)
RESULTS = Path(__file__).resolve().parent / "results"
TUNING_CHARS = 20_000  # the tail's head, on which dynamic evaluation was tuned
# ----


def flag(text):
    if text not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"expected 0 or 1, got {text!r}")
    return text == "1"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=MINUTES)
    parser.add_argument(
        "--corpus",
        default=str(CORPUS),
        help="a file or a corpus name for keras_chargen.load_corpus "
        "(default: tiny-shakespeare)",
    )
    parser.add_argument(
        "--start", type=int, default=0, help="skip the first N characters"
    )
    parser.add_argument(
        "--characters", type=int, help="use only the first N characters"
    )
    parser.add_argument(
        "--init-from",
        help="also fine-tune this model file or preset for the same minutes, "
        "and compare it with training from scratch",
    )
    parser.add_argument("--label", help="name of the result files")
    parser.add_argument("--units", type=int, help="override lstm_units")
    parser.add_argument("--layers", type=int, help="override num_layers")
    parser.add_argument("--embedding-dim", type=int)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument(
        "--variational-dropout", type=flag, metavar="{0,1}",
        help="override variational_dropout",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cell", choices=("lstm", "gru"))
    parser.add_argument(
        "--layer-norm", type=flag, metavar="{0,1}", help="override layer_norm"
    )
    parser.add_argument(
        "--anneal", type=flag, metavar="{0,1}", help="override train(anneal=...)"
    )
    parser.add_argument(
        "--dynamic",
        type=flag,
        metavar="{0,1}",
        default=True,
        help="also score with dynamic evaluation (default: 1; 0 records NaN)",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="skip training: score the model an earlier run with this --label saved",
    )
    args = parser.parse_args()
    overrides = {
        k: v
        for k, v in (
            ("lstm_units", args.units),
            ("num_layers", args.layers),
            ("embedding_dim", args.embedding_dim),
            ("dropout", args.dropout),
            ("learning_rate", args.learning_rate),
            ("weight_decay", args.weight_decay),
            ("variational_dropout", args.variational_dropout),
            ("cell", args.cell),
            ("layer_norm", args.layer_norm),
            ("anneal", args.anneal),
        )  # fmt: skip
        if v is not None
    }
    text = read_corpus(args.corpus)
    end = None if args.characters is None else args.start + args.characters
    text = text[args.start : end]
    name = Path(args.corpus).stem if Path(args.corpus).exists() else args.corpus
    label = args.label or f"{name.removeprefix('tiny')}-{len(text) // 1000}k"
    RESULTS.mkdir(exist_ok=True)
    runs = [(label, None)]
    if args.init_from:
        runs = [
            (f"{label}-scratch", None),
            (f"{label}-from-{Path(args.init_from).stem}", args.init_from),
        ]
    results = [
        measure(text, run_label, args, overrides, init_from)
        for run_label, init_from in runs
    ]
    if len(results) == 2:
        plot_comparison(results, RESULTS / f"quality-{label}-fine-tuning.png")
        for result in results:
            print(f"{result['label']}: held-out {result['heldout']['bits_per_char']:.3f} "
                  f"frozen, {result['heldout_adaptive']['bits_per_char']:.3f} dynamic")  # fmt: skip


def read_corpus(source):
    if Path(source).exists():
        return Path(source).read_text(encoding="utf-8")
    return keras_chargen.load_corpus(source, verbose=False)


def measure(text, label, args, overrides, init_from):
    """Trains (or re-scores) one model on `text` and reports its quality."""
    output = RESULTS / f"quality-{label}.keras"
    if args.rescore:
        earlier = json.loads(output.with_suffix(".json").read_text())
        model = keras.saving.load_model(output)
        summary, overrides = earlier["training"], earlier["overrides"]
    else:
        model, summary = train_model(
            text, output, args.minutes, args.batch_size, overrides, init_from
        )

    split = len(text) - round(len(text) * 0.1)
    tail, untuned = text[split:], text[split + TUNING_CHARS :]
    report = keras_chargen.evaluate(
        model, tail, train_text=text[:split], num_generations=8, verbose=0
    )
    # Dynamic evaluation: the same tail, predicted character by character
    # while the model keeps learning from what it has already scored; the
    # protocol of PPMd's figure (the whole file coded after the first 90%).
    adaptive = dynamic(model, tail, args.dynamic)
    # Dynamic evaluation's settings were chosen on the full text's tail's
    # first TUNING_CHARS characters: score the rest on its own, from a zero
    # state (not with --characters, whose tail is another stretch of text).
    untuned_tail = None
    if args.characters is None:
        untuned_tail = {
            "characters": len(untuned),
            "frozen_bits_per_char": keras_chargen.evaluate(model, untuned, verbose=0)[
                "bits_per_char"
            ],
            "adaptive_bits_per_char": dynamic(model, untuned, args.dynamic)[
                "bits_per_char"
            ],
        }
    log = read_log(output.with_suffix(".csv"))
    result = {
        "label": label,
        "init_from": init_from,
        "corpus": args.corpus,
        "start": args.start,
        "whole_tinyshakespeare": args.corpus == str(CORPUS)
        and args.start == 0
        and args.characters is None,
        "characters": len(text),
        "minutes_budget": args.minutes,
        "overrides": overrides,
        "training": summary,
        "heldout": report,
        "heldout_adaptive": {
            k: adaptive[k] for k in ("bits_per_char", "perplexity", "accuracy")
        },
        "untuned_tail": untuned_tail,
        "curve": [
            {"minutes": round(m, 2), "epoch": i + 1, "val_bits_per_char": round(b, 4)}
            for i, (m, b) in enumerate(
                zip(log["wall_minutes"], log["val_bits_per_char"], strict=True)
            )
        ],
    }
    output.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    plot(result, output.with_suffix(".curve.png"))
    print_report(result)
    return result


def dynamic(model, text, enabled):
    """Dynamic evaluation's figures, or NaN ones when it is switched off."""
    if not enabled:
        return dict.fromkeys(("bits_per_char", "perplexity", "accuracy"), math.nan)
    return keras_chargen.evaluate(model, text, adapt=True, verbose=0)


def train_model(text, output, minutes, batch_size, overrides, init_from=None):
    # A fresh run each time: drop the log and backup of an earlier one.
    output.with_suffix(".csv").unlink(missing_ok=True)
    shutil.rmtree(output.with_suffix(".backup"), ignore_errors=True)
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        corpus.write_text(text, encoding="utf-8")
        return keras_chargen.train(
            str(corpus), output, minutes=minutes, init_from=init_from,
            batch_size=batch_size, verbose=2, sample_length=300, **overrides,
        )  # fmt: skip


def plot(result, path):
    minutes = [p["minutes"] for p in result["curve"]]
    bits = [p["val_bits_per_char"] for p in result["curve"]]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(
        minutes, bits, "-o", label="validation (100-char windows from a zero state)"
    )
    heldout = result["heldout"]
    ax.axhline(heldout["bits_per_char"], color="tab:green", linestyle="-",
               label=f"final model, full context: {heldout['bits_per_char']:.3f}")  # fmt: skip
    ax.axhline(result["heldout_adaptive"]["bits_per_char"], color="tab:purple",
               label="final model, full context, dynamic evaluation: "
               f"{result['heldout_adaptive']['bits_per_char']:.3f}")  # fmt: skip
    if result["whole_tinyshakespeare"]:  # the quoted figure is for that tail
        ax.axhline(
            PPMD_BITS,
            color="tab:red",
            linestyle="--",
            label=f"PPMd order 6 (quoted): {PPMD_BITS}",
        )
    if "ngram_bits_per_char" in heldout:
        ax.axhline(heldout["ngram_bits_per_char"], color="tab:gray", linestyle=":",
                   label=f"order-{heldout['ngram_order']} n-gram: {heldout['ngram_bits_per_char']:.3f}")  # fmt: skip
    ax.set_xlabel("wall-clock minutes of training (2 CPU cores)")
    ax.set_ylabel("held-out bits per character")
    lowest = min(b for b in [*bits, result["heldout_adaptive"]["bits_per_char"]]
                 if math.isfinite(b))  # fmt: skip
    ax.set_ylim(lowest - 0.2, min(max(bits), 4.0) + 0.1)
    ax.set_title(f"{result['label']}: bits/char vs minutes")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_comparison(results, path):
    """Validation bits/char against minutes, one curve per run."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for result, color in zip(results, ("tab:blue", "tab:orange"), strict=False):
        minutes = [p["minutes"] for p in result["curve"]]
        bits = [p["val_bits_per_char"] for p in result["curve"]]
        heldout = result["heldout"]["bits_per_char"]
        ax.plot(minutes, bits, "-o", color=color, label=f"{result['label']} "
                f"(final, full context: {heldout:.3f})")  # fmt: skip
    ax.set_xlabel("wall-clock minutes of training (2 CPU cores)")
    ax.set_ylabel("validation bits per character")
    ax.set_title("Fine-tuning vs training from scratch, equal minutes")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def print_report(result):
    print("\n| minutes | epoch | val bits/char |")
    print("|---:|---:|---:|")
    for point in result["curve"]:
        print(
            f"| {point['minutes']:.1f} | {point['epoch']} | {point['val_bits_per_char']:.3f} |"
        )
    heldout = result["heldout"]
    print(f"\nHeld-out tail, full context: {heldout['bits_per_char']:.3f} bits/char, "
          f"perplexity {heldout['perplexity']:.2f}, accuracy {heldout['accuracy']:.3f}")  # fmt: skip
    adaptive = result["heldout_adaptive"]
    print(f"Held-out tail, dynamic evaluation: {adaptive['bits_per_char']:.3f} bits/char, "
          f"perplexity {adaptive['perplexity']:.2f}, accuracy {adaptive['accuracy']:.3f}")  # fmt: skip
    untuned = result["untuned_tail"]
    if untuned:
        print(f"Tail after its first {TUNING_CHARS:,} characters ({untuned['characters']:,}, "
              f"not used to choose the adaptation settings), from a zero state: "
              f"{untuned['frozen_bits_per_char']:.3f} frozen, "
              f"{untuned['adaptive_bits_per_char']:.3f} dynamic")  # fmt: skip
    for key in ("ngram_bits_per_char", "unigram_bits_per_char"):
        if key in heldout:
            print(f"{key}: {heldout[key]:.3f}")
    if result["whole_tinyshakespeare"]:
        print(f"PPMd order 6 (quoted): {PPMD_BITS}")
    best = min(p["val_bits_per_char"] for p in result["curve"])
    print(
        f"Best validation bits/char: {best:.3f}; {math.ceil(result['minutes_budget'])} min budget"
    )


if __name__ == "__main__":
    main()
