"""OTLP/HTTP receiver (real exporter in another process), span join and latency remainder."""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from simulator.tracing import MAX_BODY_BYTES, OtlpReceiver, SpanSink, join_turns

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT = "00f067aa0ba902b7"

EXPORTER = textwrap.dedent(
    """
    import sys, time
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    provider = TracerProvider(resource=Resource.create({"service.name": "test-agent"}))
    exporter = OTLPSpanExporter(endpoint=sys.argv[1] + "/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    ctx = TraceContextTextMapPropagator().extract({"traceparent": sys.argv[2]})
    with tracer.start_as_current_span("reply", context=ctx):
        with tracer.start_as_current_span("stt"):
            time.sleep(0.02)
        with tracer.start_as_current_span("llm", attributes={"tokens": 3}):
            time.sleep(0.03)
    provider.shutdown()
    """
)


async def test_spans_exported_by_another_process_land_in_spans_jsonl(tmp_path: Path) -> None:
    sink = SpanSink(tmp_path / "spans.jsonl")
    receiver = OtlpReceiver(sink)
    await receiver.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", EXPORTER, receiver.url, f"00-{TRACE}-{ROOT}-01"
        )
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        await receiver.stop()
        sink.close()
    rows = [json.loads(line) for line in (tmp_path / "spans.jsonl").read_text().splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"reply", "stt", "llm"}
    assert all(r["trace_id"] == TRACE and r["service"] == "test-agent" for r in rows)
    assert by_name["reply"]["parent_span_id"] == ROOT
    assert by_name["stt"]["parent_span_id"] == by_name["reply"]["span_id"]
    assert by_name["llm"]["attrs"] == {"tokens": 3}
    assert by_name["llm"]["end_ns"] - by_name["llm"]["start_ns"] >= 30e6


def _json_body(trace_hex: str = TRACE) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": "1111111111111111",
                                "parentSpanId": ROOT,
                                "name": "tts",
                                "startTimeUnixNano": "1000000000",
                                "endTimeUnixNano": "1250000000",
                                "attributes": [{"key": "chars", "value": {"intValue": "42"}}],
                            }
                        ]
                    }
                ],
            }
        ]
    }


async def test_json_is_accepted_and_garbage_or_oversize_get_4xx_without_killing_it(
    tmp_path: Path,
) -> None:
    sink = SpanSink(tmp_path / "spans.jsonl")
    receiver = OtlpReceiver(sink)
    await receiver.start()
    url = receiver.url + "/v1/traces"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=_json_body()) as r:
                assert r.status == 200
            bad = [
                (b"\xff\x00garbage" * 10, "application/x-protobuf"),
                (b"{not json", "application/json"),
                (json.dumps(_json_body("zz")).encode(), "application/json"),
                (b"hello", "text/plain"),
                (b"\x00" * (MAX_BODY_BYTES + 1), "application/x-protobuf"),
            ]
            for body, ctype in bad:
                async with http.post(url, data=body, headers={"Content-Type": ctype}) as r:
                    assert 400 <= r.status < 500, (ctype, r.status)
            async with http.post(url, json=_json_body()) as r:
                assert r.status == 200  # still serving
    finally:
        await receiver.stop()
        sink.close()
    assert receiver.rejected == 5
    assert [s["name"] for s in sink.spans] == ["tts", "tts"]
    assert sink.spans[0]["attrs"] == {"chars": 42}
    assert sink.spans[0]["end_ns"] - sink.spans[0]["start_ns"] == 250_000_000


def _span(
    name: str, start_ms: float, end_ms: float, span_id: str, parent: str | None = ROOT
) -> dict:
    return {
        "source": "agent",
        "trace_id": TRACE,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "start_ns": int(start_ms * 1e6),
        "end_ns": int(end_ms * 1e6),
        "attrs": {},
    }


def test_join_assigns_leaf_stages_to_turns_and_reports_the_remainder() -> None:
    # Turn 0 speaks 1.0-2.0 s, agent answers at 2.5 s (latency 500 ms);
    # turn 1 speaks 4.0-5.0 s, answer at 5.3 s.
    rows = [
        {
            "turn": 0,
            "trace_id": TRACE,
            "speech_start_s": 1.0,
            "speech_end_s": 2.0,
            "agent_onset_s": 2.5,
            "agent_end_s": 3.5,
            "latency_ms": 500.0,
        },
        {
            "turn": 1,
            "trace_id": TRACE,
            "speech_start_s": 4.0,
            "speech_end_s": 5.0,
            "agent_onset_s": 5.3,
            "agent_end_s": 6.0,
            "latency_ms": 300.0,
        },
    ]
    spans = [
        _span("reply", 2100, 3400, "aaaaaaaaaaaaaaaa"),  # parent: not a stage
        _span("stt", 2100, 2200, "bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa"),
        _span("llm", 2200, 2400, "cccccccccccccccc", "aaaaaaaaaaaaaaaa"),
        _span("tts", 2350, 2450, "dddddddddddddddd", "aaaaaaaaaaaaaaaa"),  # overlaps llm
        _span("stt", 5050, 5150, "eeeeeeeeeeeeeeee"),
        {**_span("stt", 2100, 2200, "ffffffffffffffff"), "trace_id": "0" * 32},  # other call
    ]
    join_turns(rows, spans, wall_t0_ns=0)
    assert rows[0]["span_stages"] == {"stt": 100.0, "llm": 200.0, "tts": 100.0}
    assert rows[0]["spans_joined"] == 3
    # Stages cover 2.1-2.45 s of the 2.0-2.5 s window: 350 ms explained, 150 ms remain.
    assert rows[0]["span_explained_ms"] == pytest.approx(350.0)
    assert rows[0]["span_remainder_ms"] == pytest.approx(150.0)
    assert rows[1]["span_stages"] == {"stt": 100.0}
    assert rows[1]["span_remainder_ms"] == pytest.approx(200.0)


async def test_gzip_bodies_are_inflated_within_the_size_limit(tmp_path: Path) -> None:
    sink = SpanSink(tmp_path / "spans.jsonl")
    receiver = OtlpReceiver(sink)
    await receiver.start()
    url = receiver.url + "/v1/traces"
    good = gzip.compress(json.dumps(_json_body()).encode())
    bomb = gzip.compress(b"\x00" * (MAX_BODY_BYTES * 4))  # tiny on the wire, 16 MiB inflated
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            async with http.post(url, data=good, headers=headers) as r:
                assert r.status == 200
            headers["Content-Type"] = "application/x-protobuf"
            async with http.post(url, data=bomb, headers=headers) as r:
                assert r.status == 413
    finally:
        await receiver.stop()
        sink.close()
    assert len(bomb) < MAX_BODY_BYTES and [s["name"] for s in sink.spans] == ["tts"]
