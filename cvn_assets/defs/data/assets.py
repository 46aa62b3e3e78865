"""Per-crypto assets, computed once and shared by every variant: OHLCV, features, labels, folds.

The four assets and their two blocking checks share one step (`crypto_data`): each asset keeps its
own key, group, kinds, code version, metadata and lineage and can be materialized on its own (an
unselected asset that a selected one reads comes from storage), but a crypto's data run costs one
step instead of six — each step costs Dagster four or five event-log writes of its own (start, inputs
loaded, output handled, success), more than the computation of the cheaper assets. A failed check
stops the step after recording its evaluation, so nothing downstream of it is computed (Dagster then
fails the step, as it would fail a separate check step).
"""

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from cvn_assets.core.checks.sanity import CheckOutcome, label_sanity
from cvn_assets.core.data.features import build_features
from cvn_assets.core.data.loading import ohlcv_content_hash
from cvn_assets.core.data.origin import origin_of
from cvn_assets.core.data.validation import validate_ohlcv
from cvn_assets.core.errors import InsufficientDataError, OhlcvValidationError
from cvn_assets.core.labels.events import event_labels
from cvn_assets.core.training.fold_frames import folds_to_frame
from cvn_assets.core.training.folds import walk_forward_folds
from cvn_assets.defs.cells.checks import check_evaluation
from cvn_assets.defs.metadata import OWNERS, float_metadata
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.resources import ArtifactStoreResource, OhlcvSourceResource, SweepResource
from cvn_assets.lineage.records import CONSUMED_KEY, RunLineage, fingerprint_metadata, provenance_metadata

CRYPTO_DATA_STEP = "crypto_data"


@dataclass(frozen=True)
class DataResources:
    source: OhlcvSourceResource
    sweep: SweepResource


# An asset's value, its own metadata, and options of its output (the OHLCV's data version).
Computed = tuple[Any, dict[str, dg.MetadataValue], dict[str, Any]]
# What a blocking check finds in an asset's value of one crypto.
Check = Callable[[str, Any, DataResources], CheckOutcome]


@dataclass(frozen=True)
class DataAsset:
    """One per-crypto asset: its function (named after it, its docstring the description), the assets
    it reads (the function's keyword-only parameters) and its blocking check, if any (named after the
    check function, its docstring the check's description)."""

    function: Callable[..., Computed]
    group: str
    check: Check | None

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(self.function.__name__)

    @property
    def description(self) -> str:
        return " ".join((self.function.__doc__ or "").split())

    @property
    def reads(self) -> tuple[dg.AssetKey, ...]:
        parameters = inspect.signature(self.function).parameters.values()
        return tuple(dg.AssetKey(p.name) for p in parameters if p.kind is p.KEYWORD_ONLY)

    def compute(self, crypto: str, values: Mapping[dg.AssetKey, Any], resources: DataResources) -> Computed:
        return self.function(crypto, resources, **{key.path[-1]: values[key] for key in self.reads})


def data_asset(*, group: str, check: Check | None = None) -> Callable[[Callable[..., Computed]], DataAsset]:
    """Declares the decorated function as a per-crypto asset of the `crypto_data` step."""
    return lambda function: DataAsset(function, group, check)


def ohlcv_sanity(crypto: str, ohlcv: pd.DataFrame, resources: DataResources) -> CheckOutcome:
    """Sorted, unique, finite, positive candles with high ≥ low and bounded gaps."""
    try:
        validate_ohlcv(ohlcv, crypto, resources.source.bar, resources.source.rules, origin_of(ohlcv))
    except OhlcvValidationError as error:
        return CheckOutcome(False, str(error.problem), "valid", str(error))
    return CheckOutcome(True, len(ohlcv), "valid", f"{len(ohlcv)} valid bars")


def label_rate_and_tail(crypto: str, raw_labels: pd.DataFrame, resources: DataResources) -> CheckOutcome:
    """BUY rate within the configured band; no label in the unlabeled tail."""
    pipeline = resources.sweep.catalogue.pipeline
    return label_sanity(raw_labels, pipeline.labels.horizon, pipeline.checks)


@data_asset(group="data", check=ohlcv_sanity)
def ohlcv(crypto: str, resources: DataResources) -> Computed:
    """Hourly OHLCV of one crypto, validated (sorted, unique, finite, positive, high ≥ low, gaps bounded)."""
    frame = resources.source.load(crypto)
    digest = ohlcv_content_hash(frame)
    return (
        frame,
        {
            "rows": dg.MetadataValue.int(len(frame)),
            "first_bar": dg.MetadataValue.text(str(frame["timestamp"].iloc[0])),
            "last_bar": dg.MetadataValue.text(str(frame["timestamp"].iloc[-1])),
            "content_sha256": dg.MetadataValue.text(digest),
            "source": dg.MetadataValue.text(resources.source.describe()),
        },
        {"data_version": dg.DataVersion(digest)},
    )


