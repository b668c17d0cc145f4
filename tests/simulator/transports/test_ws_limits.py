"""The WebSocket transports' limits: an oversize agent message is named with its limit
(issue 15, item 14). That `connect_timeout_s` bounds the opening handshake (item 16) is
part of the transport contract (test_transport_contract.py)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiohttp import web

from simulator.errors import ProtocolError
from simulator.transports.base import StartInfo
from simulator.transports.registry import transport_for
from tests.simulator.transports.hostile import serve_app, url

START = StartInfo(call_id="limits-000", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
#: 10 MB (issue 15); Realtime's limit is 16 MiB (its audio deltas are large), so 20 MB there.
SIZE = {"websocket": 10 * 2**20, "twilio": 10 * 2**20, "realtime": 20 * 2**20}


async def _ten_megabytes(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    await ws.receive()  # start / connected / session.update
    protocol = request.match_info["protocol"]
    big = "x" * (SIZE[protocol])
    with contextlib.suppress(ConnectionError):  # the caller drops the connection mid-send
        await (ws.send_bytes(big.encode()) if protocol == "websocket" else ws.send_str(big))
        async for _ in ws:
            pass
    return ws


@pytest.mark.parametrize("protocol", ["websocket", "twilio", "realtime"])
async def test_an_oversize_agent_message_is_named_with_the_limit(protocol: str) -> None:
    runner, port = await serve_app(_ten_megabytes)
    transport = transport_for(url(protocol, port))
    try:
        await transport.connect(START)
        with pytest.raises(ProtocolError) as caught:
            async with asyncio.timeout(20):
                async for _ in transport.receive():
                    pass
    finally:
        await transport.close()
        await runner.cleanup()
    line = caught.value.one_line()
    assert "too large" in line and f"{SIZE[protocol]} bytes" in line, line
    assert ("16 MiB" if protocol == "realtime" else "4 MiB") in line, line
    assert "None" not in line
