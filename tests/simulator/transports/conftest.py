"""Bundled agents as child processes; every server answers on every transport's route."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest


def routes(ws_url: str) -> dict[str, str]:
    """The URL of each transport on the server whose native URL is `ws_url`."""
    base = ws_url.removeprefix("ws://").removesuffix("/ws")
    return {
        "websocket": f"ws://{base}/ws",
        "twilio": f"twilio+ws://{base}/twilio",
        "realtime": f"realtime+ws://{base}/v1/realtime",
        "webrtc": f"webrtc+http://{base}/offer",
        "http": f"http://{base}",
    }


@pytest.fixture(scope="session")
def e2e_agent_url(bundled_agent: Callable[[str], Iterator[str]]) -> Iterator[str]:
    """The bundled end-to-end agent in its own process (every route); its ws:// URL."""
    yield from bundled_agent("e2e")
