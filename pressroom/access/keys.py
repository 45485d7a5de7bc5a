"""API keys: created, listed and revoked from the command line, stored hashed.

A token is ``prk_<key id>_<43 random characters>`` (256 random bits). Only
its SHA-256 is stored. Because the secret part is random and long, a fast
unsalted hash is as strong as a slow salted one here, and it lets a request
find its key with one indexed lookup (``secret_hash`` is unique).
The key id (``key_`` + 12 hex digits) is public: it is the owner of the
key's jobs and what ``pressroom keys list`` shows.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pressroom.db.models import ApiKey, utcnow

TOKEN_PREFIX = "prk_"  # noqa: S105 - a prefix, not a secret


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown of a key (never its secret)."""

    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, str | bool | None]:
        return {
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "revoked_at": (
                self.revoked_at.isoformat().replace("+00:00", "Z") if self.revoked_at else None
            ),
        }


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.created_at, row.revoked_at)


class KeyStore:
    """Reads and writes ``api_keys`` rows."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, name: str) -> tuple[KeyInfo, str]:
        """A new active key; returns it and its token (shown once, never stored)."""
        key_id = "key_" + secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{key_id[4:]}_{secrets.token_urlsafe(32)}"
        row = ApiKey(id=key_id, name=name[:100], secret_hash=token_hash(token), created_at=utcnow())
        with self._sessions() as session, session.begin():
            session.add(row)
            session.flush()
            info = _info(row)
        return info, token

    def list(self) -> Sequence[KeyInfo]:
        with self._sessions() as session:
            rows = session.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars()
            return [_info(row) for row in rows]

    def revoke(self, key_id: str) -> KeyInfo | None:
        """Revoke ``key_id`` (at once: the next request with it gets 401);
        None when there is no such key. Revoking twice keeps the first time."""
        with self._sessions() as session, session.begin():
            row = session.get(ApiKey, key_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return _info(row)

    def verify(self, token: str) -> str | None:
        """The id of the active key whose token this is, else None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self._sessions() as session:
            row = session.execute(
                select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.secret_hash == token_hash(token))
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return str(row.id)
