"""The dossier's figures as PNG bytes: Δf1_buy heat maps, reliability diagrams and the CI plot.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, so no global backend or figure
state), and saved without the software/date metadata, so the same dossier gives the same bytes.
"""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cvn_assets.core.dossier.build import Dossier, VariantDetail
from cvn_assets.core.dossier.calibration import PooledBins
from cvn_assets.core.dossier.figure_names import CONFIDENCE_INTERVALS, HEATMAP, RELIABILITY

FIGURE_DPI = 90
PANEL_INCHES = 3.6
MAX_PANEL_COLUMNS = 3
VERDICT_COLOURS = {"LOCK": "#1a7f37", "KEEP_AVAILABLE": "#9a6700", "ABANDON": "#cf222e", "INCONCLUSIVE": "#57606a"}
BASELINE_COLOUR = "#57606a"
VARIANT_COLOUR = "#0969da"


def heatmap_png(dossier: Dossier) -> bytes:
    """Δf1_buy (variant − baseline) per crypto × fold, one panel per variant; excluded cells grey, marked "excl."."""
    matrices = [_delta_matrix(dossier, detail) for detail in dossier.variants]
    finite = np.concatenate([m[np.isfinite(m)] for m in matrices] + [np.zeros(1)])
    limit = max(float(np.abs(finite).max()), 0.01)
    figure, axes = _panels(len(matrices), height=0.45 * len(dossier.cryptos) + 1.4)
    image = None
    for ax, detail, matrix in zip(axes, dossier.variants, matrices, strict=False):
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_facecolor("#d0d7de")
        ax.set_xticks(range(len(dossier.folds)), dossier.folds)
        ax.set_yticks(range(len(dossier.cryptos)), dossier.cryptos)
        ax.set_title(f"{detail.verdict.variant} − {dossier.baseline}", fontsize=10)
        for (row, column), value in np.ndenumerate(matrix):
            text = "excl." if math.isnan(value) else f"{value:+.3f}"
            colour = "white" if not math.isnan(value) and abs(value) > 0.6 * limit else "black"
            ax.text(column, row, text, ha="center", va="center", fontsize=7, color=colour)
    if image is not None:
        figure.colorbar(image, ax=list(axes), shrink=0.85, label="Δf1_buy")
    figure.suptitle(f"{dossier.factor}: Δf1_buy per crypto × fold ({dossier.model})", fontsize=11)
    return _png(figure)


def reliability_png(dossier: Dossier) -> bytes:
    """Pooled reliability curves, baseline vs each variant over the variant's paired cells, each above
    the number of test rows per bin (a point resting on few rows says little)."""
    count = len(dossier.variants)
    columns = min(count, MAX_PANEL_COLUMNS)
    rows = math.ceil(count / columns)
    figure = Figure(
        figsize=(PANEL_INCHES * columns + 1.0, (PANEL_INCHES + 1.6) * rows), dpi=FIGURE_DPI, layout="constrained"
    )
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2 * rows, columns, height_ratios=[3, 1] * rows)
    for index, detail in enumerate(dossier.variants):
        row, column = divmod(index, columns)
        curve = figure.add_subplot(grid[2 * row, column])
        counts = figure.add_subplot(grid[2 * row + 1, column], sharex=curve)
        curve.plot([0, 1], [0, 1], linestyle="--", color="#8c959f", linewidth=1, label="perfect calibration")
        sides = (
            (detail.baseline_bins, dossier.baseline, BASELINE_COLOUR, "o", -1),
            (detail.variant_bins, detail.verdict.variant, VARIANT_COLOUR, "s", 1),
        )
        for bins, name, colour, marker, side in sides:
            if bins is None:
                continue
            x, y = _curve(bins)
            curve.plot(
                x,
                y,
                marker=marker,
                color=colour,
                linewidth=1.5,
                markersize=4,
                label=f"{name} ({bins.total} rows, {bins.cells} cells)",
            )
            width = (bins.edges[1] - bins.edges[0]) * 0.4
            centres = [(low + high) / 2 + side * width / 2 for low, high in itertools.pairwise(bins.edges)]
            counts.bar(centres, bins.count, width=width, color=colour)
        if detail.baseline_bins is None and detail.variant_bins is None:
            curve.text(0.5, 0.5, "no reliability bins", ha="center", va="center", transform=curve.transAxes)
        curve.set_xlim(0, 1)
        curve.set_ylim(0, 1)
        curve.set_ylabel("fraction BUY")
        curve.set_title(f"{detail.verdict.variant} vs {dossier.baseline}", fontsize=10)
        curve.legend(loc="upper left", fontsize=7)
        curve.tick_params(labelbottom=False)
        counts.set_xlabel("mean predicted P(BUY)")
        counts.set_ylabel("rows", fontsize=8)
    figure.suptitle(f"{dossier.factor}: reliability on the test windows ({dossier.model})", fontsize=11)
    return _png(figure)


