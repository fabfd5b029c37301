"""The OpenAPI document passes Redocly's recommended lint rules with no error and no
warning: the rules most client generators and API portals rely on (operation ids, servers,
security on every operation, a licence, schemas that are valid JSON Schema)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.openapi.conftest import run


def _where(problem: dict[str, Any]) -> str:
    """The JSON pointer of a problem in the document (Redocly puts it in ``location``)."""
    locations = problem.get("location") or [{}]
    return str(locations[0].get("pointer", "?"))


def _by_rule(problems: list[dict[str, Any]]) -> str:
    """Every problem, grouped by rule: ``rule (severity, count)`` then one line per place,
    with the rule's documentation link when Redocly gives one."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for problem in problems:
        groups[(problem["ruleId"], problem["severity"])].append(problem)
    lines = []
    for (rule, severity), found in sorted(groups.items()):
        reference = found[0].get("reference")
        lines.append(f"{rule} ({severity}, {len(found)})" + (f" {reference}" if reference else ""))
        lines += [f"  {_where(problem)}: {problem['message']}" for problem in found]
    return "\n".join(lines)


def test_the_document_passes_redoclys_recommended_rules(
    openapi_file: Path, node_tool: Callable[[str], Path]
) -> None:
    redocly = node_tool("redocly")
    ran = run(
        [
            redocly,
            "lint",
            "--extends=recommended",
            "--format=json",
            "--max-problems=10000",
            openapi_file.name,
        ],
        cwd=openapi_file.parent,
    )
    try:
        report = json.loads(ran.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"redocly printed no JSON report:\n{ran.described()}") from None

    problems = report["problems"]
    totals = report["totals"]
    if problems:
        pytest.fail(
            f"redocly lint --extends=recommended: {totals['errors']} errors and "
            f"{totals['warnings']} warnings in the app's OpenAPI document (JSON pointers "
            f"into {openapi_file}):\n{_by_rule(problems)}",
            pytrace=False,
        )
    assert (totals["errors"], totals["warnings"], ran.returncode) == (0, 0, 0), ran.described()
