"""Reliability bins of many cells pooled into one reliability curve per variant.

Each cell stores the JSON of `reliability_bins` (counts and per-bin means); pooling sums the
counts and weights each cell's means by its counts, which gives exactly the bins of all the
cells' predictions taken together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from cvn_assets.core.errors import DataSourceError

RELIABILITY_COLUMN = "reliability_bins"
_BIN_KEYS: tuple[str, ...] = ("count", "mean_predicted", "fraction_positive")


@dataclass(frozen=True)
class PooledBins:
    """One reliability curve: per-bin count and means over `cells` cells (None where a bin is empty)."""

    edges: tuple[float, ...]
    count: tuple[int, ...]
    mean_predicted: tuple[float | None, ...]
    fraction_positive: tuple[float | None, ...]
    cells: int

    @property
    def total(self) -> int:
        return int(sum(self.count))


def pool_reliability_bins(documents: Iterable[tuple[str, str | None]]) -> PooledBins | None:
    """Pool the bins of `(cell label, JSON or None)` pairs; None when no cell has bins.

    A malformed document, or cells binned with different edges, is an error naming the cell.
    """
    edges: tuple[float, ...] | None = None
    counts = predicted = positives = np.zeros(0)
    cells = 0
    for label, document in documents:
        if document is None:
            continue
        cell_edges, cell_counts, cell_predicted, cell_positive = _parse(label, document)
        if edges is None:
            edges = cell_edges
            counts, predicted, positives = (np.zeros(len(cell_counts)) for _ in range(3))
        elif cell_edges != edges:
            raise DataSourceError(
                f"{RELIABILITY_COLUMN} of {label}: bin edges {list(cell_edges)} differ from the "
                f"other cells' {list(edges)}; the bins cannot be pooled"
            )
        counts += cell_counts
        predicted += cell_counts * cell_predicted
        positives += cell_counts * cell_positive
        cells += 1
    if edges is None:
        return None
    return PooledBins(
        edges=edges,
        count=tuple(int(c) for c in counts),
        mean_predicted=tuple(float(s / c) if c else None for s, c in zip(predicted, counts, strict=True)),
        fraction_positive=tuple(float(s / c) if c else None for s, c in zip(positives, counts, strict=True)),
        cells=cells,
    )


def _parse(label: str, document: str) -> tuple[tuple[float, ...], np.ndarray, np.ndarray, np.ndarray]:
    try:
        bins = json.loads(document)
        edges = tuple(float(e) for e in bins["edges"])
        counts = np.asarray(bins["count"], dtype=float)
        # An empty bin has no means (None); it carries no weight, so 0.0 stands in for the sums.
        means = [np.asarray([0.0 if v is None else v for v in bins[key]], dtype=float) for key in _BIN_KEYS[1:]]
    except (ValueError, TypeError, KeyError) as error:
        raise DataSourceError(
            f"{RELIABILITY_COLUMN} of {label} is not valid reliability-bins JSON ({type(error).__name__}: {error})"
        ) from error
    lengths = {len(edges) - 1, counts.size, *(m.size for m in means)}
    if len(lengths) != 1 or not np.all(np.isfinite(counts)) or bool((counts < 0).any()):
        raise DataSourceError(
            f"{RELIABILITY_COLUMN} of {label}: edges, counts and means must describe the same "
            "bins, with non-negative counts"
        )
    return edges, counts, means[0], means[1]
