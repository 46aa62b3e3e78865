"""A failed run's error in one line: a project error without its class name, a gate whose inputs failed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from cvn_assets.orchestration.run_failures import error_text, gate_inputs_failed


@dataclass(frozen=True)
class _Error:
    message: str
    cls_name: str | None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            _Error("cvn_assets.core.errors.DataSourceError: no file for BTC\n", "DataSourceError"),
            "no file for BTC",
            id="project-error-loses-its-qualified-name",
        ),
        pytest.param(
            _Error("OhlcvValidationError: OHLCV for BTC: row 3: x\n", "OhlcvValidationError"),
            "OHLCV for BTC: row 3: x",
            id="bare-class-name",
        ),
        pytest.param(
            _Error("cvn_assets.core.errors.SettingsError: CVN_THREADS must be ...", "SettingsError"),
            "CVN_THREADS must be ...",
            id="subclass-of-two-bases",
        ),
        pytest.param(
            _Error("no prefix: as written", "CatalogueError"),
            "no prefix: as written",
            id="a-colon-in-the-message-itself-is-kept",
        ),
        pytest.param(_Error("KeyError: 'factor'\n", "KeyError"), "KeyError: 'factor'", id="a-bug-keeps-its-name"),
    ],
)
def test_error_text(error: _Error, expected: str) -> None:
    assert error_text(error) == expected


ROWS = pd.DataFrame({"factor": ["cleanlab"], "variant": ["off"]})
DATA_FAILED = {"crypto_data_job[BTC]": "BTC.csv (BTC): gap of 48 bars"}


@pytest.mark.parametrize(
    ("factor", "rows", "failures", "expected"),
    [
        pytest.param(
            "label_smoothing",
            ROWS,
            DATA_FAILED,
            "no results for factor label_smoothing: the data run of BTC failed: BTC.csv (BTC): gap of 48 bars",
            id="one-data-run",
        ),
        pytest.param(
            "label_smoothing",
            ROWS.iloc[:0],
            {**DATA_FAILED, "crypto_data_job[ETH]": "ETH.csv: no rows"},
            "no results for factor label_smoothing: the data runs of BTC, ETH failed "
            "(BTC: BTC.csv (BTC): gap of 48 bars)",
            id="several-data-runs",
        ),
        pytest.param(
            "label_smoothing",
            ROWS,
            {"cell_job[BTC|f1.baseline]": "fit failed"},
            "no results for factor label_smoothing: run cell_job[BTC|f1.baseline] failed: fit failed",
            id="a-cell-run",
        ),
        pytest.param("cleanlab", ROWS, DATA_FAILED, None, id="the-factor-has-rows-from-other-cryptos"),
        pytest.param("label_smoothing", ROWS, {}, None, id="nothing-failed-in-this-sweep"),
    ],
)
def test_gate_inputs_failed(factor: str, rows: pd.DataFrame, failures: dict[str, str], expected: str | None) -> None:
    assert gate_inputs_failed(factor, rows, failures) == expected
