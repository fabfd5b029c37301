"""A real ``paindiary serve`` process on a free loopback port, for tests that need the whole
stack (signals, restarts, many concurrent clients) rather than the in-process TestClient."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

ROOT = Path(__file__).resolve().parents[2]
SECRET = "live-server-secret-key-0123456789-abcdefgh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until_up(base_url: str, timeout: float = 30.0, *, ready: bool = False) -> None:
    """Until ``/healthz`` answers (the process serves), or with ``ready`` until ``/readyz``
    is 200 (the database is reachable and migrated: serve migrates in the background)."""
    path = "/readyz" if ready else "/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(base_url + path, timeout=1.0)
        except httpx.TransportError:
            pass
        else:
            if not ready or response.status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{base_url} did not answer {path} within {timeout} s")


@contextmanager
def live_server(
    database_url: str,
    tmp_path: Path,
    *,
    workers: int = 1,
    wait_for: Literal["ready", "up"] | None = "ready",
    **env: str,
) -> Iterator[LiveServer]:
    """``paindiary serve`` against ``database_url`` (migrated by serve itself); extra keyword
    arguments become ``PAINDIARY_<NAME>`` variables. Yields once ``/readyz`` is 200
    (``wait_for="up"``: once ``/healthz`` answers; ``None``: at once). Stopped with SIGTERM
    on exit (SIGKILL if it has not exited 30 s later)."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    environment = {
        **os.environ,
        "PAINDIARY_DATABASE_URL": database_url,
        "PAINDIARY_SECRET_KEY": SECRET,
        "PAINDIARY_WRITES_PER_MINUTE": "0",
        "PAINDIARY_SIGN_INS_PER_MINUTE": "0",
        "PAINDIARY_SIGN_UPS_PER_HOUR": "0",
        **{f"PAINDIARY_{name.upper()}": value for name, value in env.items()},
    }
    command = [
        sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        if wait_for is not None:
            wait_until_up(server.base_url, ready=wait_for == "ready")
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
