"""Service settings, read from the environment (prefix ``PAINDIARY_``) or a ``.env`` file."""

from __future__ import annotations

import json
import re
import secrets
import warnings
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: An origin as a browser sends it in ``Origin``: lower case, no path, no default port.
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAINDIARY_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./paindiary.db"
    #: HMAC key for access tokens. Required unless ``dev_mode`` is on.
    secret_key: str | None = None
    #: Development convenience: a random per-process secret key when none is set.
    dev_mode: bool = False

    access_token_ttl_seconds: int = Field(default=900, ge=30, le=900)
    #: How often each process reads the sessions ended elsewhere (sign-outs, password
    #: changes, erasures): an ended session is refused everywhere within this (+ a request).
    session_check_seconds: float = Field(default=0.5, ge=0, le=1)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    #: How long a used refresh token may be replayed (lost response) while its successor is unused.
    refresh_reuse_grace_seconds: int = Field(default=60, ge=0, le=300)

    #: Requests with a larger body are refused with 413.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    #: Browser origins allowed to call the API (CORS), e.g. ``["https://app.example.org"]``;
    #: in the environment a JSON list or comma-separated. Empty: no CORS headers at all.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    #: Argon2id parameters; the defaults are OWASP's minimum (m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = Field(default=19 * 1024, ge=19 * 1024)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)

    #: Failed share-code redemptions allowed per clinician account and per address in a
    #: window (0 turns the limit off).
    link_attempts_per_window: int = Field(default=10, ge=0)
    rate_limit_window_seconds: float = Field(default=900, gt=0)
    #: Writes of patient records per account per minute (0 = off).
    writes_per_minute: int = Field(default=600, ge=0)
    #: Token requests (sign-in, refresh) per client address per minute (0 = off).
    sign_ins_per_minute: int = Field(default=30, ge=0)
    #: Failed sign-ins per account (whatever the address) within ``sign_in_failure_window``
    #: seconds; past it the account's sign-ins are 429 until the oldest failure is that old.
    #: A window, not a lock: a stranger cannot keep an account shut for long, and devices
    #: already signed in keep refreshing their tokens meanwhile.
    failed_sign_ins_per_account: int = Field(default=10, ge=0)
    sign_in_failure_window: int = Field(default=900, ge=1)
    #: Proxies whose `X-Forwarded-For` names the client (comma-separated addresses, or
    #: `*`); by default none, so that a client cannot choose its own address.
    forwarded_allow_ips: str = ""
    #: Registrations per client address per hour (0 = off).
    sign_ups_per_hour: int = Field(default=20, ge=0)
    #: Responses larger than this are gzip-compressed for clients that accept it.
    gzip_minimum_bytes: int = Field(default=1024, ge=0)

    #: Threads for CPU-bound request work (summaries, reports, charts), and how many such
    #: pieces of work a process admits at once, running or waiting; one more is answered
    #: 503 with Retry-After (app/core/workers.py).
    heavy_work_threads: int = Field(default=2, ge=1)
    heavy_work_limit: int = Field(default=8, ge=1)

    #: Rendered summaries kept per process, each valid only for the exact data version it
    #: was computed from (0 = compute every request).
    summary_cache_entries: int = Field(default=512, ge=0)
    #: Rows of clinicians' patient lists kept per process, each for one version of one
    #: patient's data (about 1.1 KB each; 0 = compute every row on every request).
    patient_rows_kept: int = Field(default=10_000, ge=0)

    #: Freeze the objects alive at start-up out of the garbage collector's way and collect
    #: the youngest generation every 50,000 allocations instead of 700 (app/core/runtime.py).
    gc_tuning: bool = True

    #: PostgreSQL connections per process. All kept open (no overflow by default): the
    #: pool closes an overflow connection as soon as it is returned while the pool is full,
    #: so under load each overflow checkout paid for a new connection.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    #: Seconds a request waits for a free connection before it gets 503.
    db_pool_timeout: float = Field(default=10, gt=0)

    #: Logs on stderr (`paindiary serve`): one JSON object per line, or text for a terminal.
    log_format: str = Field(default="json", pattern="^(json|text)$")
    log_level: str = Field(default="info", pattern="(?i)^(debug|info|warning|error|critical)$")
    #: When set, GET /metrics needs ``Authorization: Bearer <metrics_token>``.
    metrics_token: str | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        # A browser compares Origin as a string: anything else would never match, silently.
        for origin in origins:
            match = _ORIGIN.match(origin)
            if match is None or match[3] == _DEFAULT_PORTS[match[1]]:
                raise ValueError(
                    f"{origin!r} is not an origin as browsers send it: scheme://host[:port],"
                    " lower case, no path or trailing slash, no default port, no wildcard"
                )
        return list(dict.fromkeys(origins))

    @model_validator(mode="after")
    def _require_secret(self) -> Settings:
        if not self.secret_key:
            if not self.dev_mode:
                raise ValueError(
                    "PAINDIARY_SECRET_KEY is not set. Set it to a long random string "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                    "or set PAINDIARY_DEV_MODE=true for a throw-away development key."
                )
            warnings.warn(
                "dev_mode: using a random secret key; tokens will not survive a restart",
                stacklevel=2,
            )
            self.secret_key = secrets.token_urlsafe(48)
        elif len(self.secret_key) < 32:
            raise ValueError("PAINDIARY_SECRET_KEY must be at least 32 characters long")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
