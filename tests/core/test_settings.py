"""Settings: the secret key is required (or dev mode), bounds are enforced, and the
``paindiary`` command refuses to start without a secret."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.core.migrations import ROOT, head_revision
from app.core.settings import Settings

KEY = "k" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PAINDIARY_* variables and no .env file (the working directory is empty)."""
    for name in list(os.environ):
        if name.upper().startswith("PAINDIARY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_secret_key_is_required() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings()

    assert "PAINDIARY_SECRET_KEY is not set" in str(raised.value)


def test_empty_secret_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="PAINDIARY_SECRET_KEY is not set"):
        Settings(secret_key="")


def test_dev_mode_generates_a_random_key() -> None:
    with pytest.warns(UserWarning, match="dev_mode"):
        first = Settings(dev_mode=True)
    with pytest.warns(UserWarning, match="dev_mode"):
        second = Settings(dev_mode=True)

    assert first.secret_key is not None and second.secret_key is not None
    assert len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key


def test_dev_mode_keeps_a_given_key(recwarn: pytest.WarningsRecorder) -> None:
    settings = Settings(dev_mode=True, secret_key=KEY)

    assert settings.secret_key == KEY
    assert not [w for w in recwarn if "dev_mode" in str(w.message)]


@pytest.mark.parametrize("length", [1, 16, 31])
def test_short_secret_key_is_refused(length: int) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(secret_key="k" * length)


def test_short_secret_key_is_refused_even_in_dev_mode() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(secret_key="short", dev_mode=True)


def test_a_32_character_key_is_enough() -> None:
    assert Settings(secret_key=KEY).secret_key == KEY


def test_defaults() -> None:
    settings = Settings(secret_key=KEY)

    assert settings.database_url == "sqlite:///./paindiary.db"
    assert settings.dev_mode is False
    assert settings.access_token_ttl_seconds == 900
    assert settings.refresh_token_ttl_days == 30
    assert settings.refresh_reuse_grace_seconds == 60
    assert settings.max_body_bytes == 4 * 1024 * 1024
    assert settings.argon2_memory_kib == 19 * 1024
    assert settings.argon2_time_cost == 2
    assert settings.argon2_parallelism == 1


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAINDIARY_SECRET_KEY", KEY)
    monkeypatch.setenv("PAINDIARY_DATABASE_URL", "postgresql://app@db:5432/paindiary")
    monkeypatch.setenv("PAINDIARY_ACCESS_TOKEN_TTL_SECONDS", "300")

    settings = Settings()

    assert settings.secret_key == KEY
    assert settings.database_url == "postgresql://app@db:5432/paindiary"
    assert settings.access_token_ttl_seconds == 300


def test_read_from_a_dotenv_file(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(
        f"PAINDIARY_SECRET_KEY={KEY}\nPAINDIARY_DATABASE_URL=sqlite:///./from-dotenv.db\n"
    )

    settings = Settings()

    assert settings.secret_key == KEY
    assert settings.database_url == "sqlite:///./from-dotenv.db"


def test_dev_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAINDIARY_DEV_MODE", "true")

    with pytest.warns(UserWarning, match="dev_mode"):
        settings = Settings()

    assert settings.dev_mode is True
    assert settings.secret_key is not None and len(settings.secret_key) >= 32


@pytest.mark.parametrize(
    "override",
    [
        {"access_token_ttl_seconds": 901},  # the contract: access tokens live ≤ 15 min
        {"access_token_ttl_seconds": 29},
        {"refresh_token_ttl_days": 0},
        {"refresh_token_ttl_days": 366},
        {"refresh_reuse_grace_seconds": -1},
        {"refresh_reuse_grace_seconds": 301},
        {"max_body_bytes": 1023},
        {"argon2_memory_kib": 19 * 1024 - 1},  # below OWASP's minimum
        {"argon2_time_cost": 1},
        {"argon2_parallelism": 0},
        {"db_pool_size": 0},
        {"db_max_overflow": -1},
    ],
)
def test_out_of_range_values_are_refused(override: dict[str, Any]) -> None:
    (name,) = override

    with pytest.raises(ValidationError) as raised:
        Settings(secret_key=KEY, **override)

    assert [e["loc"] for e in raised.value.errors()] == [(name,)]


# --- the command line -------------------------------------------------------------------


def _paindiary(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)} | env
    return subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_without_a_secret_exits_2_with_a_clear_message(clean_environment: Path) -> None:
    result = _paindiary(clean_environment, "migrate")

    assert result.returncode == 2
    assert "paindiary: configuration error:" in result.stderr
    assert "PAINDIARY_SECRET_KEY is not set" in result.stderr
    assert "PAINDIARY_DEV_MODE=true" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(clean_environment.iterdir()) == []  # no database was created


def test_migrate_with_a_short_secret_exits_2(clean_environment: Path) -> None:
    result = _paindiary(clean_environment, "migrate", PAINDIARY_SECRET_KEY="too-short")

    assert result.returncode == 2
    assert "at least 32 characters" in result.stderr
    assert "too-short" not in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_with_a_secret_brings_the_database_to_head(clean_environment: Path) -> None:
    path = clean_environment / "cli.db"

    result = _paindiary(
        clean_environment,
        "migrate",
        PAINDIARY_SECRET_KEY=KEY,
        PAINDIARY_DATABASE_URL=f"sqlite:///{path}",
    )

    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(path)) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == head_revision()
