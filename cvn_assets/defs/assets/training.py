"""Per-cell label assets (crypto × fold × configuration): training targets and the cleanlab mask."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from cvn_assets.core.folds import FoldWindows, folds_from_frame
from cvn_assets.core.noise import compute_cleanlab_mask
from cvn_assets.core.training import training_targets
from cvn_assets.core.sanity import cleanlab_cap_sanity, training_targets_sanity
from cvn_assets.defs.assets.common import OWNERS, float_metadata
from cvn_assets.defs.cell_checks import CLEANLAB_CHECK, TARGETS_CHECK, check_result, inline_check
from cvn_assets.defs.lineage import lineage_metadata
from cvn_assets.defs.partitions import SweepPartitions, split_cell_key
from cvn_assets.defs.resources import SweepResource


def fold_of(fold_windows: pd.DataFrame, fold_id: str) -> FoldWindows:
    for fold in folds_from_frame(fold_windows):
        if fold.fold == fold_id:
            return fold
    raise KeyError(f"fold {fold_id} is not in the fold plan")


def build_training_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    cells = partitions.cell

    @dg.asset(partitions_def=cells, group_name="labels", kinds={"pandas", "parquet"}, owners=OWNERS,
              code_version="1", check_specs=[inline_check(TARGETS_CHECK, "smoothed_labels", cells)])
    def smoothed_labels(context: dg.AssetExecutionContext, raw_labels: pd.DataFrame, fold_windows: pd.DataFrame,
                        sweep: SweepResource) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
        """Training targets of one cell: hard labels of the fold's training window, smoothed per the variant.

        Only training rows are smoothed; validation and test keep their hard labels.
        """
        crypto, fold_id, config_id = split_cell_key(context.partition_key)
        smoothing = sweep.catalogue.config(config_id).params_for("label_smoothing")
        fold = fold_of(fold_windows, fold_id)
        frame = training_targets(raw_labels, fold, smoothing)
        yield dg.Output(frame, metadata={**lineage_metadata(context), **float_metadata({
            "rows": len(frame), "eps_buy": smoothing.eps_buy, "eps_hold": smoothing.eps_hold,
            "mean_target": float(frame["target"].mean()), "buy_rate": float(frame["hard_label"].mean()),
        })})
        yield check_result(TARGETS_CHECK, training_targets_sanity(frame, fold.train))

    @dg.asset(partitions_def=cells, group_name="labels", kinds={"cleanlab", "parquet"}, owners=OWNERS,
              code_version="1", check_specs=[inline_check(CLEANLAB_CHECK, "cleanlab_mask", cells)])
    def cleanlab_mask(context: dg.AssetExecutionContext, features: pd.DataFrame, raw_labels: pd.DataFrame,
                      fold_windows: pd.DataFrame,
                      sweep: SweepResource) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
        """Confident-learning screen of one cell's training labels: suspects, per-class capped flags, weights.

        Out-of-sample P(BUY) comes from a purged, embargoed inner 2-fold CV on the training window only.
        """
        crypto, fold_id, config_id = split_cell_key(context.partition_key)
        catalogue = sweep.catalogue
        params = catalogue.config(config_id).params_for("cleanlab")
        mask = compute_cleanlab_mask(features, raw_labels, fold_of(fold_windows, fold_id).train, params,
                                     label_horizon=catalogue.pipeline.labels.horizon,
                                     embargo_bars=catalogue.pipeline.folds.embargo_bars,
                                     seed=catalogue.seed, n_threads=sweep.n_threads)
        frame = mask.frame.assign(mode=mask.mode)
        yield dg.Output(frame, metadata={**lineage_metadata(context), "mode": dg.MetadataValue.text(params.mode),
                                          "max_drop_pct": dg.MetadataValue.float(params.max_drop_pct),
                                          **float_metadata(mask.stats)})
        yield check_result(CLEANLAB_CHECK, cleanlab_cap_sanity(frame, params.max_drop_pct))

    return [smoothed_labels, cleanlab_mask]
