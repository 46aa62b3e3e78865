"""Pooling reliability bins over cells gives exactly the bins of all their predictions together."""

import json

import numpy as np
import pytest

from cvn_assets.core.dossier import pool_reliability_bins
from cvn_assets.core.errors import DataSourceError
from cvn_assets.core.metrics import reliability_bins


def _cells(sizes: tuple[int, ...], seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    cells = []
    for size in sizes:
        p = rng.beta(2, 5, size)
        cells.append(((rng.uniform(0, 1, size) < p).astype(int), p))
    return cells


def test_pooled_bins_equal_the_bins_of_the_concatenated_predictions() -> None:
    cells = _cells((50, 300, 7))
    pooled = pool_reliability_bins((f"cell {i}", json.dumps(reliability_bins(y, p))) for i, (y, p) in enumerate(cells))
    together = reliability_bins(np.concatenate([y for y, _ in cells]), np.concatenate([p for _, p in cells]))
    assert pooled is not None
    assert pooled.cells == 3 and pooled.total == 357
    assert list(pooled.count) == together["count"]
    for pooled_mean, direct in (
        (pooled.mean_predicted, together["mean_predicted"]),
        (pooled.fraction_positive, together["fraction_positive"]),
    ):
        assert [m is None for m in pooled_mean] == [d is None for d in direct]
        assert [m for m in pooled_mean if m is not None] == pytest.approx([d for d in direct if d is not None])


def test_cells_without_bins_are_skipped_and_none_at_all_gives_none() -> None:
    ((y, p),) = _cells((40,))
    document = json.dumps(reliability_bins(y, p))
    pooled = pool_reliability_bins([("a", None), ("b", document)])
    assert pooled is not None and pooled.cells == 1
    assert pool_reliability_bins([("a", None), ("b", None)]) is None


@pytest.mark.parametrize(
    ("document", "match"),
    [
        pytest.param("{not json", "BTC f3 is not valid reliability-bins JSON", id="not-json"),
        pytest.param(json.dumps({"edges": [0, 1], "count": [1]}), "BTC f3 is not valid", id="means-missing"),
        pytest.param(
            json.dumps({"edges": [0, 0.5, 1], "count": [1], "mean_predicted": [0.2], "fraction_positive": [0.0]}),
            "same bins",
            id="lengths-disagree",
        ),
        pytest.param(
            json.dumps({"edges": [0, 1], "count": [-1], "mean_predicted": [0.2], "fraction_positive": [0.0]}),
            "non-negative",
            id="negative-count",
        ),
    ],
)
def test_malformed_bins_name_the_cell(document: str, match: str) -> None:
    with pytest.raises(DataSourceError, match=match):
        pool_reliability_bins([("BTC f3", document)])


def test_cells_binned_differently_cannot_be_pooled() -> None:
    ((y, p),) = _cells((40,))
    ten, five = json.dumps(reliability_bins(y, p, n_bins=10)), json.dumps(reliability_bins(y, p, n_bins=5))
    with pytest.raises(DataSourceError, match="ETH f2: bin edges .* differ"):
        pool_reliability_bins([("BTC f1", ten), ("ETH f2", five)])
