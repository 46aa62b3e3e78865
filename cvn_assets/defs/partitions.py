"""Partitions derived from the catalogue.

Dagster allows two dimensions, so a cell is `crypto` × `fv`, where `fv` = "<fold>.<config>".
Per-crypto assets are partitioned by crypto alone (computed once, shared by every variant), and the
built-in multi-to-single mapping connects them to cells. `fv` keys are ordered configuration-major
so one configuration's folds form one contiguous key range.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from cvn_assets.core.catalogue.loading import Catalogue
from cvn_assets.core.training.folds import fold_ids

CRYPTO_DIMENSION = "crypto"
FOLD_VARIANT_DIMENSION = "fv"


@dataclass(frozen=True)
class SweepPartitions:
    crypto: dg.StaticPartitionsDefinition
    cell: dg.MultiPartitionsDefinition
    factor: dg.StaticPartitionsDefinition


def fold_variant_key(fold: str, config_id: str) -> str:
    return f"{fold}.{config_id}"


def cell_key(crypto: str, fold: str, config_id: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({CRYPTO_DIMENSION: crypto, FOLD_VARIANT_DIMENSION: fold_variant_key(fold, config_id)})


def box_keys(cryptos: Sequence[str], fv_keys: Sequence[str]) -> list[str]:
    """The cell keys of a box of cryptos × fv keys, in the partitions' order (crypto-major)."""
    return [
        str(dg.MultiPartitionKey({CRYPTO_DIMENSION: crypto, FOLD_VARIANT_DIMENSION: fv}))
        for crypto in cryptos
        for fv in fv_keys
    ]


def split_cell_key(partition_key: str | dg.MultiPartitionKey) -> tuple[str, str, str]:
    """(crypto, fold, config_id) of a cell partition key such as 'BTC|f1.baseline'."""
    if isinstance(partition_key, dg.MultiPartitionKey):
        dims = partition_key.keys_by_dimension
        crypto, fv = dims[CRYPTO_DIMENSION], dims[FOLD_VARIANT_DIMENSION]
    else:
        crypto, fv = str(partition_key).split("|", 1)
    fold, config_id = fv.split(".", 1)
    return crypto, fold, config_id


def contiguous_ranges(order: Sequence[str], wanted: Iterable[str]) -> list[list[str]]:
    """The wanted keys as runs of neighbours in the partitions definition's order (one run per range)."""
    position = {key: i for i, key in enumerate(order)}
    ranges: list[list[str]] = []
    for key in sorted(wanted, key=lambda k: position[k]):
        if ranges and position[ranges[-1][-1]] == position[key] - 1:
            ranges[-1].append(key)
        else:
            ranges.append([key])
    return ranges


def cell_boxes(
    cryptos: Sequence[str], fv_keys: Sequence[str], wanted: Iterable[tuple[str, str]]
) -> list[tuple[list[str], list[str]]]:
    """The wanted (crypto, fv) cells as boxes: neighbouring cryptos × neighbouring fv keys.

    A range of multi-partition keys is a box: every crypto from the start's to the end's, each with
    every fv key from the start's to the end's. Cryptos in a row (in the partitions' order) that want
    the same fv ranges share their boxes, so the whole grid is one box.
    """
    fvs_of: dict[str, set[str]] = {}
    for crypto, fv in wanted:
        fvs_of.setdefault(crypto, set()).add(fv)
    rows: list[tuple[list[str], list[list[str]]]] = []
    adjacent = False  # the previous crypto in the order is in the last row
    for crypto in cryptos:
        if crypto not in fvs_of:
            adjacent = False
            continue
        ranges = contiguous_ranges(fv_keys, fvs_of[crypto])
        if adjacent and rows[-1][1] == ranges:
            rows[-1][0].append(crypto)
        else:
            rows.append(([crypto], ranges))
        adjacent = True
    return [(row_cryptos, fvs) for row_cryptos, ranges in rows for fvs in ranges]


def build_partitions(catalogue: Catalogue) -> SweepPartitions:
    folds = fold_ids(catalogue.pipeline.folds)
    fv_keys = [fold_variant_key(f, c) for c in catalogue.config_ids() for f in folds]
    crypto = dg.StaticPartitionsDefinition(list(catalogue.universe))
    return SweepPartitions(
        crypto=crypto,
        cell=dg.MultiPartitionsDefinition(
            {CRYPTO_DIMENSION: crypto, FOLD_VARIANT_DIMENSION: dg.StaticPartitionsDefinition(fv_keys)}
        ),
        factor=dg.StaticPartitionsDefinition(catalogue.gate_names()),
    )
