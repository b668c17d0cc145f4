"""Start the bundled pipeline agent with its LLM, in this process or as a child.

In-process (tests, the Python API) it shares the caller's loop; `voxsim run`
starts it as a child process instead so the agent's CPU work (decoding,
synthesis) never competes with the harness's audio pacing for the GIL.
Starting that child and reading its ready line is reference_agent/served.py
(`AgentProcess`, re-exported here for the runner, `voxsim load` and the fleet).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from reference_agent.e2e.agent import E2EAgent, E2ESettings
from reference_agent.faults import FaultPlan
from reference_agent.llm_server import MODEL, LlmServer, start_llm_server
from reference_agent.pipeline.agent import AgentSettings, PipelineAgent
from reference_agent.pipeline.stt import DEFAULT_STT, whisper_transcriber
from reference_agent.pipeline.tts import DEFAULT_VOICE
from reference_agent.pipeline.vad import DEFAULT_HANGOVER_MS, DEFAULT_VAD
from reference_agent.served import AgentProcess as AgentProcess
from reference_agent.server import RunningServer, serve
from reference_agent.state.stores import RedisStore, SqliteArchive
from simulator.transports.base import Agent


@dataclass
class BundledAgent:
    """A running bundled agent (pipeline or e2e): its WebSocket URL and the parts to stop."""

    agent: Agent
    server: RunningServer
    llm: LlmServer | None

    @property
    def url(self) -> str:
        """ws:// URL of the native protocol endpoint."""
        return self.server.url

    async def close(self) -> None:
        """Stop the server, the agent's client and the LLM server."""
        await self.server.close()
        await self.agent.close()
        if isinstance(self.agent, PipelineAgent):
            await self.agent.sessions.close()
        if self.llm is not None:
            await self.llm.close()


async def start_pipeline(
    host: str = "127.0.0.1",
    port: int = 0,
    llm_url: str | None = None,
    llm_model: str = "voxsim-domain",
    hangover_ms: int = DEFAULT_HANGOVER_MS,
    faults: FaultPlan | None = None,
    tools_db: Path | None = None,
    backchannel_ms: int = 600,
    silence_reprompt_ms: int = 8000,
    otlp_url: str | None = None,
    vad: str = DEFAULT_VAD,
    llm: str = "domain",
    stt: str = DEFAULT_STT,
    voice: str = DEFAULT_VOICE,
    redis_url: str | None = None,
    sessions_db: Path | None = None,
    instance: str = "",
    llm_concurrency: int = 0,
) -> BundledAgent:
    """Start the LLM server (unless `llm_url`) and the agent's WebSocket server.

    With `redis_url` live call sessions are kept in Redis (any instance can
    take a call over) and written to the SQLite file `sessions_db` when a
    call ends (docs/fleet.md); `instance` names this process in a fleet.

    `llm` picks the bundled server's backend (llm_server.BACKENDS): the domain
    model, or "smollm2", a real small transformer (no tool calls). `stt` picks
    the recognizer (stt.STT_CHOICES); Whisper is loaded before this returns,
    so the first call does not pay for it.

    Tool calls go to the SQLite file `tools_db`; without one, a fresh file in a
    temporary directory (printed in the ready line) so runs never share state
    by accident.
    """
    bundled_llm = None
    if llm_url is None:
        bundled_llm = await start_llm_server(host="127.0.0.1", port=0, backend=llm)
        llm_url = bundled_llm.base_url
        if llm_model == MODEL:
            llm_model = bundled_llm.model
    settings = AgentSettings(
        llm_base_url=llm_url,
        llm_model=llm_model,
        hangover_ms=hangover_ms,
        faults=faults or FaultPlan(),
        tools_db=tools_db or Path(tempfile.mkdtemp(prefix="voxsim-tools-")) / "tools.db",
        backchannel_ms=backchannel_ms,
        silence_reprompt_ms=silence_reprompt_ms,
        otlp_url=otlp_url,
        vad=vad,
        stt=stt,
        voice=voice,
        instance=instance,
        llm_concurrency=llm_concurrency,
    )
    await _load_recognizer(stt)
    sessions = RedisStore(redis_url) if redis_url else None
    archive = SqliteArchive(sessions_db) if sessions_db is not None else None
    agent = PipelineAgent(settings, sessions=sessions, archive=archive)
    server = await serve(agent.handle, host=host, port=port)
    return BundledAgent(agent=agent, server=server, llm=bundled_llm)


async def _load_recognizer(stt: str) -> None:
    """Load (and warm up) the shared Whisper model off the event loop, if `stt` needs it."""
    if stt == "whisper":
        await asyncio.to_thread(whisper_transcriber)


async def start_e2e(
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultPlan | None = None,
    stt: str = DEFAULT_STT,
    voice: str = DEFAULT_VOICE,
) -> BundledAgent:
    """Start the end-to-end agent's server (every transport's route; no LLM server)."""
    await _load_recognizer(stt)
    agent = E2EAgent(E2ESettings(faults=faults or FaultPlan(), stt=stt, voice=voice))
    server = await serve(agent.handle, host=host, port=port)
    return BundledAgent(agent=agent, server=server, llm=None)


async def serve_forever(
    bundle: BundledAgent, stop_on_stdin_eof: bool = False, transport: str = "websocket"
) -> None:
    """Print the ready line (one JSON object) and serve until SIGINT/SIGTERM.

    With `stop_on_stdin_eof` the server also stops when its stdin closes: a
    child started by voxsim then never outlives the harness, even if the
    harness is killed without running its clean-up. The ready line's URL is
    the one of `transport` (every transport's route is served).
    """
    async with until_stopped(stop_on_stdin_eof) as stop:
        url = bundle.server.url_for(transport)
        ready = {"ready": True, "url": url, "transport": transport}
        tools_db = getattr(getattr(bundle.agent, "settings", None), "tools_db", None)
        if tools_db is not None:
            ready["tools_db"] = str(tools_db)
        print(json.dumps(ready), flush=True)
        try:
            await stop.wait()
        finally:
            await bundle.close()


@contextlib.asynccontextmanager
async def until_stopped(stop_on_stdin_eof: bool = False) -> AsyncIterator[asyncio.Event]:
    """An event SIGINT or SIGTERM sets (and the end of stdin, with `stop_on_stdin_eof`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    watcher = None
    if stop_on_stdin_eof:
        watcher = asyncio.create_task(_wait_stdin_eof(stop), name="stdin-eof")
    try:
        yield stop
    finally:
        if watcher is not None:
            watcher.cancel()


async def _wait_stdin_eof(stop: asyncio.Event) -> None:
    """Set `stop` when stdin reaches end of file (the parent process is gone)."""
    await asyncio.to_thread(sys.stdin.buffer.read)
    stop.set()
