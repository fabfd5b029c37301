"""The ``paindiary`` command: ``serve``, ``migrate`` and ``demo``."""

from __future__ import annotations

import argparse
import logging.config
import signal
import sys
from typing import Any

from pydantic import ValidationError

from app.core.observability import logging_config
from app.core.settings import Settings, get_settings


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            print(f"paindiary: configuration error: {err['msg']}", file=sys.stderr)
        raise SystemExit(2) from exc


def migrate(settings: Settings) -> None:
    """Migrate to head now; an unreachable database exits 1 with one line saying why."""
    from app.core.migrations import safe_url, unreachable_reason, upgrade

    problem = unreachable_reason(settings.database_url)
    if problem is not None:
        where = safe_url(settings.database_url)
        print(f"paindiary: database {where} is unreachable: {problem}", file=sys.stderr)
        raise SystemExit(1)
    upgrade(settings.database_url, configure_logger=False)  # keep our log format


def _exit_cleanly(signum: int, _frame: object) -> None:
    """SIGTERM outside uvicorn's own handler: before serving, or re-raised by uvicorn once
    its graceful shutdown is over. Either way the process is done: exit code 0, not 143."""
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="paindiary", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="serve the API, migrating the database as soon as it is reachable"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument("--log-level", help="overrides PAINDIARY_LOG_LEVEL (default info)")
    commands.add_parser("migrate", help="bring the database schema to the latest revision")
    demo = commands.add_parser("demo", help="load a demonstration patient")
    demo.add_argument("--email", default="demo@paindiary.example")
    demo.add_argument("--password", default="demo-password")
    args = parser.parse_args(argv)

    settings = _settings()
    log_level = (getattr(args, "log_level", None) or settings.log_level).lower()
    log_config = logging_config(settings.log_format, log_level)
    logging.config.dictConfig(log_config)
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "serve":
        import uvicorn

        from app.core.migrations import migrate_in_background

        # In the background, so that an unreachable database means "not ready" (/readyz
        # 503) rather than a crash loop; only here, so that workers never migrate at once.
        migrate_in_background(settings.database_url)
        signal.signal(signal.SIGTERM, _exit_cleanly)
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=log_config,  # applied again in each worker process
            log_level=log_level,
            access_log=False,  # it prints raw paths and query strings; ours has route templates
            **proxy_options(settings),
            timeout_graceful_shutdown=20,
            # Importing the app takes seconds on a loaded machine: uvicorn's default 5 s
            # health check would kill and restart workers in a loop.
            timeout_worker_healthcheck=30,
        )
    elif args.command == "demo":
        import asyncio

        from app.demo import load_demo

        migrate(settings)
        print(asyncio.run(load_demo(settings, args.email, args.password)))


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `X-Forwarded-For`: read only from the proxies named in
    ``PAINDIARY_FORWARDED_ALLOW_IPS``; by default from none (uvicorn's own default trusts
    127.0.0.1, so any local client could choose the address the limits count)."""
    if not settings.forwarded_allow_ips:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}


if __name__ == "__main__":
    main()
