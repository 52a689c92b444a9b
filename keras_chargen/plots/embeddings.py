"""`plot_embeddings`: a labelled 2-D PCA map of the character embeddings."""

import functools
import unicodedata
from pathlib import Path

import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from keras_chargen.evaluation.nearest_characters import (
    char_name,
    embedding_matrix,
    model_vocabulary,
)
from keras_chargen.models.saving import replace_atomically

_MAX_SPREAD_LABELS = 600
_UNBOXED = ("letter", "digit")
_BOX = {"boxstyle": "round,pad=0.2", "fc": "white", "lw": 0.7, "alpha": 0.9}
_GAP_PIXELS = 1.0
# Character classes, in legend order, with their colors.
_CLASSES = {
    "letter": "tab:blue",
    "digit": "tab:orange",
    "punctuation": "tab:green",
    "whitespace": "tab:red",
    "other": "tab:purple",
}


def plot_embeddings(model, filepath, title=None):
    """Plots the character embeddings in 2-D (PCA) to a PNG, every character labelled.

    The embedding rows of the vocabulary's characters (not the padding and
    out-of-vocabulary rows) are projected on their first two principal
    components with scikit-learn. Each character is drawn as its label,
    colored by class (letter, digit, punctuation, whitespace, other);
    whitespace and control characters get a readable name from
    `keras_chargen.char_name` (`"SPACE"`, `"NL"`, `"U+0007"`, ...), as does
    any character the plot font cannot draw. The axis labels give the share
    of variance each component explains.

    Args:
        model: a `keras_chargen.CharLM` (or a model with an `Embedding`
            layer and a `vectorizer` attribute).
        filepath: the PNG path; written atomically.
        title: Optional figure title. Defaults to `None`: a title naming
            the model and its vocabulary size.

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: if the vocabulary has fewer than 2 characters or the
            embedding fewer than 2 dimensions, or the model has no
            vocabulary or no `Embedding` layer.
        OSError: if the folder of `filepath` does not exist.

    Example:

    ```python
    model = keras.saving.load_model("run.keras")
    keras_chargen.plot_embeddings(model, "embeddings.png")
    ```
    """
    from sklearn.decomposition import PCA

    vocabulary = model_vocabulary(model)
    vectors = embedding_matrix(model)[2:]
    if len(vocabulary) < 2 or vectors.shape[1] < 2:
        raise ValueError(
            "A 2-D PCA plot needs at least 2 characters and an embedding of at "
            f"least 2 dimensions. Received: {len(vocabulary)} character(s), "
            f"embedding_dim={vectors.shape[1]}"
        )
    pca = PCA(n_components=2)
    points = pca.fit_transform(vectors.astype("float64"))
    variance = pca.explained_variance_ratio_

    # A bare Figure on its own Agg canvas (no pyplot): the caller's backend,
    # figures and rcParams stay as they were.
    fig = Figure(figsize=(13, 10))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    classes = [char_class(c) for c in vocabulary]
    ax.scatter(points[:, 0], points[:, 1], s=0)  # sets the data limits
    ax.margins(0.06)
    for kind, color in _CLASSES.items():
        count = classes.count(kind)
        if count:
            ax.scatter([], [], color=color, label=f"{kind} ({count})")
    # Outside the axes, where it cannot hide a label.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="character class")
    ax.set_xlabel(f"PC1 ({variance[0]:.1%} of variance)")
    ax.set_ylabel(f"PC2 ({variance[1]:.1%} of variance)")
    ax.grid(alpha=0.3)
    ax.set_title(
        title
        or f"Character embeddings of {model.name!r}: {len(vocabulary)} characters, "
        f"{vectors.shape[1]}-D → 2-D PCA"
    )
    fig.tight_layout()  # before the labels, which are placed in pixels
    _draw_labels(fig, ax, points, [_label(c) for c in vocabulary], classes)
    return replace_atomically(
        Path(filepath), lambda tmp: fig.savefig(tmp, dpi=100, format="png")
    )


