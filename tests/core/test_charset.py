"""Every text response says ``charset=utf-8`` (contract §0), the static files included: the
API docs' assets and the web app's files, whatever Python's ``mimetypes`` would say."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import DOCS_ASSETS
from app.web.routes import STATIC

TEXT_MARKERS = ("text/", "javascript", "json", "+xml")


def files(root: Path, prefix: str) -> list[str]:
    return sorted(
        f"{prefix}/{path.relative_to(root).as_posix()}"
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )


def is_text(content_type: str) -> bool:
    return any(marker in content_type for marker in TEXT_MARKERS)


@pytest.mark.parametrize(
    "path", ["/docs", "/app/", *files(DOCS_ASSETS, "/docs/assets"), *files(STATIC, "/app")]
)
def test_static_text_says_utf_8(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    content_type = response.headers["content-type"]
    assert not content_type.startswith("application/octet-stream"), path
    if is_text(content_type) or path.endswith((".js", ".css", ".html", ".svg", ".webmanifest")):
        assert content_type.endswith("; charset=utf-8"), (path, content_type)


def test_the_exact_types_of_the_web_app(client: TestClient) -> None:
    assert client.get("/app/").headers["content-type"] == "text/html; charset=utf-8"
    scripts = [p for p in files(STATIC, "/app") if p.endswith(".js")]
    assert scripts, "the web app has scripts"
    for path in scripts:
        assert client.get(path).headers["content-type"] == "text/javascript; charset=utf-8"
