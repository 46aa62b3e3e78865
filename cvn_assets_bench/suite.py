"""Runs the parts of the benchmark one after the other and gathers them into one JSON document.

Order and isolation: (b) the plain loop, (a) the sweep through Dagster on a fresh instance, (b) again,
(c) the re-run of (a) with one variant's parameters changed, on the same instance, (d) the gate over
many variants, and (e) the event log's cost: the cells' bookkeeping without their computations. On
request, (f) runs (a) without its stores (right after (a), so the plain loops bracket it too). Each
part runs in a fresh process of this interpreter, so warm imports and caches of one part never
favour another; what stays warm across parts is only the operating system's file cache, and the
first (b) pays for that. The two runs of (b) bracket (a), and the ratio a/b divides by their mean:
the speed of a virtual machine can drift by tens of percent within minutes, and a single (b) before
(a) would put that drift into the ratio.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cvn_assets.core.errors import CvnError
from cvn_assets_bench.workload import Workload, quick_workload, write_changed_catalogue

PARTS: tuple[str, ...] = ("plain", "dagster", "floor", "rerun", "gate", "events")
# (f) only when asked for: it says where (a)'s time goes, and costs as long as (a).
DEFAULT_PARTS = tuple(p for p in PARTS if p != "floor")
DEFAULT_OUT = Path("bench") / "results.json"
ISOLATION = (
    "each part runs in a fresh child process of the same interpreter, in the order plain loop (b), "
    "Dagster (a), without stores (f) when asked for, plain loop again (b), re-run (c), gate (d), event log "
    "(e); wall, CPU (the process and its children) and peak RSS are measured inside each child from before "
    "its modules are imported; the ratio a/b divides by the mean of both plain loops"
)
QUICK_GATE_REPEATS = 2
GATE_REPEATS = 5


class BenchmarkError(CvnError):
    """The benchmark cannot run as asked (a part failed, or a file it needs is missing)."""


@dataclass(frozen=True)
class BenchOptions:
    """What to run and where to write it."""

    quick: bool = False
    parts: tuple[str, ...] = DEFAULT_PARTS
    out: Path = DEFAULT_OUT
    n_threads: int | None = None
    cell_workers: int | None = None
    dagster_yaml: Path | None = None
    keep_files: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.parts) - set(PARTS))
        if unknown or not self.parts:
            raise BenchmarkError(f"unknown benchmark part(s) {unknown or 'none given'}; choose from {list(PARTS)}")


def default_workload(n_threads: int | None, cell_workers: int | None = None) -> Workload:
    """The sweep `make run` would run in this environment (catalogue, universe, data, threads)."""
    from cvn_assets.defs.settings import Settings

    settings = Settings.from_env()
    return Workload(
        catalogue_path=settings.catalogue_path,
        universe=tuple(settings.universe) if settings.universe else None,
        sweep_id=settings.sweep_id,
        data_dir=settings.data_dir,
        data_pattern=settings.data_pattern,
        data_sql_url=settings.data_sql_url,
        data_sql_table=settings.data_sql_table,
        n_threads=n_threads or settings.n_threads,
        cell_workers=cell_workers or settings.cell_workers,
        cell_processes=settings.cell_processes,
    )


def find_dagster_yaml(explicit: Path | None) -> Path:
    """The instance settings `make run` copies into its DAGSTER_HOME: the repository's dagster.yaml."""
    candidates = (
        [explicit] if explicit else [Path.cwd() / "dagster.yaml", Path(__file__).resolve().parents[2] / "dagster.yaml"]
    )
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    raise BenchmarkError(
        f"no dagster.yaml found (looked at {[str(c) for c in candidates]}); "
        "run from the repository or pass --dagster-yaml"
    )


