"""Per-cell label computations (crypto × fold × configuration): training targets and the cleanlab mask."""

import dagster as dg
import pandas as pd

from cvn_assets.core.checks.sanity import cleanlab_cap_sanity, training_targets_sanity
from cvn_assets.core.noise import compute_cleanlab_mask
from cvn_assets.core.training.fit import training_targets
from cvn_assets.core.training.fold_frames import folds_from_frame
from cvn_assets.core.training.folds import FoldWindows
from cvn_assets.defs.cells.cell_asset import cell_asset
from cvn_assets.defs.cells.checks import CLEANLAB_CHECK, TARGETS_CHECK
from cvn_assets.defs.cells.types import Cell, CellTools, CryptoInputs, Part
from cvn_assets.defs.metadata import float_metadata


def fold_of(fold_windows: pd.DataFrame, fold_id: str) -> FoldWindows:
    for fold in folds_from_frame(fold_windows):
        if fold.fold == fold_id:
            return fold
    raise KeyError(f"fold {fold_id} is not in the fold plan")


@cell_asset(group="labels", kinds={"pandas", "parquet"}, check=TARGETS_CHECK, reads=("raw_labels", "fold_windows"))
def smoothed_labels(cell: Cell, data: CryptoInputs, tools: CellTools) -> Part:
    """Training targets of one cell: hard labels of the fold's training window, smoothed per the variant.

    Only training rows are smoothed; validation and test keep their hard labels.
    """
    smoothing = tools.sweep.catalogue.config(cell.config_id).params_for("label_smoothing")
    fold = data.fold(cell.fold)
    frame = training_targets(data.raw_labels, fold, smoothing)
    metadata = float_metadata(
        {
            "rows": len(frame),
            "eps_buy": smoothing.eps_buy,
            "eps_hold": smoothing.eps_hold,
            "mean_target": float(frame["target"].mean()),
            "buy_rate": float(frame["hard_label"].mean()),
        }
    )
    return Part(frame, metadata, training_targets_sanity(frame, fold.train))


@cell_asset(
    group="labels",
    kinds={"cleanlab", "parquet"},
    check=CLEANLAB_CHECK,
    reads=("features", "raw_labels", "fold_windows"),
)
def cleanlab_mask(cell: Cell, data: CryptoInputs, tools: CellTools) -> Part:
    """Confident-learning screen of one cell's training labels: suspects, per-class capped flags, weights.

    Out-of-sample P(BUY) comes from a purged, embargoed inner 2-fold CV on the training window only.
    """
    catalogue = tools.sweep.catalogue
    params = catalogue.config(cell.config_id).params_for("cleanlab")
    mask = compute_cleanlab_mask(
        data.features,
        data.raw_labels,
        data.fold(cell.fold).train,
        params,
        label_horizon=catalogue.pipeline.labels.horizon,
        embargo_bars=catalogue.pipeline.folds.embargo_bars,
        seed=catalogue.seed,
        n_threads=tools.sweep.n_threads,
    )
    frame = mask.frame.assign(mode=mask.mode)
    metadata = {
        "mode": dg.MetadataValue.text(params.mode),
        "max_drop_pct": dg.MetadataValue.float(params.max_drop_pct),
        **float_metadata(mask.stats),
    }
    return Part(frame, metadata, cleanlab_cap_sanity(frame, params.max_drop_pct))