def _draw_labels(fig, ax, points, labels, classes):
    """Draws each label near its point, spread apart so that none overlap."""
    fig.canvas.draw()  # fixes the axes' size, so data -> pixel is final
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    to_pixels = ax.transData
    anchors = to_pixels.transform(points)
    # Label boxes in pixels, frame included: about 0.62 em per character.
    font_sizes = np.array([_font_size(label) * fig.dpi / 72 for label in labels])
    widths = font_sizes * (0.62 * np.array([len(label) for label in labels]) + 0.7)
    sizes = np.stack([widths, 1.5 * font_sizes], axis=1)
    box = ax.get_window_extent()
    centers = _spread(anchors, sizes, (box.x0, box.y0, box.x1, box.y1))
    positions = to_pixels.inverted().transform(centers)
    for label, kind, point, anchor, center, position, size in zip(
        labels, classes, points, anchors, centers, positions, sizes, strict=True
    ):
        color = _CLASSES[kind]
        if np.any(np.abs(center - anchor) > size / 4):
            # Moved off its point: mark the point and draw a leader line.
            ax.plot(*point, "o", color=color, markersize=3, alpha=0.7)
            ax.plot(*zip(point, position, strict=True), color=color, lw=0.6, alpha=0.5)
        ax.text(
            *position,
            label,
            color=color,
            fontsize=_font_size(label),
            fontweight="bold",
            ha="center",
            va="center",
            parse_math=False,
            # Small marks ('.', ',', '-') and names need a frame to be seen.
            bbox=None if kind in _UNBOXED else _BOX | {"ec": color},
        )


def _font_size(label):
    return 9 if len(label) > 1 else 14


def _spread(anchors, sizes, bounds, steps=400):
    """Moves label boxes (pixel centers and sizes) apart until none overlap."""
    count = len(anchors)
    if count > _MAX_SPREAD_LABELS:
        return anchors  # O(count**2) per step: too slow for huge alphabets
    centers = anchors.astype("float64").copy()
    # Ties (labels at one spot) are broken by index, so the result is stable.
    tie = np.sign(np.arange(count)[:, None] - np.arange(count)[None, :])
    need = (sizes[:, None, :] + sizes[None, :, :]) / 2 + _GAP_PIXELS
    low = np.array(bounds[:2]) + sizes / 2
    high = np.array(bounds[2:]) - sizes / 2
    for _ in range(steps):
        offset = centers[:, None, :] - centers[None, :, :]
        overlap = need - np.abs(offset)
        clash = (overlap > 0).all(axis=-1)
        np.fill_diagonal(clash, False)
        if not clash.any():
            break
        # Push each clashing pair apart along the axis where they overlap least.
        axis = np.argmin(overlap, axis=-1)
        direction = np.where(offset == 0, tie[..., None], np.sign(offset))
        rows, cols = np.nonzero(clash)
        axes = axis[rows, cols]
        push = np.zeros_like(offset)
        push[rows, cols, axes] = (
            direction[rows, cols, axes] * overlap[rows, cols, axes] / 2
        )
        centers += 0.5 * push.sum(axis=1)
        centers = np.clip(centers, low, high)
    return centers


def char_class(char):
    """`"letter"`, `"digit"`, `"punctuation"`, `"whitespace"` or `"other"`."""
    if char.isalpha():
        return "letter"
    if char.isdigit():
        return "digit"
    if char.isspace():
        return "whitespace"
    if unicodedata.category(char).startswith("P"):
        return "punctuation"
    return "other"


def _label(char):
    name = char_name(char)
    if name == char and ord(char) not in _font_charmap():
        return f"U+{ord(char):04X}"  # the font has no glyph: not a blank box
    return name


@functools.cache
def _font_charmap():
    path = font_manager.findfont(font_manager.FontProperties())
    return FT2Font(path).get_charmap()
