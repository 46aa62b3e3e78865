"""Per-crypto assets, computed once and shared by every variant: OHLCV, features, labels, folds."""

import dagster as dg
import pandas as pd

from cvn_assets.core.data.loading import ohlcv_content_hash
from cvn_assets.core.features import build_features
from cvn_assets.core.folds import folds_to_frame, walk_forward_folds
from cvn_assets.core.labels import triple_barrier_labels
from cvn_assets.defs.assets.common import OWNERS, float_metadata
from cvn_assets.defs.lineage import lineage_metadata
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.resources import OhlcvSourceResource, SweepResource


def build_data_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    crypto_partitions = partitions.crypto

    @dg.asset(partitions_def=crypto_partitions, group_name="data", kinds={"pandas", "parquet"}, owners=OWNERS,
              code_version="1")
    def ohlcv(context: dg.AssetExecutionContext, ohlcv_source: OhlcvSourceResource) -> dg.Output[pd.DataFrame]:
        """Hourly OHLCV of one crypto, validated (sorted, unique, finite, positive, high ≥ low, gaps bounded)."""
        crypto = context.partition_key
        frame = ohlcv_source.load(crypto)
        digest = ohlcv_content_hash(frame)
        return dg.Output(frame, data_version=dg.DataVersion(digest), metadata={
            "rows": dg.MetadataValue.int(len(frame)),
            "first_bar": dg.MetadataValue.text(str(frame["timestamp"].iloc[0])),
            "last_bar": dg.MetadataValue.text(str(frame["timestamp"].iloc[-1])),
            "content_sha256": dg.MetadataValue.text(digest),
            "source": dg.MetadataValue.text(ohlcv_source.describe()),
        })

    @dg.asset(partitions_def=crypto_partitions, group_name="data", kinds={"pandas", "parquet"}, owners=OWNERS,
              code_version="1")
    def features(context: dg.AssetExecutionContext, ohlcv: pd.DataFrame,
                 sweep: SweepResource) -> dg.Output[pd.DataFrame]:
        """Causal OHLCV features (returns, volatility, ATR, range, volume z-scores, oscillators): row t uses bars ≤ t."""
        frame = build_features(ohlcv, sweep.catalogue.pipeline.features)
        return dg.Output(frame, metadata={**lineage_metadata(context), "rows": dg.MetadataValue.int(len(frame)),
                                          "n_features": dg.MetadataValue.int(frame.shape[1] - 1)})

    @dg.asset(partitions_def=crypto_partitions, group_name="labels", kinds={"pandas", "parquet"}, owners=OWNERS,
              code_version="1")
    def raw_labels(context: dg.AssetExecutionContext, ohlcv: pd.DataFrame,
                   sweep: SweepResource) -> dg.Output[pd.DataFrame]:
        """Triple-barrier BUY/HOLD labels (hard), with each trade's outcome, holding time and return."""
        params = sweep.catalogue.pipeline.labels
        frame = triple_barrier_labels(ohlcv, params)
        labeled = frame["label"].notna()
        return dg.Output(frame, metadata={**lineage_metadata(context), **float_metadata({
            "strategy": params.name,
            "labeled_rows": int(labeled.sum()),
            "unlabeled_rows": int((~labeled).sum()),
            "buy_rate": float(frame.loc[labeled, "label"].mean()),
        })})

    @dg.asset(partitions_def=crypto_partitions, group_name="labels", kinds={"pandas", "parquet"}, owners=OWNERS,
              code_version="1")
    def fold_windows(context: dg.AssetExecutionContext, raw_labels: pd.DataFrame,
                     sweep: SweepResource) -> dg.Output[pd.DataFrame]:
        """Walk-forward train / validation / test windows per fold, purged and embargoed."""
        pipeline = sweep.catalogue.pipeline
        folds = walk_forward_folds(raw_labels["timestamp"], raw_labels["label"].notna().to_numpy(),
                                   pipeline.labels.horizon, pipeline.folds)
        frame = folds_to_frame(folds, raw_labels["timestamp"])
        return dg.Output(frame, metadata={**lineage_metadata(context), "folds": dg.MetadataValue.int(len(folds))})

    return [ohlcv, features, raw_labels, fold_windows]
