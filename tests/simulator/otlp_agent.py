"""A small native-protocol agent that exports OpenTelemetry spans over OTLP/HTTP.

Run as its own process by tests/simulator/test_run_tracing.py: it takes the
`traceparent` and `config.otlp_url` from the start event and, for each caller
utterance, records an `endpoint` span (last loud frame -> end of a 300 ms
silence), `think` (80 ms) and `tts` (30 ms) under one `turn` span, then speaks
a fixed eSpeak sentence. It stands in for the bundled agent's exporter, which
another issue adds. Prints {"url": ...} when listening.
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
from aiohttp import WSMsgType, web
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from simulator.audio import FRAME_SECONDS, frames, from_bytes, to_bytes
from simulator.caller.tts import synthesize

REPLY = "Okay, I can help you with that."
HANGOVER_FRAMES = 15  # 300 ms
THINK_S, TTS_S = 0.08, 0.03


async def _reply(sock: web.WebSocketResponse, tracer: Tracer, ctx: object, voiced_ns: int) -> None:
    speech = synthesize(REPLY, "en-us", 185, 50)
    pcm = speech.pcm[speech.start :]
    with tracer.start_as_current_span("turn", context=ctx, start_time=voiced_ns):  # type: ignore[arg-type]
        tracer.start_span("endpoint", start_time=voiced_ns).end()
        with tracer.start_as_current_span("think"):
            await asyncio.sleep(THINK_S)
        with tracer.start_as_current_span("tts"):
            await asyncio.sleep(TTS_S)
    await sock.send_str(json.dumps({"type": "transcript", "role": "assistant", "text": REPLY}))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for k, frame in enumerate(frames(pcm)):
        delay = t0 + k * FRAME_SECONDS - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await sock.send_bytes(to_bytes(frame))


async def handle(request: web.Request) -> web.WebSocketResponse:
    sock = web.WebSocketResponse()
    await sock.prepare(request)
    provider: TracerProvider | None = None
    tracer: Tracer | None = None
    ctx: object = None
    in_speech, silent, voiced_ns = False, 0, 0
    tasks: set[asyncio.Task[None]] = set()
    async for msg in sock:
        if msg.type == WSMsgType.TEXT:
            event = json.loads(msg.data)
            if event.get("type") == "start":
                provider = TracerProvider(resource=Resource.create({"service.name": "otlp-agent"}))
                exporter = OTLPSpanExporter(endpoint=event["config"]["otlp_url"] + "/v1/traces")
                provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
                tracer = provider.get_tracer("otlp-agent")
                ctx = TraceContextTextMapPropagator().extract({"traceparent": event["traceparent"]})
            elif event.get("type") == "stop":
                break
        elif msg.type == WSMsgType.BINARY and tracer is not None:
            loud = int(np.abs(from_bytes(msg.data).astype(np.int32)).max(initial=0)) > 300
            if loud:
                in_speech, silent, voiced_ns = True, 0, time.time_ns()
            elif in_speech:
                silent += 1
                if silent >= HANGOVER_FRAMES:
                    in_speech = False
                    task = asyncio.create_task(_reply(sock, tracer, ctx, voiced_ns))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
    for task in list(tasks):
        task.cancel()
    if provider is not None:
        await asyncio.to_thread(provider.shutdown)  # flushes the last batch
    return sock


async def main() -> None:
    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server: object = site._server
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    print(json.dumps({"url": f"ws://127.0.0.1:{port}/ws"}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
