"""The webhook signature.

Headers of every delivery::

    X-Pressroom-Timestamp: <unix seconds>
    X-Pressroom-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body
bytes with ``PRESSROOM_WEBHOOK_SECRET``, compares in constant time, and
refuses a timestamp older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Pressroom-Signature"
TIMESTAMP_HEADER = "X-Pressroom-Timestamp"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), header)
