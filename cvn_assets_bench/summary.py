"""The human summary of a benchmark document."""

from __future__ import annotations

from typing import Any

STAGE_ORDER = (
    "imports",
    "setup",
    "data",
    "labels",
    "cleanlab",
    "ensembles",
    "metrics",
    "checks",
    "gate",
    "dagster_in_run_overhead",
    "outside_runs",
    "cell_step_overhead",
    "cell_recording_tail",
)


def render_summary(document: dict[str, Any]) -> str:
    meta = document["meta"]
    lines = [_workload_line(document["workload"], meta)]
    if meta.get("code_at_start") != meta.get("code_at_end"):
        lines.append("WARNING: the code changed while the benchmark ran; its parts measured different versions")
    plain, dagster, again = document.get("plain"), document.get("dagster"), document.get("plain_after")
    floor = document.get("floor")
    labels = (
        ("(a) through Dagster", dagster),
        ("(f) (a) without its stores", floor),
        ("(b) plain loop" + (", before (a)" if again else ""), plain),
        ("(b) plain loop, after (a)", again),
    )
    measured = [(label, part) for label, part in labels if part]
    if measured:
        lines += ["", f"{'':<28}{'wall s':>10}{'CPU s':>10}{'peak RSS MB':>13}{'load at end':>13}{'own CPU s':>11}"]
        lines += [
            f"{label:<28}{part['wall_seconds']:>10.1f}{part['cpu_seconds']:>10.1f}{part['peak_rss_mb']:>13.0f}"
            f"{_load(part):>13}{_number(part.get('own_cpu_seconds')):>11}"
            for label, part in measured
        ]
    comparison = document.get("comparison")
    if comparison:
        ratio = comparison["ratio"]
        label = "ratio a/b" + (" (b: mean)" if again else "")
        lines.append(
            f"{label:<28}{_number(ratio['wall_seconds']):>10}{_number(ratio['cpu_seconds']):>10}"
            f"{_number(ratio['peak_rss_mb']):>13}"
        )
        if "floor_ratio" in comparison:
            floor_ratio = comparison["floor_ratio"]
            lines.append(
                f"{'ratio f/b':<28}{_number(floor_ratio['wall_seconds']):>10}"
                f"{_number(floor_ratio['cpu_seconds']):>10}{_number(floor_ratio['peak_rss_mb']):>13}"
            )
            lines.append(
                "(f: the same runs on Dagster's in-memory instance with MLflow off — (a) − (f) is what the "
                "SQLite event log and the tracking store cost)"
            )
        lines.append(
            "(own CPU: the process without its worker processes — (a)'s is Dagster's, MLflow's and the "
            "values' bookkeeping, which the workers' fits share the cores with)"
        )
        agree = "yes" if comparison["verdicts_agree"] else "NO"
        runs = "(a), (f) and (b)" if "floor_ratio" in comparison else "(a) and (b)"
        lines.append(f"verdicts of {runs} agree: {agree} ({comparison['verdicts_compared']} verdict rows)")
    if measured:
        lines += ["", *_stage_table(dagster, plain)]
    if dagster:
        lines += ["", _runs_line("(a)", dagster)]
    if floor:
        tail = floor.get("stages", {}).get("cell_recording_tail", {}).get("wall_seconds")
        lines += ([] if dagster else [""]) + [_runs_line("(f)", floor) + f"; cell recording tail {_number(tail)} s"]
    rerun = document.get("rerun")
    if rerun:
        changed = rerun["changed"]
        configs = ", ".join(rerun["configs_recomputed"]) or "-"
        lines += [
            "",
            f"(c) re-run after changing {changed['factor']}/{changed['variant']} "
            f"{changed['before']} -> {changed['after']}",
            f"    wall {rerun['wall_seconds']:.1f} s, CPU {rerun['cpu_seconds']:.1f} s, "
            f"peak RSS {rerun['peak_rss_mb']:.0f} MB",
            "    " + _runs_line("", rerun).strip(),
            f"    partitions recomputed: {rerun['partitions_recomputed']} "
            f"(cells {rerun['cells_recomputed']}, configurations {configs}); "
            f"materializations {rerun['materializations_before']} -> {rerun['materializations_after']}",
        ]
    gate = document.get("gate")
    if gate:
        met = "met" if gate["within_target"] else "NOT met"
        lines += [
            "",
            f"(d) gate of {gate['variants']} variants ({gate['variants_gated']} gated) × {gate['cryptos']} "
            f"cryptos × {gate['folds']} folds ({gate['rows']} rows): median {gate['median_seconds']:.3f} s "
            f"(first {gate['first_seconds']:.3f} s, min {gate['min_seconds']:.3f} s, {gate['repeats']} "
            f"calls); target ≤ {gate['target_seconds']} s {met}",
        ]
    events = document.get("events")
    if events:
        lines += ["", *_events_lines(events)]
    return "\n".join(lines)


