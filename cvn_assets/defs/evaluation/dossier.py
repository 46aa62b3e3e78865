"""The results dossier of each factor: report and figures written next to the models, shown in the UI."""

import json
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from cvn_assets.core.secrets import redact
from cvn_assets.defs.metadata import OWNERS, table_metadata
from cvn_assets.defs.partitions import SweepPartitions
from cvn_assets.defs.resources import ArtifactStoreResource, ResultsStoreResource, SweepResource
from cvn_assets.execution import running_pool

GATE_VERDICT_KEY = dg.AssetKey("gate_verdict")
LINEAGE_METADATA_KEY = "lineage"
DOSSIER_FOLDER = "dossier"
# The web UI renders `data:` images in Markdown metadata; past this size the report links its files instead.
MAX_EMBEDDED_REPORT_CHARS = 1_500_000


def build_dossier_assets(partitions: SweepPartitions) -> list[dg.AssetsDefinition]:
    """`results_dossier`, one partition per factor or joint rule, after that partition's gate verdict."""

    @dg.asset(
        partitions_def=partitions.factor,
        deps=[dg.AssetDep(GATE_VERDICT_KEY)],
        group_name="evaluation",
        kinds={"python", "matplotlib"},
        owners=OWNERS,
        code_version="1",
    )
    def results_dossier(
        context: dg.AssetExecutionContext,
        sweep: SweepResource,
        results: ResultsStoreResource,
        artifacts: ArtifactStoreResource,
    ) -> dg.MaterializeResult:
        """Results dossier of a factor: verdicts, gate table with observed values and thresholds, Δf1_buy
        heat map per crypto × fold, reliability diagrams, bootstrap CI plot, per-crypto table, excluded
        cells, minimum detectable effect and lineage, as Markdown, HTML and PNG files."""
        name = context.partition_key
        lineage = latest_lineage(context.instance, name)
        # Imported here: matplotlib would otherwise load with the code location in every run process.
        from cvn_assets.core.dossier import build_dossier, embedded_markdown, write_dossier

        dossier = build_dossier(
            results.store().read(sweep.name), sweep.catalogue, name, lineage=lineage, sweep_id=sweep.name
        )
        # A sweep's workers wait idle while its gates run: they draw the figures, all at once.
        pool = running_pool()
        files = write_dossier(
            dossier,
            Path(artifacts.base_dir) / DOSSIER_FOLDER / sweep.name / name,
            pool.submit if pool is not None else None,
        )
        report = embedded_markdown(dossier, files)
        if len(report) > MAX_EMBEDDED_REPORT_CHARS:
            report = (
                files.markdown.read_text(encoding="utf-8")
                + f"\n_Figures are too large to inline; they are in {files.markdown.parent}._\n"
            )
        context.log.info(f"dossier of {name} written to {files.markdown.parent}")
        return dg.MaterializeResult(
            metadata={
                "report": dg.MetadataValue.md(report),
                "report_markdown": dg.MetadataValue.path(str(files.markdown)),
                "report_html": dg.MetadataValue.path(str(files.html)),
                **{f"figure_{figure}": dg.MetadataValue.path(str(path)) for figure, path in files.figures.items()},
                "verdicts": table_metadata(dossier.summary),
                "figure_model": dg.MetadataValue.text(dossier.model),
                "sweep_id": dg.MetadataValue.text(sweep.name),
            }
        )

    return [results_dossier]


def latest_lineage(instance: dg.DagsterInstance, partition_key: str) -> dict[str, str]:
    """The `lineage` metadata of the latest `gate_verdict` materialization of this partition ({} if none)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=GATE_VERDICT_KEY, asset_partitions=[partition_key]), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    if materialization is None or LINEAGE_METADATA_KEY not in materialization.metadata:
        return {}
    return lineage_mapping(materialization.metadata[LINEAGE_METADATA_KEY].value)


def lineage_mapping(raw: object) -> dict[str, str]:
    """Lineage metadata as item → text: a mapping as is (nested values as JSON), JSON text parsed, else one item."""
    if isinstance(raw, str):
        text = raw
        try:
            raw = json.loads(text)
        except ValueError:
            return {LINEAGE_METADATA_KEY: text}
    if isinstance(raw, Mapping):
        # Masked before flattening, so secrets nested inside a value are caught too.
        return {
            str(key): value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            for key, value in redact(raw).items()
        }
    return {LINEAGE_METADATA_KEY: json.dumps(raw, sort_keys=True, default=str)}
