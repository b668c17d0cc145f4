"""OpenTelemetry spans of the pipeline's stages, in the trace the caller started.

voxsim puts a W3C `traceparent` in every call's start event; the agent's
spans (turn > vad, stt, llm, tool, tts, playback) go under it, so voxsim can
join what the caller measured with where the agent spent the time. Spans are
exported in-process (any SpanExporter, e.g. for tests) or over OTLP/HTTP
protobuf to a URL from the start event (`config.otlp_url`) or the
`--otlp-url` flag. Without either, tracing is a no-op that costs nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_RESOURCE = Resource.create({"service.name": "voxsim-pipeline-agent"})


def otlp_traces_endpoint(url: str) -> str:
    """OTLP/HTTP traces endpoint for a base URL (`http://host:port` -> `.../v1/traces`)."""
    url = url.rstrip("/")
    return url if url.endswith("/v1/traces") else f"{url}/v1/traces"


class Tracing:
    """The agent's tracer providers: one in-process exporter and/or one per OTLP URL."""

    def __init__(self, exporter: SpanExporter | None = None, otlp_url: str | None = None) -> None:
        self._providers: dict[str, TracerProvider] = {}
        self._default: TracerProvider | None = None
        if exporter is not None:
            self._default = TracerProvider(resource=_RESOURCE)
            self._default.add_span_processor(SimpleSpanProcessor(exporter))
        elif otlp_url:
            self._default = self._otlp(otlp_url)

    def _otlp(self, url: str) -> TracerProvider:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_traces_endpoint(url)
        provider = self._providers.get(endpoint)
        if provider is None:
            provider = TracerProvider(resource=_RESOURCE)
            provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5))
            )
            self._providers[endpoint] = provider
        return provider

    def for_call(self, traceparent: str | None, otlp_url: str | None = None) -> CallTracer:
        """A tracer for one call: the start event's OTLP URL wins over the agent's default."""
        provider = self._otlp(otlp_url) if otlp_url else self._default
        return CallTracer(provider, traceparent)

    def shutdown(self) -> None:
        """Flush and stop every provider."""
        for provider in [self._default, *self._providers.values()]:
            if provider is not None:
                provider.shutdown()


class CallTracer:
    """Starts one call's spans under its traceparent; a no-op without a provider."""

    def __init__(self, provider: TracerProvider | None, traceparent: str | None) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("voxsim.reference_agent") if provider else None
        carrier = {"traceparent": traceparent} if traceparent else {}
        self._root: Context = TraceContextTextMapPropagator().extract(carrier)

    def start(
        self,
        name: str,
        parent: Span | None = None,
        start_ns: int | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        """Start a span (end it with `.end()`); under `parent`, else under the call's trace."""
        if self._tracer is None:
            return trace.INVALID_SPAN
        context = trace.set_span_in_context(parent, self._root) if parent else self._root
        return self._tracer.start_span(
            name, context=context, start_time=start_ns or time.time_ns(), attributes=attributes
        )

    async def flush(self) -> None:
        """Push this call's spans out now (the call ended), without blocking the loop."""
        if self.provider is not None:
            await asyncio.to_thread(self.provider.force_flush, 5000)
