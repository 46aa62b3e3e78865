"""Evaluation assets: fold metrics per cell (into `finetune_results`) and the gate verdict per factor."""

import dagster as dg
import pandas as pd

from cvn_assets.core.evaluation import cell_metrics, result_rows
from cvn_assets.core.gate import evaluate_factor, verdict_table, verdicts_to_dict
from cvn_assets.defs.assets.common import OWNERS, float_metadata, table_metadata
from cvn_assets.defs.partitions import SweepPartitions, split_cell_key
from cvn_assets.defs.resources import SweepResource

RESULTS_IO_MANAGER = "results_io_manager"


def build_evaluation_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    @dg.asset(partitions_def=partitions.cell, group_name="evaluation", kinds={"pandas", "sql"}, owners=OWNERS,
              io_manager_key=RESULTS_IO_MANAGER, code_version="1")
    def fold_metrics(context: dg.AssetExecutionContext, oos_predictions: dict[str, pd.DataFrame],
                     raw_labels: pd.DataFrame, sweep: SweepResource) -> dg.Output[pd.DataFrame]:
        """Every SPEC §6 metric of one cell on its test window, one row per model and per factor it serves."""
        crypto, fold_id, config_id = split_cell_key(context.partition_key)
        config = sweep.catalogue.config(config_id)
        metrics = cell_metrics(oos_predictions["predictions"], oos_predictions["models"], raw_labels,
                               sweep.catalogue.pipeline.costs)
        rows = result_rows(metrics, sweep_id=sweep.name, crypto=crypto, fold=fold_id, config_id=config_id,
                           members=config.members)
        first = metrics.iloc[0].to_dict()
        return dg.Output(rows, metadata={
            "metrics": table_metadata(metrics),
            "sweep_id": dg.MetadataValue.text(sweep.name),
            **float_metadata({k: first[k] for k in ("status", "f1_buy", "auc", "ece_hold", "n_trades",
                                                    "expectancy_net") if k in first}),
        })

    @dg.asset(partitions_def=partitions.factor, group_name="evaluation", kinds={"scipy"}, owners=OWNERS,
              ins={"fold_metrics": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())}, code_version="1")
    def gate_verdict(context: dg.AssetExecutionContext, fold_metrics: pd.DataFrame,
                     sweep: SweepResource) -> dg.Output[dict]:
        """Gate verdict (LOCK / KEEP_AVAILABLE / ABANDON / INCONCLUSIVE) of every variant of one factor."""
        factor_name = context.partition_key
        catalogue = sweep.catalogue
        factor = catalogue.factor(factor_name)
        rows = fold_metrics[fold_metrics["factor"] == factor_name]
        verdicts = evaluate_factor(rows, factor_name, factor.baseline,
                                   variants=[v.name for v in factor.variants if not v.is_baseline],
                                   universe_size=len(catalogue.universe), thresholds=catalogue.pipeline.gate)
        table = verdict_table(verdicts)
        payload = verdicts_to_dict(verdicts)
        payload["sweep_id"] = sweep.name
        payload["table"] = table.to_dict(orient="records")
        return dg.Output(payload, metadata={
            "verdicts": table_metadata(table),
            "verdict_markdown": dg.MetadataValue.md(table.to_markdown(index=False)),
            "rows_evaluated": dg.MetadataValue.int(len(rows)),
            "sweep_id": dg.MetadataValue.text(sweep.name),
        })

    return [fold_metrics, gate_verdict]
