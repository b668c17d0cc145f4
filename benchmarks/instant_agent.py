"""A trivial agent that answers at once: the load generator's own cost is all that is measured.

Serves every transport of reference_agent/server.py (/ws, /twilio,
/v1/realtime, /offer for WebRTC). Per call: it endpoints the caller by energy
(a reply after HANGOVER_FRAMES of silence following speech) and, `--delay-ms`
later (default 0), sends a 200 ms tone. No VAD model, STT, LLM or TTS: with
the harness pinned to one core and this agent to the other, what limits the
number of callers is the harness. Prints {"url": ws://..., "pid": ...}.

    .venv/bin/python benchmarks/instant_agent.py [--delay-ms 0] [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import numpy as np

from reference_agent.server import serve
from simulator.transports.base import AgentLink

HANGOVER_FRAMES = 10  # 200 ms of silence ends the caller's turn
LOUD = 300
TONE = (6000 * np.sin(2 * np.pi * 440 * np.arange(3200) / 16000)).astype(np.int16)


def handler(delay_s: float):  # type: ignore[no-untyped-def]
    async def call(link: AgentLink) -> None:
        in_speech, silent = False, 0
        replies: set[asyncio.Task[None]] = set()

        async def reply() -> None:
            if delay_s:
                await asyncio.sleep(delay_s)
            await link.send_audio(TONE)

        try:
            while (item := await link.recv()) is not None:
                if isinstance(item, dict):
                    if item.get("type") == "stop":
                        break
                    continue
                if int(np.abs(item.astype(np.int32)).max(initial=0)) > LOUD:
                    in_speech, silent = True, 0
                elif in_speech:
                    silent += 1
                    if silent >= HANGOVER_FRAMES:
                        in_speech = False
                        task = asyncio.create_task(reply())
                        replies.add(task)
                        task.add_done_callback(replies.discard)
        finally:
            for task in replies:
                task.cancel()

    return call


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    server = await serve(handler(args.delay_ms / 1000.0), args.host, args.port)
    print(json.dumps({"url": server.url, "pid": os.getpid()}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
