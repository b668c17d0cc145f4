"""Traces: the harness's own spans, an OTLP/HTTP receiver for agents, and the join.

Each call is one trace (its id travels in the `start` event's W3C
`traceparent`); the harness adds one span per caller turn. Agents in other
processes export their spans with any OTLP/HTTP exporter to the receiver
this module runs on 127.0.0.1 (`/v1/traces`, protobuf or JSON, parsed with
`opentelemetry-proto`); every span lands in the run's `spans.jsonl`.

The agent's spans explain the measured latency, never replace it: each turn
gets the agent's leaf spans of its trace that start inside the turn, and the
part of the voice-to-voice window (caller speech end -> agent onset) they
cover is reconciled against the measured latency; what is left, the
remainder (network, buffering, VAD tail), is reported beside it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from simulator.rows import CallRow, SpanRow, TurnRow

#: Largest accepted OTLP request body (after decompression too): generous for
#: span batches, small enough that a runaway exporter cannot exhaust memory.
MAX_BODY_BYTES = 4 * 1024 * 1024
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class OtlpError(ValueError):
    """An OTLP request the receiver cannot accept (answered with a 4xx)."""


# --------------------------------------------------------------------------- parsing


def _any_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def _attrs(kvs: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in kvs}


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping wants base64 bytes."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _ID_FIELDS and isinstance(v, str) and v:
                try:
                    out[k] = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError:
                    raise OtlpError(f"{k} is not hex: {v[:40]!r}") from None
            else:
                out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(x) for x in node]
    return node


def parse_request(body: bytes, content_type: str) -> list[SpanRow]:
    """Spans of one OTLP/HTTP trace export, as flat dicts; OtlpError on anything else.

    `body` is already inflated: aiohttp decodes gzip/deflate request bodies
    and applies the size limit to the inflated bytes (a gzip bomb gets 413).
    """
    req = ExportTraceServiceRequest()
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
            json_format.ParseDict(_hex_ids_to_base64(data), req)
        except (ValueError, json_format.ParseError) as exc:
            raise OtlpError(f"not OTLP JSON: {str(exc)[:120]}") from None
    elif content_type.startswith("application/x-protobuf"):
        try:
            req.ParseFromString(body)
        except DecodeError as exc:
            raise OtlpError(f"not OTLP protobuf: {exc}") from None
    else:
        raise OtlpError(f"unsupported Content-Type {content_type!r}")
    return list(_flatten(req))


def _flatten(req: ExportTraceServiceRequest) -> Iterable[SpanRow]:
    for rs in req.resource_spans:
        resource = _attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                if len(s.trace_id) != 16 or len(s.span_id) != 8:
                    raise OtlpError("span without a 16-byte trace id and 8-byte span id")
                yield {
                    "source": "agent",
                    "service": resource.get("service.name"),
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex() or None,
                    "name": s.name,
                    "start_ns": int(s.start_time_unix_nano),
                    "end_ns": int(s.end_time_unix_nano),
                    "attrs": _attrs(s.attributes),
                }


# --------------------------------------------------------------------------- receiver


class SpanSink:
    """Appends span rows to spans.jsonl (flushed per batch) and keeps them in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.spans: list[SpanRow] = []
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def add(self, spans: Sequence[SpanRow]) -> None:
        """Record spans (from the agent or the harness)."""
        for s in spans:
            self._fh.write(json.dumps(s) + "\n")
        self._fh.flush()
        self.spans.extend(spans)

    def close(self) -> None:
        """Close the file."""
        self._fh.close()


