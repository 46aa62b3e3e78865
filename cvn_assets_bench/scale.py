"""Cost per cell as the sweep grows: the same grid over 5, 10 and 20 generated cryptos, through Dagster.

Each size runs on a fresh temporary instance, in this process, as `cvn-assets run` does (in-process
launcher, the configured workers and threads). Every crypto holds the same seeded random walk under its
own name, so every crypto's cells do the same work (each crypto is still computed and stored on its
own) and a growing time per cell can only come from the orchestration.
Besides the whole sweep's time per cell, which falls as its fixed costs spread over more cells, the
table gives the cell phase's (the cell runs and the planning between them), where a cost that grew
with the sweep would show.

    python -m cvn_assets_bench.scale --cryptos 5 10 20 --bars 6000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import yaml

from cvn_assets.core.catalogue.loading import DEFAULT_CATALOGUE_PATH
from cvn_assets.core.catalogue.yaml_io import read_catalogue_document
from cvn_assets.defs.build import build_defs
from cvn_assets.defs.jobs import CELL_JOB
from cvn_assets.defs.settings import Settings
from cvn_assets.orchestration.runner import run_sweep

MODEL = "xgboost"
SCALE_FACTORS = ("label_smoothing", "cleanlab")
# One walk for every crypto: with different walks, the fits' own cost would differ from crypto to crypto.
CANDLES_SEED = 0


def random_walk_candles(bars: int, seed: int) -> pd.DataFrame:
    """Hourly candles of a seeded log random walk (1 % hourly volatility), as a CSV export would hold them."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, bars)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0.0, 0.01, bars)) * close
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2021-01-01", periods=bars, freq="1h", tz="UTC"),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.lognormal(10.0, 0.3, bars),
        }
    )


def scale_catalogue(cryptos: Sequence[str]) -> dict[str, object]:
    """The default sweep's two factors (5 training configurations, as the packaged catalogue defines
    them) with one learner and no ensemble."""
    factors = read_catalogue_document(DEFAULT_CATALOGUE_PATH)["factors"]
    return {
        "sweep": {"name": "scale", "universe": list(cryptos), "seed": 7, "models": [MODEL], "primary_model": MODEL},
        "factors": {name: factors[name] for name in SCALE_FACTORS},
    }


def run_size(n_cryptos: int, bars: int, root: Path) -> dict[str, float | int]:
    """Wall time of one whole sweep (data, cells, gates) over `n_cryptos` generated cryptos."""
    cryptos = [f"C{i:02d}" for i in range(n_cryptos)]
    data = root / "data"
    data.mkdir(parents=True)
    candles = random_walk_candles(bars, seed=CANDLES_SEED)
    for crypto in cryptos:
        candles.to_csv(data / f"{crypto}.csv", index=False)
    catalogue = root / "catalogue.yaml"
    catalogue.write_text(yaml.safe_dump(scale_catalogue(cryptos), sort_keys=False))
    settings = Settings.on_files(
        catalogue,
        data,
        root / "storage",
        n_threads=int(os.environ.get("CVN_THREADS", "1")),
        cell_workers=int(os.environ.get("CVN_CELL_WORKERS", str(os.cpu_count() or 1))),
    )
    home = root / "home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        started = time.perf_counter()
        report = run_sweep(build_defs(settings), instance, log=lambda _: None)
        wall = time.perf_counter() - started
        cell_phase = cell_phase_seconds(instance)
    if report.failures:
        raise SystemExit(f"the sweep over {n_cryptos} cryptos failed: {report.failures}")
    cells = n_cryptos * 5 * 5
    return {
        "cryptos": n_cryptos,
        "cells": cells,
        "wall_seconds": round(wall, 1),
        "seconds_per_cell": round(wall / cells, 3),
        "cell_phase_seconds": round(cell_phase, 1),
        "cell_phase_seconds_per_cell": round(cell_phase / cells, 3),
        "runs": report.runs,
    }


def cell_phase_seconds(instance: dg.DagsterInstance) -> float:
    """From the creation of the first cell run to the end of the last: the cells' runs and the planning
    between them, without what a sweep pays once whatever its size (imports, starting the workers, the
    gates, each crypto's data)."""
    records = instance.get_run_records(dg.RunsFilter(job_name=CELL_JOB))
    ends = [r.end_time for r in records if r.end_time is not None]
    return max(ends) - min(r.create_timestamp.timestamp() for r in records) if ends else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cryptos", type=int, nargs="+", default=[5, 10, 20], help="sweep sizes, in cryptos")
    parser.add_argument("--bars", type=int, default=6000, help="hourly bars per generated crypto")
    parser.add_argument("--out", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for n_cryptos in args.cryptos:
        with tempfile.TemporaryDirectory(prefix=f"cvn-scale-{n_cryptos}-") as tmp:
            rows.append(run_size(n_cryptos, args.bars, Path(tmp)))
        print(json.dumps(rows[-1]), flush=True)
    first, first_phase = rows[0]["seconds_per_cell"], rows[0]["cell_phase_seconds_per_cell"]
    for row in rows:
        row["per_cell_vs_smallest"] = round(float(row["seconds_per_cell"]) / float(first), 3)
        phase = float(row["cell_phase_seconds_per_cell"])
        row["cell_phase_per_cell_vs_smallest"] = round(phase / float(first_phase), 3)
    print(pd.DataFrame(rows).to_string(index=False))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
