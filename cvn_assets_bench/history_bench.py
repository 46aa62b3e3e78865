"""Does a sweep cost more on an instance that already holds many? Forced sweeps, one after another.

`python -m cvn_assets_bench.history_bench` runs `--sweeps` forced sweeps (default 20) of a tiny grid
(the `--quick` catalogue of `cvn-assets bench`: one crypto, two folds, XGBoost with few rounds) on one
fresh temporary instance, and reports the time of each: the whole sweep, and what in it reads the
instance's history — planning an up-to-date sweep (every partition's last run and fingerprint, the runs
in flight, the sweep's own runs) and the end-of-sweep alert scan. A sweep's cost must not grow with the
sweeps before it: the 20th within a few per cent of the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import dagster as dg
import scipy.stats
import yaml

from cvn_assets.core.data.loading import load_ohlcv
from cvn_assets.defs.alerts.sensors import scan_new_events
from cvn_assets.defs.build import build_defs
from cvn_assets.defs.settings import Settings
from cvn_assets.orchestration.runner import new_sweep_id, run_sweep
from cvn_assets.orchestration.state import Selection
from cvn_assets.orchestration.steps import SweepPlanner
from cvn_assets_bench.workload import QUICK_CATALOGUE, QUICK_CRYPTOS, QUICK_ROWS

DEFAULT_SWEEPS = 20
# The first and last sweeps compared by their median, so that one slow sweep on a busy machine does not decide.
COMPARED_SWEEPS = 3


def _settings(root: Path) -> Settings:
    data = root / "data"
    data.mkdir()
    for crypto in QUICK_CRYPTOS:
        load_ohlcv(crypto).head(QUICK_ROWS).to_csv(data / f"{crypto}.csv", index=False)
    catalogue = root / "catalogue.yaml"
    catalogue.write_text(yaml.safe_dump(QUICK_CATALOGUE, sort_keys=False))
    return Settings.on_files(catalogue, data, root / "storage", n_threads=1, mlflow_enabled=False)


def measure(sweeps: int, root: Path) -> list[dict[str, Any]]:
    """Times `sweeps` forced sweeps on one instance under `root`: one record per sweep."""
    defs = build_defs(_settings(root))
    sweep = defs.resources["sweep"]
    sink = defs.resources["alert_sink"].sink(lambda _: None)
    # A first sweep on a throwaway in-memory instance: imports and caches of the process are warm before sweep 1.
    with dg.DagsterInstance.ephemeral() as warm_up:
        run_sweep(defs, warm_up, force=True, log=lambda _: None)
    records = []
    (root / "home").mkdir()
    with dg.DagsterInstance.local_temp(str(root / "home"), overrides={"telemetry": {"enabled": False}}) as instance:
        for number in range(1, sweeps + 1):
            started = time.perf_counter()
            report = run_sweep(defs, instance, force=True, log=lambda _: None)
            swept = time.perf_counter() - started
            if not report.ok:
                raise RuntimeError(f"sweep {number} failed: {report.failures}")
            started = time.perf_counter()
            up_to_date = SweepPlanner(defs, instance, new_sweep_id(), Selection()).step()
            planned = time.perf_counter() - started
            started = time.perf_counter()
            scan_new_events(instance, sink, sweep.catalogue.pipeline.alerts, sweep.name)
            scanned = time.perf_counter() - started
            records.append(
                {
                    "sweep": number,
                    "runs": report.runs,
                    "executed": report.executed,
                    "sweep_seconds": round(swept, 3),
                    "plan_seconds": round(planned, 4),
                    "alert_scan_seconds": round(scanned, 4),
                    "left_to_run": len(up_to_date.runs),
                }
            )
            print(json.dumps(records[-1]), flush=True)
    return records


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Sweep 1 against the last, the median of the first few against the last few, and the trend."""
    out: dict[str, Any] = {}
    for key in ("sweep_seconds", "plan_seconds", "alert_scan_seconds"):
        values = [record[key] for record in records]
        first, last = (statistics.median(values[:COMPARED_SWEEPS]), statistics.median(values[-COMPARED_SWEEPS:]))
        out[key] = {
            "first": values[0],
            "last": values[-1],
            "last_over_first": round(values[-1] / values[0], 3),
            f"median_first_{COMPARED_SWEEPS}": first,
            f"median_last_{COMPARED_SWEEPS}": last,
            "median_last_over_first": round(last / first, 3),
            "trend_percent_per_sweep": trend_percent(values[1:]),
        }
    return out


def trend_percent(values: list[float]) -> float | None:
    """The least-squares slope of `values` over their order, in percent of their mean a sweep (sweep 1
    is left out by the caller: it also creates the stores). Single sweeps on a shared VM vary by
    more than a slow growth would add over 20, so the trend is what says whether history costs."""
    if len(values) < 2:
        return None
    fit = scipy.stats.linregress(range(len(values)), values)
    return round(100 * float(fit.slope) / statistics.fmean(values), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=DEFAULT_SWEEPS, help=f"forced sweeps (default {DEFAULT_SWEEPS})")
    parser.add_argument("--out", type=Path, help="JSON file for every sweep's times and the summary")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cvn-history-bench-") as root:
        records = measure(args.sweeps, Path(root))
    result = {"sweeps": records, "summary": summary(records)}
    print(json.dumps(result["summary"], indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
