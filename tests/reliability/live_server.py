"""A real ``paindiary serve`` process on a loopback port of its own, for tests that need the
whole stack (signals, restarts, many concurrent clients) rather than the in-process
TestClient.

The server binds port 0 and the test reads the port it got from ``/proc``: a port picked
by the test and bound later by the server could be taken in between (by another test
worker's server, or as the local port of any outgoing connection).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
SECRET = "live-server-secret-key-0123456789-abcdefgh"
#: How long starting a server may take: importing the app takes seconds on a loaded
#: machine. A bound on a failure only; a healthy start returns as soon as it is up.
START_SECONDS = 120.0

T = TypeVar("T")


def poll_until(
    check: Callable[[], T | None], what: str, *, timeout: float, interval: float = 0.02
) -> T:
    """The first result of ``check()`` that is not None (nor False), polled every
    ``interval`` seconds; AssertionError naming ``what`` once ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def listening_port(pid: int) -> int | None:
    """The TCP port process ``pid`` listens on, once it does (Linux: ``/proc``)."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:  # closed meanwhile
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        tables = [Path(f"/proc/{pid}/net/{name}").read_text() for name in ("tcp", "tcp6")]
    except FileNotFoundError:  # the process has exited
        return None
    ports = {
        int(fields[1].rsplit(":", 1)[1], 16)
        for table in tables
        for fields in (line.split() for line in table.splitlines()[1:])
        if fields[3] == "0A" and fields[9] in inodes  # 0A: LISTEN
    }
    assert len(ports) <= 1, f"process {pid} listens on {ports}"
    return ports.pop() if ports else None


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """What the server has written so far (each log line is flushed as it is written)."""
        return self.log_path.read_text(errors="replace")


def _port_of(process: subprocess.Popen[bytes], log_path: Path) -> int:
    def bound() -> int | None:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")
            raise AssertionError(f"the server exited ({process.returncode}) at start:\n{log}")
        return listening_port(process.pid)

    return poll_until(bound, "the server's listening socket", timeout=START_SECONDS)


def wait_until_up(
    base_url: str,
    timeout: float = START_SECONDS,
    *,
    ready: bool = False,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Until ``/healthz`` answers (the process serves), or with ``ready`` until ``/readyz``
    is 200 (the database is reachable and migrated: serve migrates in the background).
    Fails at once if ``process`` has exited."""
    path = "/readyz" if ready else "/healthz"

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}) before {path}")
        try:
            response = httpx.get(base_url + path, timeout=10.0)
        except httpx.TransportError:
            return False
        return not ready or response.status_code == 200

    poll_until(answered, f"{base_url} answering {path}", timeout=timeout, interval=0.05)


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
    (``wait_for="up"``: once ``/healthz`` answers; ``None``: once it listens). Stopped with
    SIGTERM on exit (SIGKILL if it has not exited 30 s later)."""
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
        sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", "0",
        "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    # A file of its own: a test (or a test worker) may start more than one server.
    descriptor, name = tempfile.mkstemp(dir=tmp_path, prefix="server-", suffix=".log")
    log_path = Path(name)
    with open(descriptor, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        server = LiveServer(f"http://127.0.0.1:{_port_of(process, log_path)}", process, log_path)
        if wait_for is not None:
            wait_until_up(server.base_url, ready=wait_for == "ready", process=process)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
