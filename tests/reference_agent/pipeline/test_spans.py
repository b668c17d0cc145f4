"""Every stage of a turn is a span in the call's trace, with TTFT and time to first audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reference_agent.llm_server import LlmServer
from reference_agent.pipeline.agent import AgentSettings, PipelineAgent
from simulator.caller.render import render_call
from simulator.scenario import parse_scenario
from simulator.session import CallRecord, Session
from simulator.transports.base import StartInfo
from simulator.transports.inprocess import InProcessTransport

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
PLAN = """
name: spans
agent: {faults: {llm: {latency_ms: 250}}}
turns:
  - say: "Where is my order one two three four"
"""


async def _call(agent: PipelineAgent, config: dict[str, Any] | None = None) -> CallRecord:
    scenario = parse_scenario(PLAN)
    start = StartInfo(
        call_id="spans-1",
        traceparent=TRACEPARENT,
        config={"faults": scenario.agent.faults.model_dump(), "greeting": False, **(config or {})},
    )
    session = Session(InProcessTransport(agent.handle), await render_call(scenario), start)
    return await session.run()


async def test_each_stage_is_a_span_under_the_callers_trace(llm: LlmServer, tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    agent = PipelineAgent(
        AgentSettings(llm_base_url=llm.base_url, tools_db=tmp_path / "t.db"), span_exporter=exporter
    )
    try:
        record = await _call(agent)
    finally:
        await agent.close()

    assert record.ok, record.error
    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    assert {"agent.turn", "vad", "stt", "llm", "tool", "tts", "playback"} <= set(by_name)
    assert {format(s.context.trace_id, "032x") for s in spans} == {TRACE_ID}
    (turn,) = by_name["agent.turn"]
    assert format(turn.parent.span_id, "016x") == "00f067aa0ba902b7"  # the caller's span
    for name in ("vad", "stt", "llm", "tool", "tts", "playback"):
        assert all(s.parent.span_id == turn.context.span_id for s in by_name[name]), name
    # Two LLM requests: the tool call, then the answer; the first carries the injected 250 ms.
    first, second = sorted(by_name["llm"], key=lambda s: s.start_time)
    assert first.attributes["llm.ttft_ms"] >= 250 and second.attributes["llm.ttft_ms"] < 250
    assert by_name["tool"][0].attributes["tool.name"] == "get_order_status"
    assert all(s.attributes["tts.time_to_first_audio_ms"] > 0 for s in by_name["tts"])
    stages = next(e for e in record.events if e["type"] == "metrics")["stages"]
    vad = by_name["vad"][0]
    assert abs(vad.attributes["vad.endpoint_ms"] - stages["endpoint_ms"]) < 1
    # Stages follow each other on the clock: vad ends before stt, stt before the llm ...
    assert vad.end_time <= by_name["stt"][0].start_time <= first.start_time
    assert first.end_time <= by_name["tool"][0].start_time <= second.start_time
    assert min(s.start_time for s in by_name["playback"]) >= by_name["tts"][0].start_time


async def test_spans_are_exported_over_otlp_http_to_the_url_in_the_start_event(
    llm: LlmServer, tmp_path: Path
) -> None:
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        received.append(ExportTraceServiceRequest.FromString(await request.read()))
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    agent = PipelineAgent(AgentSettings(llm_base_url=llm.base_url, tools_db=tmp_path / "t.db"))
    try:
        record = await _call(agent, {"otlp_url": f"http://127.0.0.1:{port}"})
        await agent.close()  # flushes the batch exporter
    finally:
        await runner.cleanup()

    assert record.ok, record.error
    names = {
        (span.name, span.trace_id.hex())
        for req in received
        for rs in req.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    }
    assert {n for n, _ in names} >= {"agent.turn", "vad", "stt", "llm", "tool", "tts", "playback"}
    assert {t for _, t in names} == {TRACE_ID}