def confidence_interval_png(dossier: Dossier) -> bytes:
    """Mean Δf1_buy per variant with its CI, against 0 and the required lift."""
    details = dossier.variants
    thresholds = dossier.thresholds
    figure = Figure(figsize=(7.0, 1.2 + 0.55 * len(details)), dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for position, detail in enumerate(details):
        verdict = detail.verdict
        colour = VERDICT_COLOURS.get(str(verdict.verdict), BASELINE_COLOUR)
        if not (math.isnan(verdict.ci_low) or math.isnan(verdict.ci_high)):
            ax.plot([verdict.ci_low, verdict.ci_high], [position, position], color=colour, linewidth=3)
        if not math.isnan(verdict.mean_delta_f1):
            ax.plot([verdict.mean_delta_f1], [position], marker="o", color=colour, markersize=7)
    ax.axvline(0.0, color="black", linewidth=1)
    ax.axvline(
        thresholds.min_mean_delta_f1,
        color=VERDICT_COLOURS["LOCK"],
        linestyle="--",
        linewidth=1,
        label=f"required lift {thresholds.min_mean_delta_f1:+.3f}",
    )
    ax.set_yticks(range(len(details)), [f"{d.verdict.variant}\n{d.verdict.verdict}" for d in details])
    ax.set_ylim(len(details) - 0.5, -0.5)
    ax.set_xlabel(f"mean Δf1_buy vs {dossier.baseline} with CI{thresholds.ci_level * 100:g} ({thresholds.inference})")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{dossier.factor}: Δf1_buy per variant ({dossier.model})", fontsize=11)
    return _png(figure)


def _delta_matrix(dossier: Dossier, detail: VariantDetail) -> np.ndarray:
    matrix = np.full((len(dossier.cryptos), len(dossier.folds)), np.nan)
    rows = {crypto: i for i, crypto in enumerate(dossier.cryptos)}
    columns = {fold: j for j, fold in enumerate(dossier.folds)}
    for (crypto, fold), delta in detail.pairs["delta_f1_buy"].items():
        matrix[rows[str(crypto)], columns[str(fold)]] = float(delta)
    return matrix


def _curve(bins: PooledBins) -> tuple[list[float], list[float]]:
    points = [
        (x, y)
        for x, y in zip(bins.mean_predicted, bins.fraction_positive, strict=True)
        if x is not None and y is not None
    ]
    return [x for x, _ in points], [y for _, y in points]


def _panels(count: int, height: float) -> tuple[Figure, list[Axes]]:
    columns = min(count, MAX_PANEL_COLUMNS)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(PANEL_INCHES * columns + 1.0, height * rows), dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, columns, squeeze=False)
    axes = list(grid.flat)
    for unused in axes[count:]:
        unused.set_visible(False)
    return figure, axes[:count]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return buffer.getvalue()


DRAWERS = {HEATMAP: heatmap_png, CONFIDENCE_INTERVALS: confidence_interval_png, RELIABILITY: reliability_png}
