"""The ``paindiary`` command: ``serve``, ``migrate`` and ``demo``."""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError

from app.core.settings import Settings, get_settings


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            print(f"paindiary: configuration error: {err['msg']}", file=sys.stderr)
        raise SystemExit(2) from exc


def migrate(settings: Settings) -> None:
    from app.core.migrations import upgrade

    upgrade(settings.database_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="paindiary", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument("--log-level", default="info")
    commands.add_parser("migrate", help="bring the database schema to the latest revision")
    demo = commands.add_parser("demo", help="load a demonstration patient")
    demo.add_argument("--email", default="demo@paindiary.example")
    demo.add_argument("--password", default="demo-password")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings()
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "serve":
        import uvicorn

        migrate(settings)
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            proxy_headers=True,
            timeout_graceful_shutdown=20,
        )
    elif args.command == "demo":
        import asyncio

        from app.demo import load_demo

        migrate(settings)
        print(asyncio.run(load_demo(settings, args.email, args.password)))


if __name__ == "__main__":
    main()
