"""Injected network delay comes back out of the latency measured in the audio."""

from __future__ import annotations

import pytest

from simulator.transports.websocket import WebSocketTransport
from tests.delay_shift import measure_shift

DELAYED = "network: {uplink: {delay_ms: 50}, downlink: {delay_ms: 50}}"


async def test_50_plus_50_ms_one_way_delay_moves_median_latency_by_100_ms_on_websocket(
    pipeline_agent_url: str,
) -> None:
    *_, shift = await measure_shift(
        lambda: WebSocketTransport(pipeline_agent_url), "net", "network: {}", DELAYED
    )
    assert shift == pytest.approx(100, abs=15)
