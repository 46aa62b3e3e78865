"""Evaluation: fold metrics of one cell (stored in `finetune_results`) and the gate verdict asset per factor."""

import dagster as dg
import pandas as pd

from cvn_assets.core.catalogue.kinds import as_dict
from cvn_assets.core.catalogue.loading import Catalogue, model_choices
from cvn_assets.core.checks.sanity import degenerate_metrics_sanity
from cvn_assets.core.dossier.audit import audit_markdown
from cvn_assets.core.gate import verdicts_to_dict
from cvn_assets.core.gate.sweep import evaluate_joint, evaluate_single_factor, gate_table
from cvn_assets.core.metrics import TradeSimulator
from cvn_assets.core.metrics.evaluation import cell_metrics, result_rows
from cvn_assets.core.metrics.skill import SkillThresholds, skill_counts, skill_sanity
from cvn_assets.core.training.folds import fold_ids
from cvn_assets.defs.cells.cell_asset import cell_asset
from cvn_assets.defs.cells.checks import METRICS_CHECK, SKILL_CHECK
from cvn_assets.defs.cells.types import Cell, CellTools, CryptoInputs, Part
from cvn_assets.defs.metadata import OWNERS, table_metadata
from cvn_assets.defs.partitions import SweepPartitions, cell_key
from cvn_assets.defs.resources import ArtifactStoreResource, SweepResource
from cvn_assets.lineage.audit import audit_tree, verdict_configs
from cvn_assets.lineage.records import CONSUMED_KEY, PROVENANCE_KEY, consumed_inputs, provenance
from cvn_assets.lineage.tracking import MlflowTrackingResource, TrackedRun

RESULTS_IO_MANAGER = "results_io_manager"
FOLD_METRICS_KEY = dg.AssetKey("fold_metrics")


@cell_asset(
    group="evaluation",
    kinds={"pandas", "sql"},
    check=METRICS_CHECK,
    reads=("ohlcv",),
    advisory=(SKILL_CHECK,),
    io_manager_key=RESULTS_IO_MANAGER,
)
def fold_metrics(
    cell: Cell,
    data: CryptoInputs,
    tools: CellTools,
    *,
    oos_predictions: dict[str, dict[str, pd.DataFrame]],
    stacked_ensemble: dict[str, pd.DataFrame] | None = None,
) -> Part:
    """Every metric of one cell on its test window: one row per model or ensemble and per factor it serves.

    Trading metrics follow one position at a time on the crypto's OHLCV (see `core.metrics.trades`).
    """
    sweep = tools.sweep
    pipeline = sweep.catalogue.pipeline
    inputs = [*oos_predictions.values(), *([stacked_ensemble] if stacked_ensemble is not None else [])]
    predictions = pd.concat([value["predictions"] for value in inputs], ignore_index=True)
    summaries = pd.concat([value["models"] for value in inputs], ignore_index=True)
    simulator = TradeSimulator.from_ohlcv(data.ohlcv, pipeline.labels, pipeline.costs)
    metrics = cell_metrics(predictions, summaries, simulator)
    rows = result_rows(
        metrics,
        sweep_id=sweep.name,
        crypto=cell.crypto,
        fold=cell.fold,
        config_id=cell.config_id,
        members=sweep.catalogue.config(cell.config_id).members,
        model_choices=model_choices(sweep.catalogue),
    )
    failed = metrics.loc[metrics["status"] != "ok", "model"].tolist()
    metadata: dict[str, dg.MetadataValue] = {
        "metrics": table_metadata(metrics.drop(columns=["reliability_bins"], errors="ignore")),
        "sweep_id": dg.MetadataValue.text(sweep.name),
        "models": dg.MetadataValue.int(len(metrics)),
        "training_failed": dg.MetadataValue.text(", ".join(failed) or "none"),
    }
    skill = skill_sanity(metrics, pipeline.skill)
    return Part(rows, metadata, degenerate_metrics_sanity(rows), {SKILL_CHECK: skill}, extra={"metrics": metrics})


def build_evaluation_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions.factor,
        group_name="evaluation",
        kinds={"scipy"},
        owners=OWNERS,
        ins={"fold_metrics": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
        code_version="1",
    )
    def gate_verdict(
        context: dg.AssetExecutionContext, fold_metrics: pd.DataFrame, sweep: SweepResource
    ) -> dg.Output[dict]:
        """Gate verdict (LOCK / KEEP_AVAILABLE / ABANDON / INCONCLUSIVE) of every variant of a factor.

        For a joint rule, the verdict of the two factors' winners tried together, or why they were not.
        """
        name = context.partition_key
        catalogue = sweep.catalogue
        rules = {r.name: r for r in catalogue.joint_rules}
        decision = None
        if name in rules:
            verdicts, decision = evaluate_joint(catalogue, rules[name], fold_metrics)
        else:
            verdicts = evaluate_single_factor(catalogue, fold_metrics, name)
        table = gate_table(verdicts, decision)
        payload = verdicts_to_dict(verdicts)
        payload.update(
            sweep_id=sweep.name, table=table.to_dict(orient="records"), joint=decision.as_dict() if decision else None
        )
        metadata: dict[str, dg.MetadataValue] = {
            "verdicts": table_metadata(table),
            "verdict_markdown": dg.MetadataValue.md(table.to_markdown(index=False)),
            "rows_evaluated": dg.MetadataValue.int(int((fold_metrics["factor"] == name).sum())),
            "sweep_id": dg.MetadataValue.text(sweep.name),
        }
        if decision:
            metadata["joint_decision"] = dg.MetadataValue.json(decision.as_dict())
        metadata.update(_skill_metadata(fold_metrics[fold_metrics["factor"] == name], catalogue.pipeline.skill))
        metadata.update(_verdict_lineage(context, catalogue, name, table))
        return dg.Output(payload, metadata=metadata)

    return [gate_verdict]


