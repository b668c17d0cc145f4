"""WebRTC: a full call to the bundled pipeline agent, and injected delay coming back out."""

from __future__ import annotations

import pytest

from simulator.transports.webrtc import WebRtcTransport
from tests.delay_shift import measure_shift
from tests.simulator.test_network_delay import DELAYED
from tests.simulator.transports.conftest import routes


async def test_50_plus_50_ms_one_way_delay_moves_median_latency_by_100_ms_on_webrtc(
    pipeline_agent_url: str,
) -> None:
    url = routes(pipeline_agent_url)["webrtc"]
    make = lambda: WebRtcTransport(url)  # noqa: E731
    # Two pairs (ABBA): each WebRTC call has its own jitter-buffer state, which moved one
    # pair by 20 ms on a hog-loaded 2-core box.
    base, _, shift = await measure_shift(make, "rtc", "network: {}", DELAYED, pairs=2)
    said = [t for t in base["turns"] if t["kind"] == "say"]
    assert "tuesday" in (said[0]["agent_heard_text"] or "")  # Opus both ways, still heard
    assert shift == pytest.approx(100, abs=15)
