"""/healthz, /readyz, the offline /docs and /openapi.json (contract §8)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.database import create_engine
from app.core.migrations import downgrade, head_revision, upgrade
from app.main import create_app
from tests.conftest import make_settings


@contextmanager
def serve(database_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def execute(url: str, statement: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def not_ready(response: Any) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "unavailable"
    assert "Traceback" not in response.text
    return body


# --- /healthz and /readyz ---------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_migrated_to_head(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "reachable",
        "migration": head_revision(),
    }


def test_readyz_on_an_empty_database_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()

    with serve(f"sqlite:///{path}") as test_client:
        body = not_ready(test_client.get("/readyz"))
        assert test_client.get("/healthz").status_code == 200

    assert body.get("migration") is None


def test_readyz_after_downgrade_to_base(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'base.db'}"
    upgrade(url)
    downgrade(url)

    with serve(url) as test_client:
        body = not_ready(test_client.get("/readyz"))

    assert body == {
        "status": "unavailable",
        "database": "reachable",
        "migration": None,
        "expected_migration": head_revision(),
    }


def test_readyz_on_an_older_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    execute(url, "UPDATE alembic_version SET version_num = '000000000000'")

    with serve(url) as test_client:
        body = not_ready(test_client.get("/readyz"))

    assert body["migration"] == "000000000000"
    assert body["expected_migration"] == head_revision()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/paindiary",
        "sqlite:////nonexistent-directory/paindiary.db",
    ],
    ids=["postgresql-port-1", "sqlite-missing-directory"],
)
def test_readyz_on_an_unreachable_database(url: str) -> None:
    with serve(url) as test_client:
        first = not_ready(test_client.get("/readyz"))
        second = not_ready(test_client.get("/readyz"))  # still answering
        assert test_client.get("/healthz").json() == {"status": "ok"}
        # A request that needs the database is a 503 problem, not a crash.
        outage = test_client.post(
            "/v1/auth/register",
            json={"email": "a@example.org", "password": "0123456789", "role": "patient"},
        )

    assert first == second
    assert first["database"] == "unreachable"
    assert "postgres@" not in str(first)
    assert outage.status_code == 503
    assert outage.headers["content-type"].startswith("application/problem+json")
    assert outage.headers["retry-after"] == "2"


# --- docs and schema --------------------------------------------------------------------


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "/docs/assets/swagger-ui.css" in page.text
    assert "/openapi.json" in page.text
    assert "cdn.jsdelivr.net" not in page.text
    assert "unpkg.com" not in page.text


@pytest.mark.parametrize(
    ("asset", "media_type"),
    [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")],
)
def test_docs_assets_are_served(client: TestClient, asset: str, media_type: str) -> None:
    response = client.get(f"/docs/assets/{asset}")

    assert response.status_code == 200
    assert media_type in response.headers["content-type"]
    assert len(response.content) > 10_000


def test_docs_oauth2_redirect(client: TestClient) -> None:
    response = client.get("/docs/oauth2-redirect")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_missing_docs_asset_is_404(client: TestClient) -> None:
    assert client.get("/docs/assets/nope.js").status_code == 404


def test_openapi_describes_the_problem_schema(client: TestClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "errors"}
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "$defs" not in problem
    assert "ProblemError" in schema["components"]["schemas"]
    register = schema["paths"]["/v1/auth/register"]["post"]["responses"]
    assert register["409"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    for path in ("/healthz", "/readyz", "/v1/auth/token", "/v1/auth/revoke", "/v1/me"):
        assert path in schema["paths"], path
    assert "/docs" not in schema["paths"]