def _skill_metadata(rows: pd.DataFrame, thresholds: SkillThresholds) -> dict[str, dg.MetadataValue]:
    """How many cells of each variant × model beat the trivial always-BUY rule, e.g. "skill: 7/25 cells"."""
    counts = skill_counts(rows, thresholds)
    return {
        "skill": dg.MetadataValue.json({f"{r.variant}/{r.model}": r.skill for r in counts.itertuples()}),
        "skill_rule": dg.MetadataValue.text(thresholds.rule()),
    }


TRACKED_METRICS = ("f1_buy", "auc", "brier", "log_loss", "ece", "threshold", "expectancy_net", "fit_seconds")


def track_cell(
    context: dg.AssetExecutionContext,
    tracking: MlflowTrackingResource,
    artifacts: ArtifactStoreResource,
    sweep: SweepResource,
    metrics: pd.DataFrame,
    cell: Cell,
) -> TrackedRun | None:
    """One MLflow run per cell materialization: the configuration, every model's metrics, the model bundles.

    The parent run's end time is left to the step, which moves it once after its last cell."""
    crypto, fold, config_id = cell.crypto, cell.fold, cell.config_id
    catalogue = sweep.catalogue
    config = catalogue.config(config_id)
    params = {
        "sweep_id": sweep.name,
        "crypto": crypto,
        "fold": fold,
        "config_id": config_id,
        "seed": catalogue.seed,
        "members": [f"{f}/{v}" for f, v in config.members],
        "factor_params": {name: as_dict(p) for name, p in config.factor_params.items()},
        "learners": {m: dict(catalogue.pipeline.learners.get(m, {})) for m in catalogue.models},
        "calibration": as_dict(catalogue.pipeline.calibration),
    }
    values = {
        f"{row['model']}.{name}": float(row[name])
        for row in metrics.to_dict(orient="records")
        if row["status"] == "ok"
        for name in TRACKED_METRICS
        if pd.notna(row.get(name))
    }
    bundles = [artifacts.model_path(crypto, fold, config_id, m) for m in catalogue.models]
    return tracking.log_materialization(
        context,
        params,
        values,
        [p for p in bundles if p.exists()],
        asset_key=FOLD_METRICS_KEY,
        partition_key=cell.key,
        finish_parent=False,
    )


def _verdict_lineage(
    context: dg.AssetExecutionContext, catalogue: Catalogue, name: str, table: pd.DataFrame
) -> dict[str, dg.MetadataValue]:
    """The cells this verdict read (by materialization), what it was produced under (catalogue snapshot,
    code revision, libraries: what a later audit reports) and the full audit tree below it."""
    recorded = provenance(catalogue, with_snapshot=True)
    configs = sorted(verdict_configs(recorded["catalogue"], name, None))
    cells = [
        str(cell_key(crypto, fold, config))
        for config in configs
        for crypto in catalogue.universe
        for fold in fold_ids(catalogue.pipeline.folds)
    ]
    consumed = consumed_inputs(context, only={"fold_metrics": cells})
    verdict = {
        "asset": "gate_verdict",
        "partition": name,
        "run_id": context.run.run_id,
        "storage_id": "this materialization",
        "table": table.to_dict(orient="records"),
        "checks": [],
        "code_version": context.assets_def.code_versions_by_key.get(context.asset_key),
    }
    tree = audit_tree(context.instance, recorded, name, consumed["fold_metrics"], verdict)
    summary = {
        "catalogue_fingerprint": tree["catalogue_fingerprint"],
        "seed": str(tree["seed"]),
        "code_revision": tree["environment"]["code_revision"],
        "cells_read": str(len(consumed["fold_metrics"])),
        **{
            f"ohlcv_sha256[{crypto}]": str(
                next((a.get("content_sha256") for a in data["assets"] if a["asset"] == "ohlcv"), None)
            )
            for crypto, data in tree["data"].items()
        },
    }
    return {
        CONSUMED_KEY: dg.MetadataValue.json(consumed),
        "lineage": dg.MetadataValue.json(summary),
        PROVENANCE_KEY: dg.MetadataValue.json(recorded),
        "audit": dg.MetadataValue.md(audit_markdown(tree)),
    }
