"""Serving the web app's files: a strict Content-Security-Policy (no inline script or style),
and ``Cache-Control: no-cache`` so that a browser revalidates (ETag) rather than keeps an old
shell; the service worker keeps the offline copy."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.types import Scope

from app.core.files import PackageFiles

STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


class WebAppFiles(PackageFiles):
    """The app's static files, each with the app's security and caching headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def web_app() -> WebAppFiles:
    return WebAppFiles(directory=STATIC, html=True)