def _events_lines(events: dict[str, Any]) -> list[str]:
    per_range, checked = events["planned_per_range"], events["with_checks"]
    return [
        f"(e) event log: {events['cells']} cells × {events['assets']} assets recorded with no computation",
        f"    materializations {per_range['wall_seconds']:.1f} s wall, {per_range['cpu_seconds']:.1f} s CPU "
        f"({events['ms_per_materialization']:.1f} ms per materialization, the run's own cost included); with a "
        f"blocking check per asset "
        f"{checked['wall_seconds']:.1f} s wall, {checked['cpu_seconds']:.1f} s CPU "
        f"(+{events['ms_per_check_evaluation']:.1f} ms per evaluation)",
        f"    planning each cell instead of the range: +{events['ms_per_planned_event']:.1f} ms per asset and cell",
    ]


def _workload_line(workload: dict[str, Any], meta: dict[str, Any]) -> str:
    quick = " (quick)" if meta.get("quick") else ""
    ensembles = f", ensembles {', '.join(workload['ensembles'])}" if workload["ensembles"] else ""
    load = meta.get("load_average_at_start")
    machine = f"\n{meta['cpu_count']} cores, 1-min load average at start {load[0]:.1f}" if load else ""
    return (
        f"Benchmark{quick} of sweep {workload['sweep']}: {len(workload['universe'])} crypto(s) × "
        f"{workload['folds']} folds × {len(workload['configurations'])} configurations = {workload['cells']} "
        f"cells; models {', '.join(workload['models'])}{ensembles}; {workload['n_threads']} thread(s) per fit, "
        f"{workload.get('cell_workers', 1)} cell(s) at once, worker processes "
        f"{workload.get('cell_processes', 'auto')}"
        f"{machine}"
    )


def _stage_table(dagster: dict[str, Any] | None, plain: dict[str, Any] | None) -> list[str]:
    names = set((dagster or {}).get("stages", {})) | set((plain or {}).get("stages", {}))
    models = sorted(n for n in names if n.startswith("model:"))
    ordered = [n for n in STAGE_ORDER[:5] if n in names] + models + [n for n in STAGE_ORDER[5:] if n in names]
    ordered += sorted(names - set(ordered))
    lines = [f"{'stage':<26}{'(a) wall s':>12}{'(b) wall s':>12}{'(b) CPU s':>12}"]
    for name in ordered:
        a = (dagster or {}).get("stages", {}).get(name)
        b = (plain or {}).get("stages", {}).get(name)
        lines.append(
            f"{name:<26}{_number(a and a['wall_seconds']):>12}{_number(b and b['wall_seconds']):>12}"
            f"{_number(b and b.get('cpu_seconds')):>12}"
        )
    return lines


def _runs_line(label: str, part: dict[str, Any]) -> str:
    skipped = "not reported" if part.get("skipped") is None else part["skipped"]
    jobs = ", ".join(f"{job} {v['runs']} runs {v['wall_seconds']:.1f} s" for job, v in part.get("jobs", {}).items())
    return (f"{label} runs: {part['runs']} (skipped: {skipped}), failures: {len(part['failures'])}; {jobs}").strip()


def _load(part: dict[str, Any]) -> str:
    load = part.get("load_average")
    return f"{load[0]:.1f}" if load else "-"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
