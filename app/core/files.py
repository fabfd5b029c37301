"""Static files served from the installed package (the API docs' assets, the web app), each
with an exact content type: text says ``charset=utf-8`` (contract §0), whatever Python's
``mimetypes`` makes of the suffix (``.js`` is ``application/javascript`` before 3.12,
``.webmanifest`` is unknown to it)."""

from __future__ import annotations

from pathlib import PurePosixPath

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

#: Content types by suffix; a directory's index is HTML.
MEDIA_TYPES = {
    "": "text/html; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/vnd.microsoft.icon",
}


class PackageFiles(StaticFiles):
    """Starlette's static files with the content types above."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        media = MEDIA_TYPES.get(PurePosixPath(scope["path"]).suffix)
        if media is not None and response.status_code in (200, 304):
            response.headers["Content-Type"] = media
        return response
