"""The house style of every figure: a seaborn theme for papers, one color per schedule, the paper's
symbols on the axes, and uncertainty bands.

Draw functions make their figures with ``subplots`` (which applies the theme, so a figure looks the
same whether a job, the CLI or a test draws it), take each schedule's color from ``colors`` and
shade an estimate's uncertainty with ``band``.
"""

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .palette import PALETTE, schedule_colors

# Axis labels with the paper's symbols (its eq. 2). Losses are cross-entropies, in nats.
LABELS = {
    "train_loss": r"training loss $L(\theta)$",
    "loss": r"loss $L(\theta)$",
    "grad_norm": r"gradient norm $\|\nabla L(\theta)\|$",
    "noise": r"gradient noise $\sigma(\theta)$",
    "sharpness": r"sharpness $\lambda_{\max}(\nabla^2 L)$",
    "epoch": "epoch",
    "step": "step",
    "samples": "samples $m$",
    "tokens": r"tokens ($m \times$ tgt_len)",
    "iteration": "iteration $t$",
}
# Short column titles of the four statistics (the symbols are on the y axes).
TITLES = {
    "train_loss": "training loss",
    "loss": "loss",
    "grad_norm": "gradient norm",
    "noise": "gradient noise",
    "sharpness": "sharpness",
}
BAND_ALPHA = 0.2  # light enough that overlapping bands of two schedules stay readable


def apply_theme() -> None:
    """Set seaborn's paper theme (ticks, the schedule palette, no top or right spine)."""
    sns.set_theme(
        context="paper",
        style="ticks",
        palette=list(PALETTE),
        font_scale=1.15,
        rc={
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "lines.linewidth": 1.4,
            "mathtext.fontset": "dejavusans",  # the same face as the text around the symbols
            "savefig.dpi": 200,
        },
    )


def subplots(rows: int, cols: int, panel: tuple[float, float] = (3.2, 2.5), **options):
    """A themed figure of rows × cols panels of ``panel`` inches each (axes always 2-D)."""
    apply_theme()
    size = (panel[0] * cols, panel[1] * rows)
    # constrained layout keeps row labels, legends and colorbars clear of the panels
    return plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained", **options)


def colors(sources: list[dict] | None) -> dict[str, str]:
    """Each schedule's color, the same in every figure of a study and in its W&B report.

    The order is the study's (``schedule_order``, which ``StudyPlan.figure_sources`` passes), so a
    schedule keeps its color across figures; sources without it fall back to their own order.
    """
    order = [name for source in sources or [] for name in source.get("schedule_order", [])]
    for source in sources or []:
        order += list(source.get("schedules", []))
        order += [parent for parent, _ in source.get("branches", {}).values()]
    return schedule_colors(order)


def spans_decades(values) -> bool:
    """Whether the finite values are positive and span a factor of 10 or more (log reads better)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return len(finite) > 1 and bool((finite > 0).all()) and finite.max() >= 10 * finite.min()


def compact(value: float, _position=None) -> str:
    """A tick label in plain numbers: 64, 2k, 160k, 1.5M, 0.01."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def log_axis(ax: plt.Axes, axis: str, values) -> None:
    """Put ``axis`` ("x" or "y") on a log scale with plain-number ticks: 1-2-5 steps within two
    decades (every digit within one), one per decade beyond, so that labels never collide."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    decades = np.log10(finite.max() / finite.min()) if len(finite) else 0.0
    subs = np.arange(1.0, 10.0) if decades < 1 else (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
    getattr(ax, f"set_{axis}scale")("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(compact))
    target.set_minor_formatter(NullFormatter())


def half_width(frame) -> np.ndarray | None:
    """The band's half-width per row: 2·se plus the solver's bound where finite; None if neither."""
    parts = [
        factor * np.nan_to_num(frame[column].to_numpy(dtype=float), nan=0.0, posinf=0.0)
        for column, factor in (("se", 2.0), ("bound", 1.0))
        if column in frame
    ]
    if not parts:
        return None
    width = np.sum(parts, axis=0)
    return width if (width > 0).any() else None


def band(ax: plt.Axes, x, frame, color: str) -> bool:
    """Shade value ± (2·se + bound) of a sorted curve; whether anything was drawn."""
    width = half_width(frame)
    if width is None:
        return False
    value = frame["value"].to_numpy(dtype=float)
    lower, upper = value - width, value + width
    if ax.get_yscale() == "log":  # a band reaching 0 would stretch a log axis over decades
        lower = np.maximum(lower, value / 10)
    ax.fill_between(np.asarray(x, dtype=float), lower, upper, color=color, alpha=BAND_ALPHA, lw=0)
    return True


def grid(row_titles: list[str], cols: int, panel: tuple[float, float] = (3.2, 2.4)):
    """A themed figure of one titled row of ``cols`` panels per row title; axes rows × cols."""
    apply_theme()
    size = (panel[0] * cols, (panel[1] + 0.35) * len(row_titles))
    fig = plt.figure(figsize=size, layout="constrained")
    rows = fig.subfigures(len(row_titles), 1, squeeze=False)[:, 0]
    axes = []
    for row, title in zip(rows, row_titles, strict=True):
        axes.append(row.subplots(1, cols, squeeze=False)[0])
        # a row's title names its run (the paper: one row per learning rate), left-aligned
        row.suptitle(title, x=0.01, ha="left", fontweight="bold")
    return fig, np.array(axes)


def legend(ax: plt.Axes, **options) -> None:
    """A small frameless legend where Matplotlib finds room, if anything is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, **{"fontsize": "small", **options})
