"""How a sweep's cells are cut into runs, and how the cells of a failed run run again."""

import pytest

from cvn_assets.orchestration.cell_runs import (
    BOXES,
    PER_CELL,
    PER_CRYPTO,
    Attempt,
    chunk_box,
    plan_cell_runs,
    retry_level,
)
from cvn_assets.orchestration.range_retry import Leftover

CRYPTOS = ["BTC", "ETH", "SOL", "XRP", "ADA"]
FVS = [
    f"f{fold}.{config}"
    for config in ("baseline", "ls_mild", "ls_aggressive", "cl_filter", "cl_reweight")
    for fold in range(1, 6)
]


@pytest.mark.parametrize(
    ("cryptos", "fvs", "limit", "expected"),
    [
        pytest.param(["A"], ["x", "y", "z"], 5, [(["A"], ["x", "y", "z"])], id="small-enough"),
        # 2 cryptos of 2 keys fit a run of 5 only one crypto at a time: whole cryptos, never a split row
        pytest.param(["A", "B", "C"], ["x", "y"], 5, [(["A", "B"], ["x", "y"]), (["C"], ["x", "y"])], id="rows"),
        # 7 keys in runs of at most 3: 3 pieces of 3, 2, 2 (not 3, 3, 1) per crypto
        pytest.param(
            ["A", "B"],
            list("abcdefg"),
            3,
            [
                (["A"], ["a", "b", "c"]),
                (["A"], ["d", "e"]),
                (["A"], ["f", "g"]),
                (["B"], ["a", "b", "c"]),
                (["B"], ["d", "e"]),
                (["B"], ["f", "g"]),
            ],
            id="pieces",
        ),
        pytest.param(["A", "B"], ["x"], 1, [(["A"], ["x"]), (["B"], ["x"])], id="one-cell-runs"),
    ],
)
def test_a_box_is_cut_into_boxes_of_at_most_the_run_size(
    cryptos: list[str], fvs: list[str], limit: int, expected: list[tuple[list[str], list[str]]]
) -> None:
    assert chunk_box(cryptos, fvs, limit) == expected


def test_the_default_grid_runs_one_crypto_and_configuration_per_run_of_five_cells() -> None:
    todo = {f"{crypto}|{fv}": Attempt() for crypto in CRYPTOS for fv in FVS}
    runs = plan_cell_runs(todo, CRYPTOS, FVS, 5, lambda keys: {"cells": str(len(keys))})
    assert len(runs) == 25 and {len(run.keys) for run in runs} == {5}
    assert runs[0].label == "cell_job[BTC|f1.baseline...BTC|f5.baseline]"
    assert runs[0].tags == {"cells": "5"} and runs[0].assets is None
    assert sorted(key for run in runs for key in run.keys) == sorted(todo)


def test_cells_running_again_keep_their_grouping_and_asset_selection_apart() -> None:
    todo = {
        "BTC|f1.baseline": Attempt(PER_CELL),
        "BTC|f2.baseline": Attempt(PER_CRYPTO),
        "ETH|f2.baseline": Attempt(PER_CRYPTO),
        "ETH|f1.baseline": Attempt(BOXES),
    }
    runs = plan_cell_runs(todo, CRYPTOS, FVS, 5, lambda keys: {})
    assert [run.keys for run in runs] == [
        ("BTC|f1.baseline",),
        ("BTC|f2.baseline",),
        ("ETH|f2.baseline",),
        ("ETH|f1.baseline",),
    ]


@pytest.mark.parametrize(
    ("keys", "left", "level"),
    [
        # no check named the culprit: over several cryptos, one crypto per run; within one, one cell per run
        pytest.param(["BTC|f1.x", "ETH|f1.x"], Leftover([], ["BTC|f1.x", "ETH|f1.x"], []), PER_CRYPTO, id="cryptos"),
        pytest.param(["BTC|f1.x", "BTC|f2.x"], Leftover([], ["BTC|f1.x", "BTC|f2.x"], []), PER_CELL, id="one-crypto"),
        # a check named it: it runs alone, the others as before
        pytest.param(["BTC|f1.x", "ETH|f1.x"], Leftover(["BTC|f1.x"], ["ETH|f1.x"], []), BOXES, id="culprit"),
    ],
)
def test_the_cells_a_failed_run_left_run_again_finer(keys: list[str], left: Leftover, level: int) -> None:
    assert retry_level(keys, left) == level
