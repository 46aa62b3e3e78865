"""The names of a dossier's figures (also their file names, without the .png)."""

HEATMAP = "delta_f1_heatmap"
RELIABILITY = "reliability"
CONFIDENCE_INTERVALS = "delta_f1_ci"
FIGURE_NAMES: tuple[str, ...] = (HEATMAP, CONFIDENCE_INTERVALS, RELIABILITY)
