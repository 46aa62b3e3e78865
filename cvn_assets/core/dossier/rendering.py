"""Which figures a dossier has, and where they are drawn: here, or wherever `submit` sends them.

matplotlib loads only where a figure is drawn: a sweep draws its dossiers' figures in its idle worker
processes, so its own process never imports it (about a second).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from cvn_assets.core.dossier.build import Dossier
from cvn_assets.core.dossier.figure_names import CONFIDENCE_INTERVALS, HEATMAP, RELIABILITY

# An executor's `submit`: `submit(draw_figure, name, dossier)` is the Future of that figure's PNG bytes.
Submit = Callable[..., "Future[bytes]"]


def figure_names(dossier: Dossier) -> list[str]:
    """The figures a dossier has: none without variants, reliability diagrams only with bins."""
    if not dossier.variants:
        return []
    names = [HEATMAP, CONFIDENCE_INTERVALS]
    if any(d.baseline_bins or d.variant_bins for d in dossier.variants):
        names.append(RELIABILITY)
    return names


def draw_figure(name: str, dossier: Dossier) -> bytes:
    """PNG bytes of one of the dossier's figures."""
    from cvn_assets.core.dossier.figures import DRAWERS  # imports matplotlib: only where figures are drawn

    return DRAWERS[name](dossier)


def render_figures(dossier: Dossier, submit: Submit | None = None) -> dict[str, bytes]:
    """PNG bytes by figure name; a figure with nothing to show is left out.

    `submit` (an executor's) draws the figures elsewhere, e.g. at once in idle worker processes; by
    default they are drawn here, one after the other.
    """
    names = figure_names(dossier)
    if submit is None:
        return {name: draw_figure(name, dossier) for name in names}
    futures = {name: submit(draw_figure, name, dossier) for name in names}
    return {name: future.result() for name, future in futures.items()}
