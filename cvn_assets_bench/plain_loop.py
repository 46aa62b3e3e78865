"""The sweep as a plain Python loop: the core functions the assets and checks call, in the order the
sweep runner runs them, with every value kept in memory (no Dagster, no files, no database).

Per crypto: OHLCV → features → raw labels → folds. Per cell (crypto × fold × configuration):
training targets, cleanlab mask, every model's fit/predict/calibration/threshold, the ensembles and
the fold metrics, with the same blocking sanity rules as the asset checks. Then the gate of every
factor and of each joint rule, whose candidate cells are trained first when the rule allows it.
What the Dagster layer adds on top (storing values, model files, metadata, the event log) is left
out on purpose: it is what the benchmark compares against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import pandas as pd

from cvn_assets.core.catalogue.loading import Catalogue, model_choices
from cvn_assets.core.checks.sanity import (
    CheckOutcome,
    cleanlab_cap_sanity,
    degenerate_metrics_sanity,
    label_sanity,
    prediction_sanity,
    training_targets_sanity,
)
from cvn_assets.core.data.features import build_features
from cvn_assets.core.data.loading import OhlcvSourceSpec, load_ohlcv, ohlcv_content_hash
from cvn_assets.core.data.validation import validate_ohlcv
from cvn_assets.core.ensembles.cell import run_cell_ensembles
from cvn_assets.core.gate import verdicts_to_dict
from cvn_assets.core.gate.sweep import decide_joint, evaluate_joint, evaluate_single_factor, gate_table
from cvn_assets.core.labels.events import event_labels
from cvn_assets.core.metrics import TradeSimulator
from cvn_assets.core.metrics.evaluation import cell_metrics, result_rows
from cvn_assets.core.noise import apply_cleanlab, compute_cleanlab_mask
from cvn_assets.core.schema import RESULT_KEY_COLUMNS
from cvn_assets.core.training.fit import FIT_LIBRARIES, fit_and_predict, training_targets
from cvn_assets.core.training.fold_frames import folds_from_frame, folds_to_frame
from cvn_assets.core.training.folds import FoldWindows, fold_ids, walk_forward_folds
from cvn_assets.execution import computes_in_processes, native_thread_limits, run_tasks, task_pool
from cvn_assets_bench.measure import StageClock

Outputs = dict[str, pd.DataFrame]
T = TypeVar("T")
# What a worker process imports as it starts (as the cell step's workers do, without Dagster).
WORKER_IMPORTS = ("cvn_assets_bench.plain_loop", *FIT_LIBRARIES)
CellOutcome = tuple[pd.DataFrame | None, StageClock, str | None]
TimedOutcome = tuple[pd.DataFrame | None, StageClock, str | None, float]
CELL = "cell"  # the plain loop's one task per cell: the whole cell


class BlockingCheckFailed(Exception):
    """A sanity rule that stops the rest of a cell (or crypto), as a blocking asset check does."""


@dataclass(frozen=True, eq=False)
class CryptoData:
    """Per-crypto values shared by every cell of that crypto."""

    crypto: str
    features: pd.DataFrame
    labels: pd.DataFrame
    fold_frame: pd.DataFrame
    ohlcv: pd.DataFrame


@dataclass
class PlainSweep:
    """What the loop produced: results rows, verdict tables per gate, failures, and stage times."""

    rows: list[pd.DataFrame] = field(default_factory=list)
    verdicts: dict[str, pd.DataFrame] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    cells: int = 0
    clock: StageClock = field(default_factory=StageClock)

    def results(self) -> pd.DataFrame:
        """Every results row, last write winning per key as in the results store."""
        if not self.rows:
            return pd.DataFrame(columns=list(RESULT_KEY_COLUMNS))
        frame = pd.concat(self.rows, ignore_index=True)
        return frame.drop_duplicates(subset=list(RESULT_KEY_COLUMNS), keep="last").reset_index(drop=True)


def _require(outcome: CheckOutcome, what: str) -> None:
    if not outcome.passed:
        raise BlockingCheckFailed(f"{what}: {outcome.detail}")


def prepare_crypto(crypto: str, catalogue: Catalogue, source: OhlcvSourceSpec, clock: StageClock) -> CryptoData:
    """OHLCV, features, triple-barrier labels and the fold plan of one crypto (the crypto data job)."""
    pipeline = catalogue.pipeline
    with clock.stage("data"):
        ohlcv = load_ohlcv(crypto, source, pipeline.data)
        ohlcv_content_hash(ohlcv)
    with clock.stage("checks"):
        validate_ohlcv(ohlcv, crypto, source.bar, pipeline.data)
    with clock.stage("data"):
        features = build_features(ohlcv, pipeline.features)
        labels = event_labels(ohlcv, pipeline.labels, pipeline.events)
    with clock.stage("checks"):
        _require(label_sanity(labels, pipeline.labels.horizon, pipeline.checks), f"{crypto} raw_labels")
    with clock.stage("data"):
        folds = walk_forward_folds(
            labels["timestamp"], labels["label"].notna().to_numpy(), pipeline.labels.horizon, pipeline.folds
        )
        fold_frame = folds_to_frame(folds, labels["timestamp"])
    return CryptoData(crypto, features, labels, fold_frame, ohlcv)


def _fold_of(fold_frame: pd.DataFrame, fold_id: str) -> FoldWindows:
    for fold in folds_from_frame(fold_frame):
        if fold.fold == fold_id:
            return fold
    raise KeyError(f"fold {fold_id} is not in the fold plan")


def run_cell(
    data: CryptoData,
    fold_id: str,
    config_id: str,
    catalogue: Catalogue,
    sweep_id: str,
    n_threads: int,
    clock: StageClock,
) -> pd.DataFrame:
    """Results rows of one cell; raises BlockingCheckFailed where a blocking check would stop the run."""
    pipeline, config = catalogue.pipeline, catalogue.config(config_id)
    where = f"{data.crypto}|{fold_id}.{config_id}"
    cleanlab_params = config.params_for("cleanlab")
    with clock.stage("labels"):
        fold = _fold_of(data.fold_frame, fold_id)
        simulator = TradeSimulator.from_ohlcv(data.ohlcv, pipeline.labels, pipeline.costs)
        targets = training_targets(data.labels, fold, config.params_for("label_smoothing"))
    with clock.stage("cleanlab"):
        mask = compute_cleanlab_mask(
            data.features,
            data.labels,
            fold.train,
            cleanlab_params,
            label_horizon=pipeline.labels.horizon,
            embargo_bars=pipeline.folds.embargo_bars,
            seed=catalogue.seed,
            n_threads=n_threads,
        )
    with clock.stage("checks"):
        _require(training_targets_sanity(targets, fold.train), f"{where} smoothed_labels")
        _require(
            cleanlab_cap_sanity(mask.frame.assign(mode=mask.mode), cleanlab_params.max_drop_pct),
            f"{where} cleanlab_mask",
        )
    outputs: dict[str, Outputs] = {}
    for model in catalogue.models:
        with clock.stage(f"model:{model}"):
            fit_targets, cleanlab_weights = apply_cleanlab(targets, mask, mask.mode)
            learner_name, learner_params = config.learner_for(model, pipeline.learners.get(model))
            outcome = fit_and_predict(
                model,
                data.features,
                data.labels,
                fold,
                fit_targets,
                label_horizon=pipeline.labels.horizon,
                embargo_bars=pipeline.folds.embargo_bars,
                sample_weight=cleanlab_weights,
                learner_params=learner_params,
                learner_name=learner_name,
                class_balancing=pipeline.training.class_balancing,
                calibration=pipeline.calibration,
                threshold=pipeline.threshold,
                seed=catalogue.seed,
                n_threads=n_threads,
                simulator=simulator,
            )
            outputs[model] = {"predictions": outcome.predictions, "models": pd.DataFrame([outcome.summary()])}
        with clock.stage("checks"):
            _require(prediction_sanity(outcome.predictions), f"{where} {model} predictions")
    if catalogue.ensembles:
        with clock.stage("ensembles"):
            outputs["stacked_ensemble"] = run_ensembles(outputs, catalogue, n_threads, simulator)
        with clock.stage("checks"):
            _require(prediction_sanity(outputs["stacked_ensemble"]["predictions"]), f"{where} ensemble predictions")
    with clock.stage("metrics"):
        predictions = pd.concat([value["predictions"] for value in outputs.values()], ignore_index=True)
        summaries = pd.concat([value["models"] for value in outputs.values()], ignore_index=True)
        metrics = cell_metrics(predictions, summaries, simulator)
        rows = result_rows(
            metrics,
            sweep_id=sweep_id,
            crypto=data.crypto,
            fold=fold_id,
            config_id=config_id,
            members=config.members,
            model_choices=model_choices(catalogue),
        )
    return rows


def run_ensembles(
    base: dict[str, Outputs], catalogue: Catalogue, n_threads: int, simulator: TradeSimulator | None = None
) -> Outputs:
    """Every ensemble of the sweep over the base models' predictions of one cell."""
    pipeline = catalogue.pipeline
    failed = sorted(m for m, value in base.items() if (value["models"]["status"] != "ok").any())
    predictions = pd.concat([value["predictions"] for value in base.values()], ignore_index=True)
    outcomes = run_cell_ensembles(
        catalogue.ensembles, predictions, failed, pipeline, catalogue.seed, n_threads, simulator=simulator
    )
    return {
        "predictions": pd.concat([o.predictions for o in outcomes], ignore_index=True),
        "models": pd.DataFrame([o.summary() for o in outcomes]),
    }


