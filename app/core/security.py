"""Password hashing (Argon2id), signed access tokens (JWT, HS256) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.errors import Unauthorized

ALGORITHM = "HS256"


class Passwords:
    """Argon2id hashing; ``verify_unknown`` spends the same time when no account matched."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism
        )
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def verify_unknown(self, password: str) -> None:
        """Burn one verification so an unknown email takes as long as a wrong password."""
        self.verify(self._dummy, password)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated account behind a request."""

    user_id: uuid.UUID
    role: str  # "patient" | "clinician"
    #: The session (refresh-token family) the token was issued in; None for a token made
    #: without one (tests, the benchmark's seeding).
    session_id: uuid.UUID | None = None
    issued_at: int = 0  # seconds since the epoch


class AccessTokens:
    """Issues and verifies access tokens.

    A verified token is remembered (bounded, until its ``exp``): a phone sends the same
    token with every request for up to 15 minutes, and the HMAC and claims need checking
    only once. Only the exact signed string hits.

    ``clock`` (seconds since the epoch) dates the tokens issued and decides whether one has
    expired, cached or not (PyJWT checks them against the system clock as well); tests
    pass one that they move forward.
    """

    CACHE_SIZE = 10_000

    def __init__(
        self, secret: str, ttl_seconds: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Caller, int]] = OrderedDict()

    def issue(self, user_id: uuid.UUID, role: str, session_id: uuid.UUID | None = None) -> str:
        """A token for ``user_id``, naming its session (``sid``) when it has one."""
        now = int(self._clock())
        claims = {"sub": str(user_id), "role": role, "iat": now, "exp": now + self.ttl_seconds}
        if session_id is not None:
            claims["sid"] = str(session_id)
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Caller:
        cached = self._verified.get(token)
        if cached is not None:
            caller, expires = cached
            if self._clock() < expires:
                return caller
            del self._verified[token]
        caller, expires = self._decode(token)
        self._verified[token] = (caller, expires)
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return caller

    def _decode(self, token: str) -> tuple[Caller, int]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "exp", "iat"]},
            )
            expires = int(claims["exp"])
            if expires <= self._clock():  # PyJWT read the system clock; this reads ``clock``
                raise jwt.ExpiredSignatureError("Signature has expired")
            sid = claims.get("sid")
            caller = Caller(
                user_id=uuid.UUID(claims["sub"]),
                role=str(claims["role"]),
                session_id=uuid.UUID(sid) if sid is not None else None,
                issued_at=int(claims["iat"]),
            )
            return caller, expires
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Unauthorized("The access token is invalid or has expired.") from exc


def new_refresh_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Refresh tokens and share codes are stored only as their SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()
