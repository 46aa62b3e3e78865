"""How the audit report shows a check: a failed blocking check as FAILED, a failed non-blocking one as a warning."""

from cvn_assets.core.dossier.audit import _check


def test_a_failed_blocking_check_reads_failed() -> None:
    line = _check(
        {
            "check": "metrics_valid",
            "asset": "fold_metrics",
            "partition": "BTC|f1.baseline",
            "passed": False,
            "blocking": True,
            "observed": 0.0,
        }
    )
    assert line == "- metrics_valid on `fold_metrics[BTC|f1.baseline]`: FAILED (observed 0.0)"


def test_a_failed_non_blocking_check_reads_as_a_warning() -> None:
    line = _check(
        {
            "check": "models_beat_always_buy",
            "asset": "fold_metrics",
            "partition": "BTC|f1.baseline",
            "passed": False,
            "blocking": False,
        }
    )
    assert line == "- models_beat_always_buy on `fold_metrics[BTC|f1.baseline]`: warning"
