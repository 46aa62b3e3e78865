"""Per-cell alerts grouped into one alert per sweep × variant × kind, recorded with their cells."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from cvn_assets.core.alerts.alert import Alert
from cvn_assets.core.alerts.groups import CellAlert, group_cell_alerts, send_cell_alerts
from cvn_assets.core.alerts.sink import AlertSink, AlertStore
from cvn_assets_tests.webhook_endpoint import WebhookEndpoint


def _cell(
    cell: str,
    observed: float,
    kind: str = "cleanlab_drop_rate",
    variant: str = "cl_filter",
    sweep: str = "default",
    severity: str = "warn",
    threshold: float = 4.5,
) -> CellAlert:
    alert = Alert(
        kind=kind,
        severity=severity,
        subject=f"cleanlab_mask {cell}.{variant}",
        message=f"cleanlab drops {observed:.2f} % of training rows",
        observed=observed,
        threshold=threshold,
        dedup_key=f"{kind}:{cell}.{variant}:{observed:.4f}",
    )
    return CellAlert(alert, sweep, variant, cell)


# Three drop-rate cells and two BUY-drop cells of cl_filter, one drop-rate cell of cl_reweight, and one
# of cl_filter in another sweep: four groups.
CELLS = [
    _cell("BTC|f1", 4.6),
    _cell("BTC|f2", 4.9),
    _cell("ETH|f1", 4.7),
    _cell("BTC|f1", 3.2, kind="minority_decimation", threshold=3.0),
    _cell("ETH|f3", 3.5, kind="minority_decimation", threshold=3.0, severity="critical"),
    _cell("BTC|f1", 4.8, variant="cl_reweight"),
    _cell("LTC|f1", 4.6, sweep="other"),
]


@pytest.fixture
def store(tmp_path: Path) -> AlertStore:
    return AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}")


@pytest.fixture
def webhook() -> Iterator[WebhookEndpoint]:
    server = WebhookEndpoint()
    yield server
    server.close()


def test_one_group_per_sweep_variant_and_kind_with_its_cells_and_worst_value() -> None:
    groups = group_cell_alerts(CELLS)
    assert [(g.details["sweep"], g.details["variant"], g.kind, len(members)) for g, members in groups] == [
        ("default", "cl_filter", "cleanlab_drop_rate", 3),
        ("default", "cl_filter", "minority_decimation", 2),
        ("default", "cl_reweight", "cleanlab_drop_rate", 1),
        ("other", "cl_filter", "cleanlab_drop_rate", 1),
    ]
    drop, members = groups[0]
    assert members == [c.alert for c in CELLS[:3]]
    assert (drop.observed, drop.threshold, drop.severity) == (4.9, 4.5, "warn")
    assert drop.subject == "3 cell(s) of cl_filter in sweep default"
    assert drop.message == (
        "worst BTC|f2: cleanlab drops 4.90 % of training rows; cells: BTC|f1 4.6, BTC|f2 4.9, ETH|f1 4.7"
    )
    assert drop.details["cells"] == {"BTC|f1": 4.6, "BTC|f2": 4.9, "ETH|f1": 4.7}
    buy_drop = groups[1][0]
    # the worst cell's value and threshold; the most severe of the cells
    assert (buy_drop.observed, buy_drop.threshold, buy_drop.severity) == (3.5, 3.0, "critical")


def test_the_same_cells_make_the_same_group_key_in_any_order_and_other_cells_another() -> None:
    key = group_cell_alerts(CELLS[:3])[0][0].dedup_key
    assert group_cell_alerts(CELLS[2::-1])[0][0].dedup_key == key
    assert group_cell_alerts(CELLS[:2])[0][0].dedup_key != key


def test_only_new_cells_are_grouped_and_the_cells_stay_listed_in_detail(store: AlertStore) -> None:
    lines: list[str] = []
    sink = AlertSink(store, None, lines.append)
    assert send_cell_alerts(sink, CELLS) == 4
    assert len(lines) == 4  # one log line per group, not per cell
    assert sorted(store.query()["subject"]) == [
        "1 cell(s) of cl_filter in sweep other",
        "1 cell(s) of cl_reweight in sweep default",
        "2 cell(s) of cl_filter in sweep default",
        "3 cell(s) of cl_filter in sweep default",
    ]
    assert sorted(store.query(detail=True)["dedup_key"]) == sorted(c.alert.dedup_key for c in CELLS)
    assert send_cell_alerts(sink, CELLS) == 0  # the same observations again: silent
    later = _cell("LTC|f5", 4.95)
    assert send_cell_alerts(sink, [*CELLS, later]) == 1  # only the new cell, in a group of its own
    newest = store.query(kind="cleanlab_drop_rate")
    assert len(newest) == 4 and newest["details"].iloc[0]["cells"] == {"LTC|f5": 4.95}
    assert len(store.query(detail=True)) == len(CELLS) + 1


def test_an_alert_sent_alone_is_listed_both_ways(store: AlertStore) -> None:
    sink = AlertSink(store, None, lambda _: None)
    alone = CELLS[0].alert
    assert sink.send(alone)
    assert store.query()["dedup_key"].tolist() == store.query(detail=True)["dedup_key"].tolist() == [alone.dedup_key]


def test_the_webhook_gets_one_post_per_group(store: AlertStore, webhook: WebhookEndpoint) -> None:
    from cvn_assets.core.alerts.webhook import WebhookSender

    sink = AlertSink(store, WebhookSender(webhook.url), lambda _: None)
    # 25 cells of each of two variants, each alerting on both kinds: 100 cell alerts, 4 groups.
    cells = [
        _cell(f"{crypto}|f{fold}", 4.6 + fold / 100, kind=kind, variant=variant, threshold=threshold)
        for variant in ("cl_filter", "cl_reweight")
        for kind, threshold in (("cleanlab_drop_rate", 4.5), ("minority_decimation", 3.0))
        for crypto in ("BTC", "ETH", "LTC", "XRP", "EOS")
        for fold in range(1, 6)
    ]
    assert len(cells) == 100
    assert send_cell_alerts(sink, cells) == 4
    assert len(webhook.bodies) == 4
    assert all(
        body["text"].startswith("[WARN] ")
        and "25 cell(s) of cl_" in body["text"]
        and "worst BTC|f5" in body["text"]
        and "EOS|f5 4.65" in body["text"]
        for body in webhook.bodies
    )
