"""The results of `keras_chargen.search`: rows, a Markdown table, a CSV, a plot."""

import csv
import math
from pathlib import Path

from keras_chargen.models.build_char_lstm import SEARCH_SPACE
from keras_chargen.models.saving import replace_atomically

COLUMNS = (
    "trial", "status", *SEARCH_SPACE, "continues", "epochs", "seconds",
    "val_perplexity", "val_bits_per_char", "note",
)  # fmt: skip
_HEADERS = {
    "val_perplexity": "val perplexity",
    "val_bits_per_char": "val bits/char",
    "continues": "from",
}


def results_rows(oracle):
    """One dict per trial (keys `COLUMNS`), in the order the trials started."""
    rows = []
    order = [*oracle.start_order, *sorted(set(oracle.trials) - set(oracle.start_order))]
    for trial_id in order:
        trial = oracle.trials[trial_id]
        values = trial.hyperparameters.values

        def metric(name, trial=trial):
            if not trial.metrics.exists(name):
                return None
            return float(trial.metrics.get_last_value(name))

        note = ""
        if trial.status == "FAILED":
            lines = (trial.message or "").strip().splitlines()
            note = lines[-1][:200] if lines else "failed"
        elif metric("time_limited"):
            note = "stopped by the time budget"
        epochs = metric("epochs")
        rows.append(
            {
                "trial": trial_id,
                "status": trial.status,
                **{name: values.get(name) for name in SEARCH_SPACE},
                "continues": values.get("tuner/trial_id", ""),
                "epochs": None if epochs is None else int(epochs),
                "seconds": metric("seconds"),
                "val_perplexity": metric("val_perplexity"),
                "val_bits_per_char": metric("val_bits_per_char"),
                "note": note,
            }
        )
    return rows


def write_results(rows, paths, space):
    """Writes `paths["csv"]` and `paths["plot"]` atomically; returns the table."""
    replace_atomically(paths["csv"], lambda tmp: _write_csv(rows, tmp))
    plot_search(
        rows, paths["plot"], [k for k, v in space.items() if isinstance(v, list)]
    )
    return results_table(rows)


def results_table(rows):
    """A Markdown table, best val bits/char first and unscored trials last."""

    def key(row):
        bits = row["val_bits_per_char"]
        return (bits is None or not math.isfinite(bits), bits or 0.0, row["trial"])

    header = [_HEADERS.get(c, c) for c in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in sorted(rows, key=key):
        lines.append("| " + " | ".join(_format(c, row[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


def _format(column, value):
    if value is None:
        return ""
    if column == "seconds":
        return f"{value:.0f}"
    if column == "val_perplexity":
        return f"{value:.2f}"
    if column == "val_bits_per_char":
        return f"{value:.3f}"
    return str(value)


def _write_csv(rows, filepath):
    with open(filepath, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def plot_search(rows, filepath, searched):
    """Val bits/char per trial, then one scatter per searched hyperparameter."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    scored = [r for r in rows if r["val_bits_per_char"] is not None]
    scored = [r for r in scored if math.isfinite(r["val_bits_per_char"])]
    panels = 1 + len(searched)
    columns = min(panels, 3)
    grid_rows = math.ceil(panels / columns)
    # A bare Figure on its own Agg canvas (no pyplot): the caller's backend,
    # figures and rcParams stay as they were.
    fig = Figure(figsize=(5 * columns, 4 * grid_rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(grid_rows, columns, squeeze=False).ravel()
    ax = axes[0]
    index = {r["trial"]: i for i, r in enumerate(rows)}
    points = ax.scatter(
        [index[r["trial"]] for r in scored],
        [r["val_bits_per_char"] for r in scored],
        c=[r["epochs"] or 0 for r in scored],
        cmap="viridis",
    )
    failed = [index[r["trial"]] for r in rows if r not in scored]
    if failed:
        top = max((r["val_bits_per_char"] for r in scored), default=1.0)
        ax.scatter(
            failed,
            [top] * len(failed),
            marker="x",
            color="red",
            label="failed or unfinished",
        )
        ax.legend()
    if scored:
        fig.colorbar(points, ax=ax, label="epochs", ticks=MaxNLocator(integer=True))
        best = min(scored, key=lambda r: r["val_bits_per_char"])
        ax.axhline(best["val_bits_per_char"], color="gray", linestyle=":")
        ax.set_title(f"Val bits/char per trial (best {best['val_bits_per_char']:.3f})")
    ax.set_xlabel("trial (start order)")
    ax.set_ylabel("val bits/char (lower is better)")
    for ax, name in zip(axes[1:], searched, strict=False):
        ax.scatter(
            [r[name] for r in scored],
            [r["val_bits_per_char"] for r in scored],
            c=[r["epochs"] or 0 for r in scored],
            cmap="viridis",
        )
        if name == "learning_rate":
            ax.set_xscale("log")
        elif all(isinstance(r[name], int) for r in scored):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.set_xlabel(name)
        ax.set_ylabel("val bits/char")
    for ax in axes:
        ax.grid(alpha=0.3)
    for ax in axes[panels:]:
        ax.axis("off")
    fig.tight_layout()
    return replace_atomically(Path(filepath), lambda tmp: fig.savefig(tmp, dpi=90))
