"""Bundled agents as child processes; every server answers on every transport's route."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reference_agent.server import route_urls


def routes(ws_url: str) -> dict[str, str]:
    """The URL of each transport on the server whose native URL is `ws_url`, and its HTTP root."""
    http = "http://" + ws_url.removeprefix("ws://").removesuffix("/ws")
    return {**route_urls(ws_url), "http": http}


@pytest.fixture(scope="session")
def e2e_agent_url(bundled_agent: Callable[[str], Iterator[str]]) -> Iterator[str]:
    """The bundled end-to-end agent in its own process (every route); its ws:// URL."""
    yield from bundled_agent("e2e")
