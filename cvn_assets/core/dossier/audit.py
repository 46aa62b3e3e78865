"""Renders an audit tree (verdict → cells → assets and checks → per-crypto data) as Markdown or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def audit_json(tree: Mapping[str, Any]) -> str:
    return json.dumps(tree, indent=2, sort_keys=True, default=str)


def audit_markdown(tree: Mapping[str, Any]) -> str:
    verdict = tree["verdict"]
    lines = [f"# Audit of `{verdict['asset']}[{verdict['partition']}]` (variant: {tree['variant']})", ""]
    lines += [
        f"- materialization: storage id {verdict.get('storage_id', 'this run')}, run `{verdict.get('run_id')}`, "
        f"code version {verdict.get('code_version')}",
        "",
        "Produced under (as recorded with the verdict):",
        "",
    ] + _produced_under(tree)
    lines += ["", "## Verdict", ""] + _table(verdict.get("table", []))
    lines += ["", "### Checks on the verdict", ""] + ([_check(c) for c in verdict.get("checks", [])] or ["(none)"])
    source = (
        "the current catalogue: the verdict recorded none"
        if "catalogue" in not_recorded(tree)
        else "recorded with the verdict"
    )
    lines += [
        "",
        f"## Parameters (catalogue snapshot, {source})",
        "",
        "```json",
        json.dumps(tree["catalogue"], indent=1, sort_keys=True, default=str),
        "```",
    ]
    lines += ["", f"## Cells ({len(tree['cells'])})", "", _agreement(tree["cells"], "cell"), ""]
    for cell in tree["cells"]:
        lines.append(
            f"### `{cell['partition']}` — fold_metrics storage id {cell['storage_id']}, "
            f"run `{cell['run_id']}` ({cell['run_status']}), input fingerprint `{cell.get('fingerprint')}`"
        )
        lines += _own_provenance(cell)
        for asset in cell["assets"]:
            lines.append(_asset(asset))
        lines += [f"  - check {_check(c)[2:]}" for c in cell["checks"]]
        lines.append("")
    lines += ["## Data", "", _agreement(list(tree["data"].values()), "crypto's data"), ""]
    for crypto, data in tree["data"].items():
        lines.append(f"### {crypto} — run `{data['run_id']}` ({data['run_status']})")
        lines += _own_provenance(data)
        lines += [_asset(a) for a in data["assets"]] + [f"  - check {_check(c)[2:]}" for c in data["checks"]]
        lines.append("")
    return "\n".join(lines)


def not_recorded(tree: Mapping[str, Any]) -> list[str]:
    return list(tree.get("not_recorded") or [])


def _produced_under(tree: Mapping[str, Any]) -> list[str]:
    """The verdict's recorded catalogue, seed, code and libraries; then today's, where an audit read later differs."""
    missing = not_recorded(tree)
    environment = tree["environment"]

    def note(*fields: str) -> str:
        absent = [f for f in fields if f in missing]
        return f" (not recorded with the verdict: {', '.join(absent)} from the current environment)" if absent else ""

    lines = [
        f"- catalogue fingerprint `{tree['catalogue_fingerprint']}`, seed {tree['seed']}"
        + note("catalogue_fingerprint", "seed"),
        f"- code revision `{environment['code_revision']}`" + note("code_revision"),
        "- libraries: " + _libraries(environment["libraries"]) + note("libraries"),
    ]
    now = tree.get("now")
    if not now:
        return lines
    differs = set(now.get("differs") or [])
    if now.get("catalogue_fingerprint") is None:
        lines.append(f"- catalogue now: not loaded ({now.get('catalogue_error')})")
    else:
        lines.append(
            f"- catalogue now: `{now['catalogue_fingerprint']}`, seed {now['seed']} "
            + (
                "(differs from the verdict's `{}`, seed {})".format(tree["catalogue_fingerprint"], tree["seed"])
                if differs & {"catalogue_fingerprint", "seed"}
                else "(same as the verdict's)"
            )
        )
    lines.append(
        f"- code revision now: `{now['code_revision']}` "
        + (
            f"(differs from the verdict's `{environment['code_revision']}`)"
            if "code_revision" in differs
            else "(same as the verdict's)"
        )
    )
    then, today = environment["libraries"], now["libraries"]
    changed = [
        f"{k} {today.get(k, 'absent')} (verdict: {then.get(k, 'absent')})"
        for k in sorted(set(then) | set(today))
        if then.get(k) != today.get(k)
    ]
    lines.append("- libraries now: " + (", ".join(changed) if "libraries" in differs else "same as the verdict's"))
    return lines


def _agreement(nodes: list[Mapping[str, Any]], kind: str) -> str:
    unrecorded = sum(1 for n in nodes if n.get("provenance") is None)
    differing = sum(1 for n in nodes if n.get("provenance_differs"))
    if not unrecorded and not differing:
        return f"Every {kind} was produced under the verdict's catalogue, seed, code revision and libraries."
    return (
        f"{len(nodes) - unrecorded - differing} of {len(nodes)} produced under the verdict's catalogue, seed, "
        f"code revision and libraries; {differing} under others (noted below); {unrecorded} recorded none."
    )


def _own_provenance(node: Mapping[str, Any]) -> list[str]:
    """A line only where a cell's or crypto's record differs from the verdict's, or is missing."""
    produced = node.get("provenance")
    if produced is None:
        return ["- produced under: not recorded (materialized before materializations recorded it)"]
    if not node.get("provenance_differs"):
        return []
    return [
        f"- produced under catalogue `{produced.get('catalogue_fingerprint')}`, seed {produced.get('seed')}, "
        f"code revision `{produced.get('code_revision')}`, libraries {_libraries(produced.get('libraries') or {})}"
        f" (differs from the verdict's: {', '.join(node['provenance_differs'])})"
    ]


def _libraries(libraries: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(libraries.items()))


def _asset(asset: Mapping[str, Any]) -> str:
    keys = ("content_sha256", "source", "rows", "first_bar", "last_bar", "status", "mlflow_run_id", "model_path")
    extras = ", ".join(f"{k} {asset[k]}" for k in keys if asset.get(k) is not None)
    consumed = "; ".join(
        f"{up}[{', '.join(str(r['partition']) for r in recs)}] → storage "
        f"{', '.join(str(r['storage_id']) for r in recs)}"
        for up, recs in asset.get("consumed", {}).items()
        if recs
    )
    return (
        f"- `{asset['asset']}[{asset['partition']}]` storage id {asset['storage_id']}, code version "
        f"{asset.get('code_version')}" + (f", {extras}" if extras else "") + (f"; read {consumed}" if consumed else "")
    )


def _check(check: Mapping[str, Any]) -> str:
    # A failed non-blocking check (e.g. no skill against always-BUY) warns; it stopped nothing.
    outcome = "passed" if check["passed"] else ("FAILED" if check.get("blocking", True) else "warning")
    detail = ", ".join(f"{k} {check[k]}" for k in ("observed", "threshold") if k in check)
    return f"- {check['check']} on `{check['asset']}[{check.get('partition')}]`: {outcome}" + (
        f" ({detail})" if detail else ""
    )


def _table(rows: list[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return ["(no rows)"]
    columns = [
        c
        for c in (
            "variant",
            "model",
            "verdict",
            "n_pairs",
            "mean_delta_f1_buy",
            "ci_low",
            "ci_high",
            "p_adjusted",
            "cohens_d",
            "mde",
            "failed_gates",
            "reasons",
        )
        if c in rows[0]
    ]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return out