class OtlpReceiver:
    """OTLP/HTTP trace receiver on 127.0.0.1: `POST /v1/traces`, protobuf or JSON."""

    def __init__(self, sink: SpanSink, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sink = sink
        self.host = host
        self.port = port
        self.rejected = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL for an OTLP/HTTP exporter (`.../v1/traces` is the traces endpoint)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; `port=0` picks a free port (read `url` afterwards)."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/v1/traces", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server: Any = site._server  # aiohttp exposes the bound port only here
        if server is not None and getattr(server, "sockets", None):
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        ctype = request.content_type or ""
        try:
            body = await request.read()
            spans = parse_request(body, ctype)
        except web.HTTPRequestEntityTooLarge:
            self.rejected += 1
            raise
        except OtlpError as exc:
            self.rejected += 1
            status = 415 if "unsupported Content-Type" in str(exc) else 400
            return web.json_response({"code": 3, "message": str(exc)}, status=status)
        self.sink.add(spans)
        response = ExportTraceServiceResponse()
        if ctype.startswith("application/json"):
            return web.json_response(json_format.MessageToDict(response))
        return web.Response(
            body=response.SerializeToString(), content_type="application/x-protobuf"
        )


# --------------------------------------------------------------------------- harness spans


def harness_spans(
    call: CallRow, rows: Sequence[TurnRow], wall_t0_ns: int, traceparent: str
) -> list[SpanRow]:
    """The call's root span (the traceparent's span id) and one span per caller turn.

    A turn span runs from the caller's speech start (a wait turn: from where
    its latency is measured) to the agent's reply end, on the wall clock the
    agent's spans use.
    """
    _, trace_id, root_id, _ = traceparent.split("-")

    def ns(s: float) -> int:
        return wall_t0_ns + int(round(s * 1e9))

    out: list[SpanRow] = [
        {
            "source": "harness",
            "service": "voxsim",
            "trace_id": trace_id,
            "span_id": root_id,
            "parent_span_id": None,
            "name": "call",
            "start_ns": wall_t0_ns,
            "end_ns": wall_t0_ns + int(call.get("duration_s", 0) * 1e9),
            "attrs": {"call_id": call.get("call_id"), "scenario": call.get("scenario")},
        }
    ]
    for row in rows:
        start = row.get("speech_start_s")
        onset, latency = row.get("agent_onset_s"), row.get("latency_ms")
        if start is None and onset is not None and latency:
            # A wait turn starts where its latency is measured from.
            start = onset - latency / 1000
        if start is None:
            continue
        end = row.get("agent_end_s") or onset or row.get("speech_end_s") or start
        out.append(
            {
                "source": "harness",
                "service": "voxsim",
                "trace_id": trace_id,
                "span_id": f"{0x7000000000000000 + int(row['turn']):016x}",
                "parent_span_id": root_id,
                "name": f"caller_turn {row['turn']}",
                "start_ns": ns(start),
                "end_ns": ns(max(start, end)),
                "attrs": {
                    "turn": row["turn"],
                    "kind": row["kind"],
                    "latency_ms": row.get("latency_ms"),
                },
            }
        )
    return out


# --------------------------------------------------------------------------- join


def _union_ms(intervals: list[tuple[int, int]]) -> float:
    total = 0
    cur_s = cur_e = None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None and cur_s is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None and cur_s is not None:
        total += cur_e - cur_s
    return total / 1e6


def turn_leaf_spans(
    rows: Sequence[TurnRow], spans: Sequence[SpanRow], wall_t0_ns: int
) -> list[list[SpanRow]]:
    """The agent's stage spans of each of one call's turn rows (given in turn order).

    A span belongs to a turn when it has the turn's trace id and starts at or
    after the turn's start (caller speech start; for a wait turn, the previous
    turn's end) and before the next turn's start. Only leaf spans (no child in
    the same trace) are stages. One rule for the turn rows (`join_turns`) and
    the report's waterfalls.
    """
    agent = [s for s in spans if s.get("source") == "agent"]
    parents = {(s["trace_id"], s["parent_span_id"]) for s in agent if s.get("parent_span_id")}
    leaves = [s for s in agent if (s["trace_id"], s["span_id"]) not in parents]

    def ns(sec: float) -> int:
        return wall_t0_ns + int(round(sec * 1e9))

    starts: list[float] = []
    prev_end = 0.0
    for row in rows:
        st = row.get("speech_start_s")
        starts.append(st if st is not None else prev_end)
        prev_end = max(prev_end, row.get("agent_end_s") or row.get("speech_end_s") or prev_end)
    out: list[list[SpanRow]] = []
    for i, row in enumerate(rows):
        lo = ns(starts[i])
        hi = ns(starts[i + 1]) if i + 1 < len(rows) else None
        out.append(
            sorted(
                (
                    s
                    for s in leaves
                    if s["trace_id"] == row.get("trace_id")
                    and s["start_ns"] >= lo
                    and (hi is None or s["start_ns"] < hi)
                ),
                key=lambda s: s["start_ns"],
            )
        )
    return out


def join_turns(rows: list[TurnRow], spans: Sequence[SpanRow], wall_t0_ns: int) -> None:
    """Attach the agent's stage spans to each turn row, in place (which spans are a
    turn's: `turn_leaf_spans`). Fields added: `span_stages` {name: ms},
    `spans_joined` (count), and for turns with a measured latency
    `span_explained_ms` (the union of the stages clipped to the latency
    window speech end -> agent onset) and `span_remainder_ms` = latency -
    explained; both None when the turn has no latency or no agent span.
    """

    def ns(sec: float) -> int:
        return wall_t0_ns + int(round(sec * 1e9))

    for row, mine in zip(rows, turn_leaf_spans(rows, spans, wall_t0_ns), strict=True):
        stages: dict[str, float] = {}
        for s in mine:
            stages[s["name"]] = stages.get(s["name"], 0.0) + (s["end_ns"] - s["start_ns"]) / 1e6
        row["span_stages"] = {k: round(v, 3) for k, v in stages.items()}
        row["spans_joined"] = len(mine)
        latency = row.get("latency_ms")
        end_s = row.get("speech_end_s")
        onset_s = row.get("agent_onset_s")
        if not mine or latency is None or end_s is None or onset_s is None:
            row["span_explained_ms"] = None
            row["span_remainder_ms"] = None
            continue
        w0, w1 = ns(end_s), ns(onset_s)
        clipped = [(max(s["start_ns"], w0), min(s["end_ns"], w1)) for s in mine]
        explained = _union_ms([(a, b) for a, b in clipped if b > a])
        row["span_explained_ms"] = round(explained, 3)
        row["span_remainder_ms"] = round(float(latency) - explained, 3)
