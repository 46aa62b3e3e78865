"""The runs that compute a sweep's cells: boxes of neighbouring cells, each at most `cells_per_run` large,
and after a run failed, how what it left undone runs again.

A range of cell keys is a box of neighbouring cryptos × neighbouring fold.configuration keys
(`partitions.cell_boxes`). Boxes are cut to the run size: a run lost to a kill or a crash loses that
many cells at most, and the run queue can spread the runs over workers. A box failing runs again
finer: the cells whose blocking check failed each alone (each fails with its own message), the others
together selecting only what the failed run did not record (`range_retry`); when no check names the
culprit, one crypto per run, then one cell per run. A cell failing alone is a failure of the sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from cvn_assets.defs.jobs import CELL_JOB
from cvn_assets.defs.partitions import box_keys, cell_boxes, fold_variant_key, split_cell_key
from cvn_assets.orchestration.range_retry import Leftover, leftover
from cvn_assets.orchestration.runs import PlannedRun

# How finely the cells of a failed run are grouped when they run again.
BOXES, PER_CRYPTO, PER_CELL = 0, 1, 2


@dataclass(frozen=True)
class Attempt:
    """How a cell runs next: grouped at `level` with the cells that share it, selecting `assets` (None: all)."""

    level: int = BOXES
    assets: tuple[dg.AssetKey, ...] | None = None


@dataclass(frozen=True)
class Final:
    """The cell is not tried again in this sweep: `run` failed it, alone or after finishing every cell."""

    run: dg.DagsterRun


def chunk_box(cryptos: Sequence[str], fvs: Sequence[str], limit: int) -> list[tuple[list[str], list[str]]]:
    """A box cut into boxes of at most `limit` cells: each crypto's fv keys in pieces of near-equal size when
    they are `limit` or more, else rows of as many whole cryptos as fit."""
    if len(fvs) >= limit:
        pieces = -(-len(fvs) // limit)
        size, extra = divmod(len(fvs), pieces)
        bounds = [i * size + min(i, extra) for i in range(pieces + 1)]
        return [([crypto], list(fvs[bounds[i] : bounds[i + 1]])) for crypto in cryptos for i in range(pieces)]
    per_row = limit // len(fvs)
    return [(list(cryptos[i : i + per_row]), list(fvs)) for i in range(0, len(cryptos), per_row)]


def plan_cell_runs(
    todo: Mapping[str, Attempt],
    crypto_order: Sequence[str],
    fv_order: Sequence[str],
    limit: int,
    tags_of: Callable[[Sequence[str]], Mapping[str, str]],
) -> list[PlannedRun]:
    """The runs computing the `todo` cells (cell key -> attempt): cells of the same attempt share boxes,
    each cut to `limit` cells; `tags_of` gives the tags of a run over some cell keys."""
    groups: dict[Attempt, list[tuple[str, str]]] = {}
    for key, attempt in todo.items():
        crypto, fold, config = split_cell_key(key)
        groups.setdefault(attempt, []).append((crypto, fold_variant_key(fold, config)))
    runs = []
    for attempt, cells in groups.items():
        if attempt.level == PER_CELL:
            boxes = [([crypto], [fv]) for crypto, fv in cells]
        elif attempt.level == PER_CRYPTO:
            boxes = [
                box
                for crypto in crypto_order
                for box in cell_boxes(crypto_order, fv_order, [c for c in cells if c[0] == crypto])
            ]
        else:
            boxes = cell_boxes(crypto_order, fv_order, cells)
        for cryptos, fvs in boxes:
            for part in chunk_box(cryptos, fvs, limit):
                keys = box_keys(*part)
                runs.append(PlannedRun(CELL_JOB, tuple(keys), dict(tags_of(keys)), attempt.assets))
    return runs


class CellFailures:
    """What a sweep's failed cell runs (oldest first) mean for each cell they covered: how it runs next."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        failed: Sequence[dg.DagsterRun],
        partitions_of: Callable[[dg.DagsterRun], list[str]],
        all_assets: Sequence[dg.AssetKey],
        downstream: Callable[[Collection[dg.AssetKey]], Collection[dg.AssetKey]],
    ) -> None:
        self.instance, self.all_assets, self.downstream = instance, list(all_assets), downstream
        self.keys = {run.run_id: partitions_of(run) for run in failed}
        self.latest = {key: run for run in failed for key in self.keys[run.run_id]}
        self._leftovers: dict[str, Leftover] = {}

    def leftover(self, run: dg.DagsterRun) -> Leftover:
        if run.run_id not in self._leftovers:
            self._leftovers[run.run_id] = leftover(
                self.instance, run.run_id, self.keys[run.run_id], self.selected(run), self.downstream
            )
        return self._leftovers[run.run_id]

    def selected(self, run: dg.DagsterRun) -> list[dg.AssetKey]:
        return [key for key in self.all_assets if not run.asset_selection or key in run.asset_selection]

    def finished_all(self, run: dg.DagsterRun) -> bool:
        """Whether the failed run recorded every selected asset of every cell (it failed after its last one)."""
        left = self.leftover(run)
        return not left.cells and not left.failed_cells

    def next_attempt(self, key: str) -> Attempt | Final:
        """How cell `key` runs next, after the last failed run of the sweep that covered it (if any)."""
        run = self.latest.get(key)
        if run is None:
            return Attempt()
        keys = self.keys[run.run_id]
        if len(keys) == 1:
            return Final(run)
        left = self.leftover(run)
        if key in left.failed_cells:
            selected = self.selected(run)
            return Attempt(PER_CELL, None if selected == self.all_assets else tuple(selected))
        if not left.cells:  # every other cell finished
            return Final(run)
        rest = None if set(left.assets) == set(self.all_assets) else tuple(left.assets)
        return Attempt(retry_level(keys, left), rest)


def retry_level(keys: Sequence[str], left: Leftover) -> int:
    """How finely the cells a failed run over `keys` left undone (not failing a check) run again."""
    cryptos = {split_cell_key(key)[0] for key in keys}
    if left.failed_cells:  # the culprits are known and run alone: the others keep their grouping
        return BOXES if len(cryptos) > 1 else PER_CRYPTO
    return PER_CRYPTO if len(cryptos) > 1 else PER_CELL


def retry_reason(keys: Sequence[str], left: Leftover) -> str | None:
    """What runs again after a failed run over `keys` and why, or None when it finished every cell."""
    if not left.cells and not left.failed_cells:
        return None
    done = len(keys) - len(left.cells) - len(left.failed_cells)
    what = f"{done} cell(s) finished, {len(left.failed_cells)} failed a check, {len(left.cells)} left"
    if left.failed_cells:
        return f"without the cells that failed a check ({what})"
    return f"one {'crypto' if retry_level(keys, left) == PER_CRYPTO else 'cell'} per run ({what})"
