"""Access tokens: the verified-token cache must never outlive a token or accept a forgery."""

from __future__ import annotations

import time
import uuid

import pytest

from app.core.errors import Unauthorized
from app.core.security import AccessTokens, Passwords

SECRET = "unit-test-secret-key-0123456789-abcdefgh"


class Clock:
    """Seconds since the epoch, standing still until the test moves them on."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_cached_token_still_expires() -> None:
    clock = Clock()
    tokens = AccessTokens(SECRET, ttl_seconds=60, clock=clock)
    user = uuid.uuid4()
    token = tokens.issue(user, "patient")
    expires = int(clock.now) + 60
    assert tokens.verify(token).user_id == user
    assert token in tokens._verified  # the next check is answered from the cache
    clock.now = expires - 0.001
    assert tokens.verify(token).user_id == user  # the last moment it is good
    clock.now = expires  # `exp` is the first moment it is not
    with pytest.raises(Unauthorized):
        tokens.verify(token)
    assert token not in tokens._verified
    with pytest.raises(Unauthorized):  # nor after that, cached or not
        tokens.verify(token)


def test_a_changed_token_is_never_taken_from_the_cache() -> None:
    tokens = AccessTokens(SECRET, ttl_seconds=60)
    token = tokens.issue(uuid.uuid4(), "patient")
    tokens.verify(token)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Unauthorized):
        tokens.verify(forged)
    other_key = AccessTokens("another-secret-key-0123456789-abcdefghij", 60)
    with pytest.raises(Unauthorized):
        tokens.verify(other_key.issue(uuid.uuid4(), "patient"))


def test_the_cache_is_bounded() -> None:
    tokens = AccessTokens(SECRET, ttl_seconds=60)
    tokens.CACHE_SIZE = 5
    issued = [tokens.issue(uuid.uuid4(), "patient") for _ in range(8)]
    for token in issued:
        tokens.verify(token)
    assert len(tokens._verified) == 5
    assert list(tokens._verified) == issued[3:]  # the oldest were dropped


def test_passwords_verify_and_reject() -> None:
    passwords = Passwords(19 * 1024, 2, 1)
    stored = passwords.hash("a long password")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify(stored, "a long password")
    assert not passwords.verify(stored, "a long passwore")
    assert not passwords.verify("not a hash", "a long password")
