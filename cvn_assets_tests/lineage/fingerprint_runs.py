"""A range run over many cells tagged with their fingerprints, for the SQLite and the PostgreSQL instance."""

import hashlib

import dagster as dg

from cvn_assets.lineage.fingerprints import fingerprint_tags, recorded_fingerprints

# The whole default grid and then some: 5 cryptos × 5 folds × 10 configurations.
CELLS = [
    f"{crypto}|f{fold}.config_{config}"
    for crypto in ("BTC", "ETH", "LTC", "XRP", "EOS")
    for fold in range(1, 6)
    for config in range(10)
]


def fingerprints_through_a_range_run(instance: dg.DagsterInstance) -> tuple[dict[str, str], dict[str, str]]:
    """The fingerprints a run over every cell of CELLS was tagged with, and those read back from the instance."""
    partitions = dg.StaticPartitionsDefinition(CELLS)

    @dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def cell(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult()

    # Hashes, as real fingerprints are: PostgreSQL compresses a repetitive tag below the index row's limit.
    fingerprints = {key: hashlib.sha256(key.encode()).hexdigest()[:16] for key in CELLS}
    tags = {
        "dagster/asset_partition_range_start": CELLS[0],
        "dagster/asset_partition_range_end": CELLS[-1],
        **fingerprint_tags(fingerprints),
    }
    assert dg.materialize([cell], instance=instance, tags=tags).success
    return fingerprints, recorded_fingerprints(instance, cell.key, CELLS)
