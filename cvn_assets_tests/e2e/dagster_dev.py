"""`dagster dev` (web server + daemon) as a child process group, and its GraphQL endpoint."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

DAGSTER = Path(sys.executable).with_name("dagster")
HOST = "127.0.0.1"
POLL_SECONDS = 2.0
# Backfill states after which the daemon requests no more runs.
BACKFILL_UNFINISHED = {"REQUESTED", "CANCELING", "FAILING"}

WORKSPACE_QUERY = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } }
    ... on PythonError { message } } }
"""
BACKFILL_QUERY = """
query Backfill($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
    ... on PartitionBackfill { status numPartitions runs { id status tags { key value } } }
    ... on PythonError { message } ... on BackfillNotFoundError { message } } }
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _default_interrupts() -> None:
    # A shell that starts jobs in the background ignores SIGINT, and Dagster maps SIGTERM to SIGINT's
    # handler: without this reset neither signal would stop the server.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@dataclass
class DagsterDev:
    """A running `dagster dev`; every process it starts shares its process group, so `stop` ends them all."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @classmethod
    def start(cls, module: str, env: Mapping[str, str], cwd: Path, log_path: Path) -> DagsterDev:
        port = free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(DAGSTER), "dev", "-h", HOST, "-p", str(port), "-m", module],
                env=dict(env),
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_default_interrupts,
            )
        return cls(process=process, port=port, log_path=log_path)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=120
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def wait_until_loaded(self, timeout_s: float) -> str:
        """Wait until the code location has loaded; returns its name. Fails early if the process exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster dev exited with code {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                name = self._loaded_location()
                if name:
                    return name
            time.sleep(POLL_SECONDS)
        raise TimeoutError(
            f"dagster dev on {self.url} did not load its code location in {timeout_s:.0f}s:\n{self.log_tail()}"
        )

    def _loaded_location(self) -> str | None:
        response = requests.post(f"{self.url}/graphql", json={"query": WORKSPACE_QUERY}, timeout=30)
        if response.status_code != 200:
            return None
        workspace = response.json()["data"]["workspaceOrError"]
        if workspace["__typename"] != "Workspace":
            return None
        for entry in workspace["locationEntries"]:
            location = entry["locationOrLoadError"] or {}
            if location.get("__typename") == "PythonError":
                raise RuntimeError(f"code location {entry['name']} failed to load: {location['message']}")
            if entry["loadStatus"] == "LOADED" and location.get("__typename") == "RepositoryLocation":
                return str(entry["name"])
        return None

    def wait_for_backfill(self, backfill_id: str, timeout_s: float) -> dict[str, Any]:
        """The backfill once the daemon has finished it (its status, partitions and runs)."""
        deadline = time.monotonic() + timeout_s
        while True:
            backfill = self.graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
            if backfill["__typename"] != "PartitionBackfill":
                raise AssertionError(f"backfill {backfill_id}: {backfill}")
            if backfill["status"] not in BACKFILL_UNFINISHED:
                return backfill
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"backfill {backfill_id} still {backfill['status']} after {timeout_s:.0f}s:\n{self.log_tail()}"
                )
            time.sleep(POLL_SECONDS)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the whole group (web server, daemon, code server, run workers), then SIGKILL to stragglers."""
        group = self.process.pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self.process.wait()
