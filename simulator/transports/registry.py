"""Which transport speaks to an agent URL: the scheme names the protocol (DESIGN.md).

`ws://` / `wss://` native, `twilio+ws://` Twilio Media Streams,
`realtime+ws://` OpenAI Realtime, `webrtc+http://` WebRTC with HTTP offer/answer.
Transport modules are imported only when used (aiortc is heavy).
"""

from __future__ import annotations

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


def transport_for(url: str) -> Transport:
    """A new, unconnected Transport for one call to `url`."""
    name = transport_name(url)
    if name == "websocket":
        from simulator.transports.websocket import WebSocketTransport

        return WebSocketTransport(url)
    if name == "twilio":
        from simulator.transports.twilio import TwilioTransport

        return TwilioTransport(url)
    if name == "realtime":
        from simulator.transports.realtime import RealtimeTransport

        return RealtimeTransport(url)
    if name == "webrtc":
        from simulator.transports.webrtc import WebRtcTransport

        return WebRtcTransport(url)
    raise UsageError(
        f"unsupported agent URL {url!r}",
        where="--agent",
        fix="use ws://, twilio+ws://, realtime+ws:// or webrtc+http:// (see DESIGN.md)",
    )