def run_benchmark(options: BenchOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the requested parts, write the JSON document to `options.out` and return it."""
    parts = set(options.parts) | ({"dagster"} if "rerun" in options.parts else set())
    work = Path(tempfile.mkdtemp(prefix="cvn-bench-"))
    try:
        if options.quick:
            workload = quick_workload(work / "quick", options.n_threads or 1, options.cell_workers or 1)
        else:
            workload = default_workload(options.n_threads, options.cell_workers)
        results: dict[str, Any] = {
            "meta": _meta(options, sorted(parts, key=PARTS.index)),
            "workload": workload.describe(),
        }
        if "plain" in parts:
            log("(b) the sweep as a plain Python loop")
            results["plain"] = _child("plain", work, dict(os.environ), workload=workload)
        if "dagster" in parts:
            home = _fresh_home(work / "dagster_home", options)
            log(f"(a) the sweep through Dagster on a fresh instance in {home}")
            results["dagster"] = _child("dagster", work, workload.environment(home, os.environ))
        if "floor" in parts:
            floor_home = _fresh_home(work / "floor_home", options)
            log("(f) the sweep through Dagster without its stores: Dagster's in-memory instance, MLflow off")
            environment = {**workload.environment(floor_home, os.environ), "CVN_MLFLOW": "off"}
            results["floor"] = _child("floor", work, environment)
        if "dagster" in parts:
            if "plain" in parts:
                log("(b) the plain loop again: both runs bracket (a)")
                results["plain_after"] = _child("plain", work, dict(os.environ), name="plain_after", workload=workload)
            if "rerun" in parts:
                changed = write_changed_catalogue(workload, work / "changed_catalogue.yaml")
                log(
                    f"(c) re-run after changing {changed['factor']}/{changed['variant']}: "
                    f"{changed['before']} -> {changed['after']}"
                )
                environment = workload.with_catalogue(Path(changed["catalogue"])).environment(home, os.environ)
                results["rerun"] = {"changed": changed, **_child("dagster", work, environment, name="rerun")}
        if "gate" in parts:
            log("(d) the gate over 20 variants")
            repeats = QUICK_GATE_REPEATS if options.quick else GATE_REPEATS
            results["gate"] = _child("gate", work, dict(os.environ), gate_repeats=repeats)
        if "events" in parts:
            home = _fresh_home(work / "events_home", options)
            log("(e) the event log's cost: the cells' materializations and checks recorded with no computation")
            results["events"] = _child("events", work, workload.environment(home, os.environ), workload=workload)
        if "plain" in results and "dagster" in results:
            results["comparison"] = compare(
                results["dagster"], results["plain"], results.get("plain_after"), results.get("floor")
            )
    finally:
        if options.keep_files:
            log(f"benchmark files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["meta"]["code_at_end"] = code_version()
    document = json_ready(results)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")
    return document


def _fresh_home(home: Path, options: BenchOptions) -> Path:
    """An empty instance directory with the instance settings `make run` uses."""
    home.mkdir()
    shutil.copy(find_dagster_yaml(options.dagster_yaml), home / "dagster.yaml")
    return home


def _child(
    part: str,
    work: Path,
    environment: dict[str, str],
    *,
    name: str | None = None,
    workload: Workload | None = None,
    gate_repeats: int = GATE_REPEATS,
) -> dict[str, Any]:
    out = work / f"{name or part}.json"
    command = [
        sys.executable,
        "-m",
        "cvn_assets_bench.worker",
        part,
        "--out",
        str(out),
        "--gate-repeats",
        str(gate_repeats),
    ]
    if workload is not None:
        command += ["--workload", workload.to_json()]
    completed = subprocess.run(command, env=environment, check=False)
    if completed.returncode != 0 or not out.is_file():
        raise BenchmarkError(
            f"benchmark part {name or part!r} failed with exit code {completed.returncode} (its error is printed above)"
        )
    return dict(json.loads(out.read_text()))


def compare(
    dagster: dict[str, Any],
    plain: dict[str, Any],
    plain_after: dict[str, Any] | None = None,
    floor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ratios Dagster / plain loop (time: the mean of the plain runs; memory: their peak), the same for
    the run without stores (f) when there is one, and whether every run reached the same verdicts."""
    plains = [plain] + ([plain_after] if plain_after else [])
    baseline = {key: sum(p[key] for p in plains) / len(plains) for key in ("wall_seconds", "cpu_seconds")}
    baseline["peak_rss_mb"] = max(p["peak_rss_mb"] for p in plains)
    ratios = {key: _ratio(dagster[key], value) for key, value in baseline.items()}
    agree = all(_verdict_keys(dagster) == _verdict_keys(p) for p in [*plains, *([floor] if floor else [])])
    compared = {
        "ratio": ratios,
        "plain": baseline,
        "verdicts_agree": agree,
        "verdicts_compared": len(_verdict_keys(plain)),
    }
    if floor:
        compared["floor_ratio"] = {key: _ratio(floor[key], value) for key, value in baseline.items()}
    return compared


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _verdict_keys(part: dict[str, Any]) -> set[tuple[str, str, str, str, float | None]]:
    keys = set()
    for name, rows in part.get("verdicts", {}).items():
        for row in rows:
            lift = row.get("mean_delta_f1_buy")
            rounded = None if not isinstance(lift, float) or math.isnan(lift) else round(lift, 6)
            keys.add((name, str(row.get("variant")), str(row.get("model")), str(row.get("verdict")), rounded))
    return keys


def json_ready(value: Any) -> Any:
    """NaN and infinities become null, so the file is strict JSON."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _meta(options: BenchOptions, parts: list[str]) -> dict[str, Any]:
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": options.quick,
        "parts": parts,
        "isolation": ISOLATION,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "code_at_start": code_version(),
    }


def code_version() -> dict[str, str] | None:
    """The checkout's commit and a digest of its uncommitted changes to tracked files (None outside git).

    Read at the start and at the end, so a benchmark whose code changed while it ran says so.
    """
    root = str(Path(__file__).resolve().parents[2])
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        diff = subprocess.run(["git", "-C", root, "diff", "HEAD"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0 or diff.returncode != 0:
        return None
    return {"commit": head.stdout.strip(), "uncommitted_diff_sha256": hashlib.sha256(diff.stdout).hexdigest()[:16]}
