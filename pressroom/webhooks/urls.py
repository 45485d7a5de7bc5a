"""Which callback URLs may be called: no SSRF.

A URL is allowed when it is ``http`` or ``https`` and every address its host
resolves to is global unicast: not private, loopback, link-local, shared
(100.64/10), multicast, reserved or unspecified, for IPv4 and IPv6 (an
IPv4-mapped IPv6 address is judged by its IPv4 address).
``PRESSROOM_WEBHOOK_ALLOW_PRIVATE`` lifts the address rule (a private
deployment whose receivers are on the same network). The check runs at
submission, and again at delivery on the very socket that is connected
(pressroom.webhooks.delivery), so a host that resolves to a public address
first and to an internal one later (DNS rebinding) is still refused.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from pressroom.errors import CallbackUrlNotAllowedError

MAX_URL_LENGTH = 2048


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def parse(url: str) -> SplitResult:
    """The URL's parts if it is a usable http(s) URL, else a 400."""
    if len(url) > MAX_URL_LENGTH:
        raise CallbackUrlNotAllowedError(
            f"callback_url is longer than {MAX_URL_LENGTH} characters.", reason="too_long"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise CallbackUrlNotAllowedError(
            "callback_url is not a valid URL.", reason="invalid"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackUrlNotAllowedError(
            "callback_url must be an http:// or https:// URL with a host.", reason="scheme"
        )
    if parts.username or parts.password:
        raise CallbackUrlNotAllowedError(
            "callback_url must not carry a user name or password.", reason="credentials"
        )
    return parts


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (raises OSError when it does not)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_callback_url(url: str, *, allow_private: bool) -> str:
    """Raise ``CallbackUrlNotAllowedError`` (400) unless ``url`` may be called."""
    parts = parse(url)
    if allow_private:
        return url
    host = parts.hostname
    assert host is not None
    try:
        addresses = resolve(host, default_port(parts))
    except OSError:
        raise CallbackUrlNotAllowedError(
            "callback_url's host does not resolve.", reason="unresolvable"
        ) from None
    refused = [a for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        raise CallbackUrlNotAllowedError(
            "callback_url resolves to a private, loopback, link-local or reserved address.",
            reason="private_address",
        )
    return url
