"""What the client-generator checks share: the OpenAPI document as a file, the tools that
read it, and one way to run them.

The document is the one the app builds in process (no server, no database), written once
per test worker as ``openapi.json``. The Node.js tools are the pinned ones of
``tools/package.json`` (``make test`` runs ``npm ci --prefix tools``); openapi-generator is
the jar of the ``openapi-generator-cli`` package, run with the machine's Java. A missing
tool fails the test with what to install: these checks are never skipped.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.main import create_app
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / "tools" / "node_modules" / ".bin"
#: The oldest Node.js that every tool of tools/package.json supports (their "engines").
NODE_MINIMUM = (20, 19)
#: Seconds one tool may take on a loaded 2-core machine (each takes 1–10 s alone).
TIMEOUT = 300
#: No colour codes, no update notices, no usage reports sent anywhere (there is no network).
QUIET = {
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
    "REDOCLY_TELEMETRY": "off",
    "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
}
INSTALL_NODE = (
    f"install Node.js >= {NODE_MINIMUM[0]}.{NODE_MINIMUM[1]} with npm "
    "(Debian: apt-get install nodejs npm), then run `make test`, which installs the pinned "
    "tools with `npm ci --prefix tools`"
)
INSTALL_JAVA = "install a Java runtime, 11 or newer (Debian: apt-get install default-jre-headless)"


@dataclass(frozen=True)
class Ran:
    """A finished command: what it was, its exit status and what it printed."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def described(self) -> str:
        """The command and its whole output, for an assertion message."""
        return f"$ {' '.join(self.command)}\n(exit status {self.returncode})\n{self.output}"


def run(command: Sequence[str | Path], cwd: Path, timeout: float = TIMEOUT) -> Ran:
    """Run a command to the end, or fail the test when it takes longer than ``timeout``
    seconds. It runs in its own process group, so a tool's child processes (the Node.js
    launchers start a second ``node``) are ended with it."""
    args = [str(part) for part in command]
    process = subprocess.Popen(  # noqa: S603 (fixed tools, arguments from the tests)
        args,
        cwd=cwd,
        env=os.environ | QUIET,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(
            f"{' '.join(args)} did not finish in {timeout} s; it printed:\n{stdout}{stderr}"
        )
    return Ran(args, process.returncode, stdout, stderr)


def write_document(directory: Path, document: object) -> Path:
    path = directory / "openapi.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


@pytest.fixture(scope="session")
def openapi_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's OpenAPI document as ``openapi.json`` in a directory of its own."""
    # Building the app opens no database connection.
    document = create_app(make_settings("sqlite:///never-opened.db")).openapi()
    return write_document(tmp_path_factory.mktemp("document"), document)


def _node_version(node: str) -> tuple[int, ...]:
    printed = subprocess.run(  # noqa: S603
        [node, "--version"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    found = re.match(r"v(\d+)\.(\d+)", printed.strip())
    assert found is not None, f"`node --version` printed {printed!r}"
    return (int(found[1]), int(found[2]))


@pytest.fixture(scope="session")
def node_tool() -> Callable[[str], Path]:
    """The path of a command that ``tools/package.json`` installs, after checking that
    Node.js is there and new enough to run it."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js is missing: {INSTALL_NODE}")
    version = _node_version(node)
    if version < NODE_MINIMUM:
        pytest.fail(f"Node.js {'.'.join(map(str, version))} is too old: {INSTALL_NODE}")

    def find(name: str) -> Path:
        path = NODE_BIN / name
        if not path.exists():
            if shutil.which("npm") is None:
                pytest.fail(f"{path} is missing and so is npm: {INSTALL_NODE}")
            pytest.fail(f"{path} is missing: run `make test` or `npm ci --prefix tools`")
        return path

    return find


@dataclass(frozen=True)
class Generated:
    """One openapi-generator run: the generator's name, where it wrote the client, and the
    finished command."""

    generator: str
    directory: Path
    ran: Ran


def openapi_generator(java: str, document: Path, generator: str, output: Path) -> Generated:
    """Generate a client with openapi-generator, validating the document first (the
    generator stops with an error on an invalid document). Nothing is compiled."""
    jar = importlib.resources.files("openapi_generator_cli") / "openapi-generator.jar"
    command = [java, "-jar", str(jar), "generate"]
    command += ["--input-spec", str(document), "--generator-name", generator]
    ran = run([*command, "--output", str(output)], cwd=output.parent)
    return Generated(generator, output, ran)


@pytest.fixture(scope="session")
def java() -> str:
    found = shutil.which("java")
    if found is None:
        pytest.fail(f"Java is missing, which openapi-generator runs on: {INSTALL_JAVA}")
    return found


@pytest.fixture(scope="session")
def generate_client(
    java: str, openapi_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Generated]:
    """Generates the app's client with a named openapi-generator generator, once per test
    worker (the warnings test and the TypeScript compile test share the
    ``typescript-fetch`` client)."""
    made: dict[str, Generated] = {}

    def generate(generator: str) -> Generated:
        if generator not in made:
            output = tmp_path_factory.mktemp(f"openapi-generator-{generator}")
            made[generator] = openapi_generator(java, openapi_file, generator, output / "client")
        return made[generator]

    return generate
