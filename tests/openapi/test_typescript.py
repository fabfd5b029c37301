"""TypeScript clients generated from the OpenAPI document compile under ``tsc --strict``:
the one from @hey-api/openapi-ts, and openapi-generator's ``typescript-fetch``.

A type error in a generated client is a document problem a web developer meets first:
a schema the generator could only half express, a name that clashes, a type that does
not exist. The clients are compiled only, never run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.openapi.conftest import Generated, run

#: Strict, for a browser (fetch, URL, Blob); what a web app that uses the client checks.
TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "ES2020",
        "lib": ["ES2020", "DOM", "DOM.Iterable"],
        "module": "ESNext",
        "moduleResolution": "Bundler",
        "types": [],
    },
    "include": ["**/*.ts"],
}


def assert_compiles(client: Path, made_by: str, node_tool: Callable[[str], Path]) -> None:
    """``tsc --noEmit --strict`` over every ``.ts`` file of the client, which must give no
    error; the message lists each one as ``file(line,col): error TSnnnn: …``."""
    (client / "tsconfig.json").write_text(json.dumps(TSCONFIG, indent=2) + "\n")
    ran = run([node_tool("tsc"), "--project", "tsconfig.json", "--pretty", "false"], cwd=client)
    errors = [line for line in ran.stdout.splitlines() if ": error TS" in line]
    if errors or ran.returncode != 0:
        pytest.fail(
            f"tsc --noEmit --strict: {len(errors)} errors in the TypeScript client {made_by} "
            f"made from the app's OpenAPI document (client in {client}):\n"
            + ("\n".join(errors) if errors else ran.described()),
            pytrace=False,
        )


def test_the_hey_api_client_compiles(
    openapi_file: Path, node_tool: Callable[[str], Path], tmp_path: Path
) -> None:
    client = tmp_path / "client"
    ran = run(
        [
            node_tool("openapi-ts"),
            "--input",
            openapi_file,
            "--output",
            client,
            "--client",
            "@hey-api/client-fetch",
            "--no-log-file",
        ],
        cwd=tmp_path,
    )
    # @hey-api/openapi-ts warns (on stderr, with "warning") about schemas or security
    # schemes it leaves out of the client; for a sound document it prints none.
    warnings = [line for line in ran.output.splitlines() if "warning" in line.lower()]
    assert (ran.returncode, warnings) == (0, []), ran.described()

    assert_compiles(client, "@hey-api/openapi-ts", node_tool)


def test_the_openapi_generator_typescript_fetch_client_compiles(
    generate_client: Callable[[str], Generated], node_tool: Callable[[str], Path]
) -> None:
    generated = generate_client("typescript-fetch")
    assert generated.ran.returncode == 0, "openapi-generator failed: see the warnings test"

    assert_compiles(generated.directory, "openapi-generator typescript-fetch", node_tool)
