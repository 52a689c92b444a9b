"""`plot_history`: the training figure, written to a PNG."""

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from keras_chargen.models.saving import replace_atomically

_LN2 = math.log(2)


def plot_history(history, filepath, title=None, summary=None):
    """Plots loss, bits/char, accuracy and learning rate per epoch to a PNG.

    Args:
        history: a dict of per-epoch lists, e.g. `model.fit(...).history`
            or a read `CSVLogger` file (`keras_chargen.train` passes the
            latter, so resumed runs plot every epoch).
        filepath: the PNG path; written atomically.
        title: Optional figure title. Defaults to `None`.
        summary: Optional dict of `label -> value` shown in a text panel.
            Defaults to `None`.

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: if `history` has no `loss` values.

    Example:

    ```python
    history = model.fit(train_ds, validation_data=val_ds, epochs=5)
    keras_chargen.plot_history(history.history, "history.png")
    ```
    """
    history = {key: list(values) for key, values in dict(history).items()}
    if not history.get("loss"):
        raise ValueError(
            "`history` must hold per-epoch `loss` values. "
            f"Received keys: {sorted(history)}"
        )
    epochs = list(range(1, len(history["loss"]) + 1))
    # A bare Figure on its own Agg canvas: no pyplot, so the caller's
    # backend, open figures and rcParams are left as they were.
    fig = Figure(figsize=(15, 8.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    ax_loss, ax_bits, ax_acc, ax_lr, ax_gap, ax_text = axes.ravel()

    _curves(ax_loss, epochs, history, "loss", "Loss (nats/char)")
    bits = {
        key: [v / _LN2 for v in history[key]]
        for key in ("loss", "val_loss")
        if key in history
    }
    _curves(ax_bits, epochs, bits, "loss", "Bits per character (lower is better)")
    _curves(ax_acc, epochs, history, "accuracy", "Next-character accuracy")
    if "learning_rate" in history:
        ax_lr.plot(epochs, history["learning_rate"], marker="o", color="tab:purple")
        ax_lr.set_yscale("log")
    ax_lr.set_title("Learning rate")
    if "val_loss" in history:
        gap = [
            (v - t) / _LN2
            for t, v in zip(history["loss"], history["val_loss"], strict=True)
        ]
        ax_gap.bar(
            epochs, gap, color=["tab:red" if g > 0 else "tab:green" for g in gap]
        )
        ax_gap.axhline(0, color="black", linewidth=0.8)
    # Training figures are epoch averages taken with dropout on, so early on
    # validation can look better than training.
    ax_gap.set_title("Gap: validation - training bits/char (> 0: overfitting)")
    for ax in (ax_loss, ax_bits, ax_acc, ax_lr, ax_gap):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    _summary_panel(ax_text, history, summary)
    if title:
        fig.suptitle(title, fontsize=14)
    fig.tight_layout()
    return replace_atomically(Path(filepath), lambda tmp: fig.savefig(tmp, dpi=100))


def _curves(ax, epochs, history, key, title):
    for name, label, style in (
        (key, "training", "-o"),
        (f"val_{key}", "validation", "-s"),
    ):
        if name in history:
            ax.plot(epochs, history[name], style, label=label, markersize=4)
    if f"val_{key}" in history:
        values = history[f"val_{key}"]
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            best = min(finite) if key == "loss" else max(finite)
            ax.axhline(best, color="gray", linestyle=":", label=f"best val {best:.3f}")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:  # none without the metric's values
        ax.legend()


def _summary_panel(ax, history, summary):
    ax.axis("off")
    lines = dict(summary or {})
    if "val_loss" in history:
        finite = [(v, i) for i, v in enumerate(history["val_loss"]) if math.isfinite(v)]
        if finite:
            best, index = min(finite)
            lines.setdefault("best epoch", index + 1)
            lines.setdefault("best val bits/char", f"{best / _LN2:.3f}")
            lines.setdefault("best val perplexity", f"{math.exp(best):.2f}")
    lines.setdefault("epochs", len(history["loss"]))
    text = "\n".join(f"{key:<22} {value}" for key, value in lines.items())
    ax.text(0.02, 0.98, "Summary\n\n" + text, va="top", family="monospace", fontsize=10)
