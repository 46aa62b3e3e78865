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
    lines += [f"- materialization: storage id {verdict.get('storage_id', 'this run')}, run `{verdict.get('run_id')}`, "
              f"code version {verdict.get('code_version')}",
              f"- catalogue fingerprint `{tree['catalogue_fingerprint']}`, seed {tree['seed']}",
              f"- code revision `{tree['environment']['code_revision']}`",
              "- libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(tree["environment"]["libraries"].items()))]
    lines += ["", "## Verdict", ""] + _table(verdict.get("table", []))
    lines += ["", "### Checks on the verdict", ""] + [_check(c) for c in verdict.get("checks", [])] or ["(none)"]
    lines += ["", "## Parameters (catalogue snapshot)", "", "```json", json.dumps(tree["catalogue"], indent=1,
                                                                                sort_keys=True, default=str), "```"]
    lines += ["", f"## Cells ({len(tree['cells'])})", ""]
    for cell in tree["cells"]:
        lines.append(f"### `{cell['partition']}` — fold_metrics storage id {cell['storage_id']}, run `{cell['run_id']}` "
                     f"({cell['run_status']}), input fingerprint `{cell.get('fingerprint')}`")
        for asset in cell["assets"]:
            lines.append(_asset(asset))
        lines += [f"  - check {_check(c)[2:]}" for c in cell["checks"]]
        lines.append("")
    lines += ["## Data", ""]
    for crypto, data in tree["data"].items():
        lines.append(f"### {crypto} — run `{data['run_id']}` ({data['run_status']})")
        lines += [_asset(a) for a in data["assets"]] + [f"  - check {_check(c)[2:]}" for c in data["checks"]]
        lines.append("")
    return "\n".join(lines)


def _asset(asset: Mapping[str, Any]) -> str:
    extras = ", ".join(f"{k} {asset[k]}" for k in ("content_sha256", "source", "rows", "first_bar", "last_bar",
                                                     "status", "mlflow_run_id", "model_path") if asset.get(k) is not None)
    consumed = "; ".join(f"{up}[{', '.join(str(r['partition']) for r in recs)}] → storage "
                         f"{', '.join(str(r['storage_id']) for r in recs)}"
                         for up, recs in asset.get("consumed", {}).items() if recs)
    return (f"- `{asset['asset']}[{asset['partition']}]` storage id {asset['storage_id']}, code version "
            f"{asset.get('code_version')}" + (f", {extras}" if extras else "")
            + (f"; read {consumed}" if consumed else ""))


def _check(check: Mapping[str, Any]) -> str:
    outcome = "passed" if check["passed"] else "FAILED"
    detail = ", ".join(f"{k} {check[k]}" for k in ("observed", "threshold") if k in check)
    return f"- {check['check']} on `{check['asset']}[{check.get('partition')}]`: {outcome}" + \
        (f" ({detail})" if detail else "")


def _table(rows: list[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return ["(no rows)"]
    columns = [c for c in ("variant", "model", "verdict", "n_pairs", "mean_delta_f1_buy", "ci_low", "ci_high",
                           "p_adjusted", "cohens_d", "mde", "failed_gates", "reasons") if c in rows[0]]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return out
