"""Per-crypto assets, computed once and shared by every variant: OHLCV, features, labels, folds.

The four assets and their two blocking checks share one step (`crypto_data`): each asset keeps its
own key, group, kinds, code version, metadata and lineage and can be materialized on its own (an
unselected asset that a selected one reads comes from storage), but a crypto's data run costs one
step instead of six — each step costs Dagster four or five event-log writes of its own (start, inputs
loaded, output handled, success), more than the computation of the cheaper assets. A failed check
stops the step after recording its evaluation, so nothing downstream of it is computed (Dagster then
fails the step, as it would fail a separate check step).
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.core.data.loading import ohlcv_content_hash
from cvn_assets.core.data.origin import origin_of
from cvn_assets.core.data.validation import validate_ohlcv
from cvn_assets.core.errors import InsufficientDataError, OhlcvValidationError
from cvn_assets.core.events import event_labels
from cvn_assets.core.features import build_features
from cvn_assets.core.folds import folds_to_frame, walk_forward_folds
from cvn_assets.core.sanity import CheckOutcome, label_sanity
from cvn_assets.defs.assets.common import OWNERS, float_metadata
from cvn_assets.defs.cell_checks import check_evaluation
from cvn_assets.defs.lineage import CONSUMED_KEY, RunLineage, fingerprint_metadata, provenance_metadata
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.resources import ArtifactStoreResource, OhlcvSourceResource, SweepResource

CRYPTO_DATA_STEP = "crypto_data"
OHLCV, FEATURES, RAW_LABELS, FOLD_WINDOWS = (dg.AssetKey(n) for n in ("ohlcv", "features", "raw_labels", "fold_windows"))
OHLCV_CHECK, LABEL_CHECK = "ohlcv_sanity", "label_rate_and_tail"


@dataclass(frozen=True)
class DataResources:
    source: OhlcvSourceResource
    sweep: SweepResource


# An asset's value, its own metadata, and options of its output (the OHLCV's data version).
Computed = tuple[Any, dict[str, dg.MetadataValue], dict[str, Any]]
# What an asset computes for a crypto from the values it reads.
Compute = Callable[[str, Mapping[dg.AssetKey, Any], DataResources], Computed]
# What its blocking check finds in the value.
Check = Callable[[str, Any, DataResources], CheckOutcome]


@dataclass(frozen=True)
class DataAsset:
    key: dg.AssetKey
    group: str
    reads: tuple[dg.AssetKey, ...]
    compute: Compute
    description: str
    check: str | None = None
    check_description: str = ""
    evaluate: Check | None = None


def _ohlcv(crypto: str, values: Mapping[dg.AssetKey, Any], resources: DataResources) -> Computed:
    frame = resources.source.load(crypto)
    digest = ohlcv_content_hash(frame)
    return frame, {
        "rows": dg.MetadataValue.int(len(frame)),
        "first_bar": dg.MetadataValue.text(str(frame["timestamp"].iloc[0])),
        "last_bar": dg.MetadataValue.text(str(frame["timestamp"].iloc[-1])),
        "content_sha256": dg.MetadataValue.text(digest),
        "source": dg.MetadataValue.text(resources.source.describe()),
    }, {"data_version": dg.DataVersion(digest)}


def _features(crypto: str, values: Mapping[dg.AssetKey, Any], resources: DataResources) -> Computed:
    frame = build_features(values[OHLCV], resources.sweep.catalogue.pipeline.features)
    return frame, {"rows": dg.MetadataValue.int(len(frame)), "n_features": dg.MetadataValue.int(frame.shape[1] - 1)}, {}


def _raw_labels(crypto: str, values: Mapping[dg.AssetKey, Any], resources: DataResources) -> Computed:
    pipeline = resources.sweep.catalogue.pipeline
    params = pipeline.labels
    frame = event_labels(values[OHLCV], params, pipeline.events)
    labeled = frame["label"].notna()
    return frame, float_metadata({
        "strategy": params.name,
        "event_filter": pipeline.events.describe(),
        "labeled_rows": int(labeled.sum()),
        "unlabeled_rows": int((~labeled).sum()),
        "buy_rate": float(frame.loc[labeled, "label"].mean()),
    }), {}


def _fold_windows(crypto: str, values: Mapping[dg.AssetKey, Any], resources: DataResources) -> Computed:
    raw_labels, pipeline = values[RAW_LABELS], resources.sweep.catalogue.pipeline
    try:
        folds = walk_forward_folds(raw_labels["timestamp"], raw_labels["label"].notna().to_numpy(),
                                   pipeline.labels.horizon, pipeline.folds)
    except InsufficientDataError as exc:
        raise InsufficientDataError(f"{crypto}: {exc}{pipeline.events.shortfall_hint()}") from exc
    return folds_to_frame(folds, raw_labels["timestamp"]), {"folds": dg.MetadataValue.int(len(folds))}, {}


def _ohlcv_sanity(crypto: str, ohlcv: pd.DataFrame, resources: DataResources) -> CheckOutcome:
    try:
        validate_ohlcv(ohlcv, crypto, resources.source.bar, resources.source.rules, origin_of(ohlcv))
    except OhlcvValidationError as error:
        return CheckOutcome(False, str(error.problem), "valid", str(error))
    return CheckOutcome(True, len(ohlcv), "valid", f"{len(ohlcv)} valid bars")


def _label_sanity(crypto: str, raw_labels: pd.DataFrame, resources: DataResources) -> CheckOutcome:
    pipeline = resources.sweep.catalogue.pipeline
    return label_sanity(raw_labels, pipeline.labels.horizon, pipeline.checks)


DATA_ASSETS = (
    DataAsset(OHLCV, "data", (), _ohlcv,
              "Hourly OHLCV of one crypto, validated (sorted, unique, finite, positive, high ≥ low, gaps bounded).",
              OHLCV_CHECK, "Sorted, unique, finite, positive candles with high ≥ low and bounded gaps.", _ohlcv_sanity),
    DataAsset(FEATURES, "data", (OHLCV,), _features,
              "Causal OHLCV features (returns, volatility, ATR, range, volume z-scores, oscillators): row t uses "
              "bars ≤ t."),
    DataAsset(RAW_LABELS, "labels", (OHLCV,), _raw_labels,
              "Triple-barrier BUY/HOLD labels (hard), with each trade's outcome, holding time and return.",
              LABEL_CHECK, "BUY rate within the configured band; no label in the unlabeled tail.", _label_sanity),
    DataAsset(FOLD_WINDOWS, "labels", (RAW_LABELS,), _fold_windows,
              "Walk-forward train / validation / test windows per fold, purged and embargoed."),
)


def build_data_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    crypto = partitions.crypto
    outs = {a.key.to_python_identifier(): dg.AssetOut(key=a.key, group_name=a.group, kinds={"pandas", "parquet"},
                                                      owners=OWNERS, code_version="1", description=a.description,
                                                      is_required=False) for a in DATA_ASSETS}
    checks = [dg.AssetCheckSpec(a.check, asset=a.key, blocking=True, partitions_def=crypto,
                                description=a.check_description) for a in DATA_ASSETS if a.check]

    @dg.multi_asset(name=CRYPTO_DATA_STEP, outs=outs, partitions_def=crypto, can_subset=True, check_specs=checks,
                    internal_asset_deps={a.key.to_python_identifier(): set(a.reads) for a in DATA_ASSETS})
    def crypto_data(context: dg.AssetExecutionContext, ohlcv_source: OhlcvSourceResource, sweep: SweepResource,
                    artifacts: ArtifactStoreResource) -> Iterator[Any]:
        """The selected per-crypto assets of one crypto, upstream first, each checked as soon as it is computed."""
        yield from _run(context, DataResources(ohlcv_source, sweep), artifacts)

    return [crypto_data]


def _run(context: dg.AssetExecutionContext, resources: DataResources, artifacts: ArtifactStoreResource) -> Iterator[Any]:
    crypto = context.partition_key
    selected = context.selected_asset_keys
    lineage = RunLineage(context.instance)
    values: dict[dg.AssetKey, Any] = {}
    frames = artifacts.frames()
    recorded = provenance_metadata(resources.sweep.catalogue)
    needed = {read for a in DATA_ASSETS if a.key in selected for read in a.reads} - set(selected)
    for key in needed:  # read by this selection but not computed: from storage, as an input would be
        values[key] = frames.require(key, crypto)
        lineage.fetch(key, [crypto])
    for asset in (a for a in DATA_ASSETS if a.key in selected):
        value, metadata, output_options = asset.compute(crypto, values, resources)
        consumed = lineage.consumed({key: crypto for key in asset.reads})
        lineage_metadata = {CONSUMED_KEY: dg.MetadataValue.json(consumed)} if asset.reads else {}
        yield dg.Output(value, output_name=asset.key.to_python_identifier(), **output_options, metadata={
            **lineage_metadata, **fingerprint_metadata(context.run.tags, crypto), **recorded, **metadata})
        values[asset.key] = value
        lineage.fetch(asset.key, [crypto])
        if asset.check is None or asset.evaluate is None:
            continue
        outcome = asset.evaluate(crypto, value, resources)
        yield check_evaluation(asset.check, asset.key, outcome, crypto)
        if not outcome.passed:
            return  # Dagster fails the step once it has recorded the failed blocking check
