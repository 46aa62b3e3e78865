"""Resources: where OHLCV comes from, which catalogue a sweep uses, where results and models go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr

from cvn_assets.core.alerts.sink import AlertSink, AlertStore
from cvn_assets.core.alerts.webhook import WebhookSender
from cvn_assets.core.catalogue.loading import Catalogue, load_catalogue
from cvn_assets.core.data.loading import OhlcvSourceSpec, load_ohlcv_once
from cvn_assets.core.data.validation import OhlcvRules
from cvn_assets.core.results.store import ResultsStore
from cvn_assets.defs.frame_store import FrameStore


class OhlcvSourceResource(dg.ConfigurableResource):
    """OHLCV per crypto: the embedded real data set by default, or your CSV/Parquet files or a SQL table."""

    directory: str | None = None
    file_pattern: str = "{crypto}.*"
    sql_url: str | None = None
    sql_table: str | None = None
    bar: str = "1h"
    # The catalogue's `data.max_gap_bars` or CVN_MAX_GAP_BARS, as `build_defs` resolves them.
    max_gap_bars: int | None = None

    @property
    def rules(self) -> OhlcvRules:
        """The tolerances the OHLCV is validated with, on loading and in its check."""
        return OhlcvRules() if self.max_gap_bars is None else OhlcvRules(max_gap_bars=self.max_gap_bars)

    def load(self, crypto: str) -> pd.DataFrame:
        spec = OhlcvSourceSpec(
            directory=self.directory,
            file_pattern=self.file_pattern,
            sql_url=self.sql_url,
            sql_table=self.sql_table,
            bar=self.bar,
        )
        return load_ohlcv_once(crypto, spec, self.rules)

    def describe(self) -> str:
        if self.sql_url:
            return f"table {self.sql_table}"
        return f"files {Path(self.directory) / self.file_pattern}" if self.directory else "embedded Bitfinex candles"


class SweepResource(dg.ConfigurableResource):
    """The catalogue of the sweep and its name; learners' thread count."""

    catalogue_path: str | None = None
    universe: list[str] | None = None
    sweep_id: str | None = None
    n_threads: int = 2
    # Cells of a run computed at once in worker processes, each fit with n_threads: cell_workers x
    # n_threads <= cores.
    cell_workers: int = 1
    # Where those cells compute: "auto" (worker processes for a run of MIN_CELLS_FOR_PROCESSES cells
    # or more, one at a time in the run's process below: starting the processes costs seconds), "on" or "off".
    cell_processes: str = "auto"
    # Cells one sweep run computes at most: a run lost to a crash or a kill loses no more.
    # 10 by default: with 2 cells at once, 5 rounds and no worker idle at a run's end (runs of 5 leave one
    # idle for a round, and pay the per-run cost twice as often).
    cells_per_run: int = 10
    # How often a sweep waiting for runs in progress (its own submitted ones, or another sweep's) looks again.
    poll_seconds: float = 5.0

    _catalogue: Catalogue | None = PrivateAttr(default=None)

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = load_catalogue(self.catalogue_path, universe=self.universe)
        return self._catalogue

    @property
    def name(self) -> str:
        return self.sweep_id or self.catalogue.sweep_name


class ResultsStoreResource(dg.ConfigurableResource):
    """The `finetune_results` table (SQLite file by default; any SQLAlchemy URL, e.g. PostgreSQL)."""

    url: str

    _store: ResultsStore | None = PrivateAttr(default=None)

    def store(self) -> ResultsStore:
        if self._store is None:
            self._store = ResultsStore(self.url)
        return self._store


ASSETS_FOLDER = "assets"


class ArtifactStoreResource(dg.ConfigurableResource):
    """Directory for model artifacts, one scoring bundle per cell and model, and for asset values."""

    base_dir: str

    def frames(self) -> FrameStore:
        """Where the file IO manager keeps asset values (`<base_dir>/assets`, as the definitions configure it)."""
        return FrameStore(Path(self.base_dir) / ASSETS_FOLDER)

    def model_path(self, crypto: str, fold: str, config_id: str, model: str) -> Path:
        return Path(self.base_dir) / "models" / crypto / fold / config_id / f"{model}.pkl"

    def write_model(self, crypto: str, fold: str, config_id: str, model: str, payload: bytes) -> Path:
        path = self.model_path(crypto, fold, config_id, model)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(payload)
        temporary.replace(path)
        return path


class AlertSinkResource(dg.ConfigurableResource):
    """Where alerts go: the `alerts` table (queryable with `cvn-assets alerts`), the log, and a
    Slack-compatible webhook when one is configured. Sending an alert never starts any run."""

    url: str
    webhook_url: str | None = None

    _store: AlertStore | None = PrivateAttr(default=None)

    def store(self) -> AlertStore:
        if self._store is None:
            self._store = AlertStore(self.url)
        return self._store

    def sink(self, log: Callable[[str], None]) -> AlertSink:
        webhook = WebhookSender(self.webhook_url) if self.webhook_url else None
        return AlertSink(self.store(), webhook, log)
