"""The history benchmark's summary: its trend is numpy's least-squares line, in percent of the mean a sweep."""

import numpy as np
import pytest

from cvn_assets_bench.history_bench import summary, trend_percent


def test_the_trend_is_the_least_squares_slope_over_the_mean() -> None:
    values = [5.0, 5.4, 4.9, 5.3, 5.6, 5.1]
    slope = np.polyfit(np.arange(len(values)), values, 1)[0]
    assert trend_percent(values) == pytest.approx(100 * slope / np.mean(values), abs=1e-3)
    assert trend_percent([4.0, 4.0, 4.0]) == 0.0
    assert trend_percent([4.0]) is None


def test_the_summary_leaves_the_first_sweep_out_of_the_trend() -> None:
    records = [{"sweep_seconds": s, "plan_seconds": 0.1, "alert_scan_seconds": 0.01} for s in (9.0, 5.0, 5.0, 5.0)]
    assert summary(records)["sweep_seconds"]["trend_percent_per_sweep"] == 0.0
    assert summary(records)["sweep_seconds"]["last_over_first"] == pytest.approx(5 / 9, abs=1e-3)
