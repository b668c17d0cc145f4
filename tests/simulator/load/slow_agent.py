"""A native-protocol test agent whose reply latency is known in advance.

Run as its own process by tests/simulator/load: it endpoints the caller by
energy (a reply after 200 ms of silence) and answers with a 200 ms tone after

    base_ms + k_ms * max(0, active_calls - above) + drift_ms_per_s * (seconds since start)

where active_calls counts the calls connected right now, and reports the delay it
actually added in a `metrics` event (`stages.delay_ms`) just before the tone. So a breakpoint
search with a P95 limit between base and base + k must find `above + 1`
exactly, and a soak against a drifting agent must see its latency grow.
`leak_mb` keeps that many MB per call forever (a memory leak to detect).
`calls_log` appends each call's id as it starts (what reached the agent).
Prints {"url": ..., "pid": ...} when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import numpy as np
from aiohttp import WSMsgType, web

from simulator.audio import from_bytes, to_bytes

HANGOVER_FRAMES = 10  # 200 ms of silence ends the caller's turn
TONE = (6000 * np.sin(2 * np.pi * 440 * np.arange(3200) / 16000)).astype(np.int16)


class SlowAgent:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.active = 0
        self.started = time.monotonic()
        self.leaked: list[bytes] = []
        self.calls_log = open(args.calls_log, "a", encoding="utf-8") if args.calls_log else None  # noqa: SIM115

    def delay_s(self) -> float:
        a = self.args
        extra = a.k_ms * max(0, self.active - a.above)
        drift = a.drift_ms_per_s * (time.monotonic() - self.started)
        return (a.base_ms + extra + drift) / 1000.0

    async def _reply(self, sock: web.WebSocketResponse) -> None:
        t = time.monotonic()
        await asyncio.sleep(self.delay_s())
        if not sock.closed:
            # The delay it actually added (its sleep may overshoot on a busy box): the
            # ground truth a test takes out of the measured latency.
            waited = (time.monotonic() - t) * 1000
            await sock.send_str(json.dumps({"type": "metrics", "stages": {"delay_ms": waited}}))
            await sock.send_bytes(to_bytes(TONE))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        started = False
        in_speech, silent = False, 0
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for msg in sock:
                if msg.type == WSMsgType.TEXT:
                    event = json.loads(msg.data)
                    if event.get("type") == "start" and not started:
                        started = True
                        self.active += 1
                        if self.calls_log is not None:
                            self.calls_log.write(f"{event.get('call_id')}\n")
                            self.calls_log.flush()
                        if self.args.leak_mb:
                            self.leaked.append(b"\x01" * int(self.args.leak_mb * 2**20))
                    elif event.get("type") == "stop":
                        break
                elif msg.type == WSMsgType.BINARY and started:
                    loud = int(np.abs(from_bytes(msg.data).astype(np.int32)).max(initial=0)) > 300
                    if loud:
                        in_speech, silent = True, 0
                    elif in_speech:
                        silent += 1
                        if silent >= HANGOVER_FRAMES:
                            in_speech = False
                            task = asyncio.create_task(self._reply(sock))
                            tasks.add(task)
                            task.add_done_callback(tasks.discard)
        finally:
            if started:
                self.active -= 1
            for task in tasks:
                task.cancel()
        return sock


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base-ms", type=float, default=0.0)
    p.add_argument("--k-ms", type=float, default=0.0)
    p.add_argument("--above", type=int, default=1000)
    p.add_argument("--drift-ms-per-s", type=float, default=0.0)
    p.add_argument("--leak-mb", type=float, default=0.0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--calls-log", default="")
    args = p.parse_args()
    agent = SlowAgent(args)
    app = web.Application()
    app.router.add_get("/ws", agent.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, args.host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"url": f"ws://{args.host}:{port}/ws", "pid": os.getpid()}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
