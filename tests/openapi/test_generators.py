"""openapi-generator makes Kotlin, Swift and TypeScript clients from the OpenAPI document
without a warning that the document causes.

The generator validates the document first (an invalid one stops it with an error) and
then writes each client; nothing is compiled here (the TypeScript client is, in
test_typescript.py). It also prints a few warnings for any document at all: those, and
only those, are tolerated, and the last test proves each still appears for a tiny document
with nothing wrong in it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.openapi.conftest import Generated, openapi_generator, write_document

GENERATORS = ["kotlin", "swift5", "typescript-fetch"]

#: (generator, or "*" for all; how the warning's message starts). Found by generating each
#: client from TINY_DOCUMENT, which passes Redocly's recommended rules.
TOLERATED = [
    # Printed for every OpenAPI 3.1 document, and FastAPI writes only 3.1.
    ("*", "OpenAPI 3.1 support is still in beta."),
    # Log noise from a check that changes nothing: before generating, the generator looks
    # for a $ref to itself in each schema's `additionalProperties`, and in a 3.1 document
    # it reads `false` (the app's request bodies forbid unknown fields) as a schema with no
    # $ref at all, whose name it cannot get, on schemas that also have an optional
    # integer property with a bound (as TINY_DOCUMENT's Greeting does). Nothing to fix.
    ("*", "Failed to get the schema name: null"),
    # About the generator, not the document: swift6 succeeds it, but swift5 is the one the
    # app's iOS client is generated with.
    ("swift5", "Generator 'swift5' is considered deprecated."),
    ("swift5", "IMPORTANT: This generator has been deprecated. Please use `swift6` instead"),
]

#: One GET returning a closed object (no other properties allowed), the way the app writes
#: them: valid, and clean for Redocly's recommended rules.
TINY_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Tiny", "version": "1.0.0", "license": {"name": "MIT", "identifier": "MIT"}},
    "servers": [{"url": "http://127.0.0.1:8000"}],
    "security": [],
    "paths": {
        "/greeting": {
            "get": {
                "operationId": "getGreeting",
                "summary": "A greeting",
                "responses": {
                    "200": {
                        "description": "The greeting",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Greeting"}
                            }
                        },
                    },
                    "404": {"description": "No greeting today"},
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Greeting": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "repeats": {
                        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                        "default": None,
                    },
                },
                "required": ["text"],
                "additionalProperties": False,
            }
        }
    },
}

WARN = re.compile(r"\[WARN\]|(?<!\S)WARN(?!\S)")
#: openapi-generator's log line: ``[main] WARN  o.o.codegen.DefaultCodegen - message``.
LOGGED = re.compile(r"WARN\]?\s+\S+ - (?P<message>.*)")
RESERVED_WORD = re.compile(r"(?P<name>\w+) \(reserved word\) cannot be used as model name")


def warnings_of(output: str) -> list[str]:
    """The message of each warning line the generator printed, in order."""
    found = []
    for line in output.splitlines():
        if WARN.search(line):
            logged = LOGGED.search(line)
            found.append(logged["message"].strip() if logged else line.strip())
    return found


def tolerated(generator: str, message: str) -> bool:
    return any(
        which in ("*", generator) and message.startswith(start) for which, start in TOLERATED
    )


def _schemas_titled(node: Any, title: str, where: str = "#") -> Iterator[str]:
    """JSON pointers of the schemas with this title or component name: the generator names
    an inline model after its schema's ``title``."""
    if isinstance(node, dict):
        if node.get("title") == title:
            yield where
        for key, value in node.items():
            pointer = f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key == title and where == "#/components/schemas":
                yield pointer
            yield from _schemas_titled(value, title, pointer)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas_titled(value, title, f"{where}/{index}")


def _explained(message: str, count: int, document: dict[str, Any]) -> str:
    line = f"  {count} × {message}"
    reserved = RESERVED_WORD.search(message)
    if reserved:
        places = sorted(set(_schemas_titled(document, reserved["name"])))
        line += (
            f"\n    the model is named after the title of one of: {', '.join(places)}"
            if places
            else f"\n    no schema has that title or component name: look for a property "
            f"named {reserved['name'].lower()!r} with an inline schema"
        )
    return line


def _without_file_lines(output: str) -> str:
    """The generator's output less its one line per file written."""
    return "\n".join(line for line in output.splitlines() if "writing file" not in line)


@pytest.mark.parametrize("generator", GENERATORS)
def test_openapi_generator_makes_the_client_without_warnings(
    generator: str, generate_client: Callable[[str], Generated], openapi_file: Path
) -> None:
    generated = generate_client(generator)
    ran = generated.ran
    assert ran.returncode == 0, (
        f"openapi-generator could not make the {generator} client:\n"
        f"{_without_file_lines(ran.described())}"
    )

    caused = Counter(m for m in warnings_of(ran.output) if not tolerated(generator, m))
    if caused:
        document = json.loads(openapi_file.read_text())
        listed = "\n".join(_explained(m, n, document) for m, n in sorted(caused.items()))
        pytest.fail(
            f"openapi-generator warned {sum(caused.values())} times about the app's OpenAPI "
            f"document while making the {generator} client ({openapi_file}; client in "
            f"{generated.directory}):\n{listed}",
            pytrace=False,
        )


def test_the_tolerated_warnings_are_printed_for_a_document_with_nothing_wrong(
    java: str, tmp_path: Path
) -> None:
    """Each tolerated warning still appears for TINY_DOCUMENT, and nothing else does: a
    generator upgrade that drops one, or starts warning about a sound document, shows
    here. swift5 prints every kind on the list."""
    document = write_document(tmp_path, TINY_DOCUMENT)
    generated = openapi_generator(java, document, "swift5", tmp_path / "client")
    assert generated.ran.returncode == 0, _without_file_lines(generated.ran.described())

    printed = warnings_of(generated.ran.output)
    assert [m for m in printed if not tolerated("swift5", m)] == []
    assert [start for _, start in TOLERATED if not any(m.startswith(start) for m in printed)] == []
