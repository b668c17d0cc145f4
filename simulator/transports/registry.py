"""Which transport speaks to an agent URL: the scheme names the protocol (DESIGN.md).

`ws://` / `wss://` native, `twilio+ws://` Twilio Media Streams,
`realtime+ws://` OpenAI Realtime, `webrtc+http://` WebRTC with HTTP offer/answer.
Transport modules are imported only when used (aiortc is heavy).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from simulator.errors import UsageError
from simulator.transports.base import Transport

#: Transports the bundled agents serve (`voxsim agent serve --transport`).
AGENT_TRANSPORTS = ("websocket", "twilio", "realtime", "webrtc")

#: URL scheme prefix -> transport name, most specific first.
SCHEMES = (
    ("twilio+ws://", "twilio"),
    ("twilio+wss://", "twilio"),
    ("realtime+ws://", "realtime"),
    ("realtime+wss://", "realtime"),
    ("webrtc+http://", "webrtc"),
    ("webrtc+https://", "webrtc"),
    ("ws://", "websocket"),
    ("wss://", "websocket"),
)


def transport_name(url: str) -> str | None:
    """The transport a URL's scheme names, or None when it names none."""
    for prefix, name in SCHEMES:
        if url.startswith(prefix):
            return name
    return None


#: What an agent URL may start with (one line of help).
URL_HELP = "ws://, twilio+ws://, realtime+ws:// or webrtc+http:// (wss:// and https:// too)"


def url_problem(url: str) -> str | None:
    """Why `url` cannot name an agent (scheme, host, port), or None when it can.

    Checked before any call, so a typo is a usage error (exit 2), not an
    unreachable agent (exit 3).
    """
    if transport_name(url) is None:
        return f"unsupported scheme in {url[:80]!r}: use {URL_HELP}"
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"spaces or control characters in {url[:80]!r}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Port out of range 0-65535", "Invalid IPv6 URL"
        return f"malformed URL {url[:80]!r} ({exc})"
    if not parts.hostname:
        return f"no host in {url[:80]!r}, e.g. ws://127.0.0.1:8765/ws"
    if port == 0:
        return f"port 0 in {url[:80]!r}: the port must be 1..65535"
    return None


def transport_for(url: str, connect_timeout_s: float | None = None) -> Transport:
    """A new, unconnected Transport for one call to `url`; `connect_timeout_s` bounds
    opening the connection (each transport's default when None)."""
    name = transport_name(url)
    timeout: dict[str, Any] = (
        {} if connect_timeout_s is None else {"connect_timeout_s": connect_timeout_s}
    )
    if name == "websocket":
        from simulator.transports.websocket import WebSocketTransport

        return WebSocketTransport(url, **timeout)
    if name == "twilio":
        from simulator.transports.twilio import TwilioTransport

        return TwilioTransport(url, **timeout)
    if name == "realtime":
        from simulator.transports.realtime import RealtimeTransport

        return RealtimeTransport(url, **timeout)
    if name == "webrtc":
        from simulator.transports.webrtc import WebRtcTransport

        return WebRtcTransport(url, **timeout)
    raise UsageError(
        f"unsupported agent URL {url!r}",
        where="--agent",
        fix="use ws://, twilio+ws://, realtime+ws:// or webrtc+http:// (see DESIGN.md)",
    )