def run_plain_sweep(
    catalogue: Catalogue,
    source: OhlcvSourceSpec,
    *,
    n_threads: int,
    sweep_id: str | None = None,
    cryptos: Sequence[str] | None = None,
    folds: Sequence[str] | None = None,
    configs: Sequence[str] | None = None,
    gate: bool = True,
    cell_workers: int = 1,
    cell_processes: str = "auto",
    log: Callable[[str], None] = lambda _: None,
) -> PlainSweep:
    """The whole grid (or the selected slice), then the gates, as the sweep runner orders them.

    The cells are computed `cell_workers` at a time, as the cell step computes a run's cells,
    in worker processes or one at a time by the same rule (`cell_processes`); each cell's stage times
    then count for 1/`cell_workers` of their length, as in the Dagster part.
    """
    sweep = PlainSweep()
    name = sweep_id or catalogue.sweep_name
    selected_folds = list(folds or fold_ids(catalogue.pipeline.folds))
    ready: list[CryptoData] = []
    for crypto in cryptos or catalogue.universe:
        outcome = _attempt(sweep, crypto, lambda c=crypto: prepare_crypto(c, catalogue, source, sweep.clock))
        if outcome is not None:
            ready.append(outcome)

    def run_cells(config_ids: Sequence[str]) -> None:
        # Every ready crypto's cells at once, as the sweep runner runs them in one run, through the
        # pool the cell step computes in.
        cells = [(data.crypto, f, c) for data in ready for c in config_ids for f in selected_folds]
        by_crypto = {data.crypto: data for data in ready}
        in_processes = computes_in_processes(cell_processes, len(cells))
        with task_pool(in_processes, cell_workers, WORKER_IMPORTS, native_thread_limits(n_threads)) as pool:
            shared = {crypto: pool.share(data) for crypto, data in by_crypto.items()}
            shared_catalogue = pool.share(catalogue)

            def task(key: str, cell: tuple[str, str, str], inputs: object) -> partial[TimedOutcome]:
                crypto, fold_id, config_id = cell
                return partial(timed_cell, shared[crypto], fold_id, config_id, shared_catalogue, name, n_threads)

            for finished in run_tasks([CELL], cells, task, pool.executor):
                crypto, fold_id, config_id = finished.cell
                record(f"{crypto}|{fold_id}.{config_id}", *finished.value)

    def record(key: str, rows: pd.DataFrame | None, clock: StageClock, error: str | None, seconds: float) -> None:
        sweep.clock.add(clock, 1.0 / max(1, cell_workers))
        sweep.cells += 1
        if error is not None:
            sweep.failures[key] = error
        if rows is not None:
            sweep.rows.append(rows)
            with sweep.clock.stage("checks"):
                degenerate = degenerate_metrics_sanity(rows)
            if not degenerate.passed:
                sweep.failures[key] = degenerate.detail
        status = "FAIL" if key in sweep.failures else "ok"
        log(f"  {status:<5} plain cell       {key:<28} {seconds:6.1f}s")

    run_cells(list(configs or catalogue.config_ids(include_joint=False)))
    if not gate:
        return sweep
    for factor in catalogue.factors:
        with sweep.clock.stage("gate"):
            verdicts = evaluate_single_factor(catalogue, sweep.results(), factor.name)
            verdicts_to_dict(verdicts)
            sweep.verdicts[factor.name] = gate_table(verdicts)
    for rule in catalogue.joint_rules:
        with sweep.clock.stage("gate"):
            decision = decide_joint(catalogue, rule, sweep.results())
        if decision.config_id is not None:
            run_cells([decision.config_id])
        with sweep.clock.stage("gate"):
            verdicts, decision = evaluate_joint(catalogue, rule, sweep.results())
            verdicts_to_dict(verdicts)
            sweep.verdicts[rule.name] = gate_table(verdicts, decision)
    return sweep


def cell_outcome(
    data: CryptoData, fold_id: str, config_id: str, catalogue: Catalogue, sweep_id: str, n_threads: int
) -> CellOutcome:
    """Results rows of one cell and its stage times, or why it failed."""
    clock = StageClock()
    try:
        return run_cell(data, fold_id, config_id, catalogue, sweep_id, n_threads, clock), clock, None
    except Exception as exc:  # mirrors a failed Dagster run, which never stops the sweep
        return None, clock, f"{type(exc).__name__}: {exc}"


def timed_cell(
    data: CryptoData, fold_id: str, config_id: str, catalogue: Catalogue, sweep_id: str, n_threads: int
) -> TimedOutcome:
    """`cell_outcome` and how long it took, wherever the pool computes it."""
    started = time.perf_counter()
    return (*cell_outcome(data, fold_id, config_id, catalogue, sweep_id, n_threads), time.perf_counter() - started)


def _attempt(sweep: PlainSweep, key: str, work: Callable[[], T]) -> T | None:
    # A failed partition is recorded and the sweep goes on, as the runner does with a failed run.
    try:
        return work()
    except Exception as error:  # mirrors a failed Dagster run, which never stops the sweep
        sweep.failures[key] = f"{type(error).__name__}: {error}"
        return None