@data_asset(group="data")
def features(crypto: str, resources: DataResources, *, ohlcv: pd.DataFrame) -> Computed:
    """Causal OHLCV features (returns, volatility, ATR, range, volume z-scores, oscillators): row t uses
    bars ≤ t."""
    frame = build_features(ohlcv, resources.sweep.catalogue.pipeline.features)
    return frame, {"rows": dg.MetadataValue.int(len(frame)), "n_features": dg.MetadataValue.int(frame.shape[1] - 1)}, {}


@data_asset(group="labels", check=label_rate_and_tail)
def raw_labels(crypto: str, resources: DataResources, *, ohlcv: pd.DataFrame) -> Computed:
    """Triple-barrier BUY/HOLD labels (hard), with each trade's outcome, holding time and return."""
    pipeline = resources.sweep.catalogue.pipeline
    params = pipeline.labels
    frame = event_labels(ohlcv, params, pipeline.events)
    labeled = frame["label"].notna()
    return (
        frame,
        float_metadata(
            {
                "strategy": params.name,
                "event_filter": pipeline.events.describe(),
                "labeled_rows": int(labeled.sum()),
                "unlabeled_rows": int((~labeled).sum()),
                "buy_rate": float(frame.loc[labeled, "label"].mean()),
            }
        ),
        {},
    )


@data_asset(group="labels")
def fold_windows(crypto: str, resources: DataResources, *, raw_labels: pd.DataFrame) -> Computed:
    """Walk-forward train / validation / test windows per fold, purged and embargoed."""
    pipeline = resources.sweep.catalogue.pipeline
    try:
        folds = walk_forward_folds(
            raw_labels["timestamp"], raw_labels["label"].notna().to_numpy(), pipeline.labels.horizon, pipeline.folds
        )
    except InsufficientDataError as exc:
        raise InsufficientDataError(f"{crypto}: {exc}{pipeline.events.shortfall_hint()}") from exc
    return folds_to_frame(folds, raw_labels["timestamp"]), {"folds": dg.MetadataValue.int(len(folds))}, {}


DATA_ASSETS = (ohlcv, features, raw_labels, fold_windows)
OHLCV, FEATURES, RAW_LABELS, FOLD_WINDOWS = (asset.key for asset in DATA_ASSETS)


def build_data_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    crypto = partitions.crypto
    outs = {
        a.key.to_python_identifier(): dg.AssetOut(
            key=a.key,
            group_name=a.group,
            kinds={"pandas", "parquet"},
            owners=OWNERS,
            code_version="1",
            description=a.description,
            is_required=False,
        )
        for a in DATA_ASSETS
    }
    checks = [
        dg.AssetCheckSpec(
            a.check.__name__,
            asset=a.key,
            blocking=True,
            partitions_def=crypto,
            description=" ".join((a.check.__doc__ or "").split()),
        )
        for a in DATA_ASSETS
        if a.check
    ]

    @dg.multi_asset(
        name=CRYPTO_DATA_STEP,
        outs=outs,
        partitions_def=crypto,
        can_subset=True,
        check_specs=checks,
        internal_asset_deps={a.key.to_python_identifier(): set(a.reads) for a in DATA_ASSETS},
    )
    def crypto_data(
        context: dg.AssetExecutionContext,
        ohlcv_source: OhlcvSourceResource,
        sweep: SweepResource,
        artifacts: ArtifactStoreResource,
    ) -> Iterator[Any]:
        """The selected per-crypto assets of one crypto, upstream first, each checked as soon as it is computed."""
        yield from _run(context, DataResources(ohlcv_source, sweep), artifacts)

    return [crypto_data]


def _run(
    context: dg.AssetExecutionContext, resources: DataResources, artifacts: ArtifactStoreResource
) -> Iterator[Any]:
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
        yield dg.Output(
            value,
            output_name=asset.key.to_python_identifier(),
            **output_options,
            metadata={**lineage_metadata, **fingerprint_metadata(context.run.tags, crypto), **recorded, **metadata},
        )
        values[asset.key] = value
        lineage.fetch(asset.key, [crypto])
        if asset.check is None:
            continue
        outcome = asset.check(crypto, value, resources)
        yield check_evaluation(asset.check.__name__, asset.key, outcome, crypto)
        if not outcome.passed:
            return  # Dagster fails the step once it has recorded the failed blocking check
