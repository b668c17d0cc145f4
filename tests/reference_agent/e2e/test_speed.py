"""The end-to-end agent answers the same caller sooner than the pipeline agent.

Both bundled agents use the same VAD and hangover, so what separates them is
what a speech-to-speech loop removes: STT finalisation, the hop to an LLM
server, sentence-by-sentence TTS, and (by speculation during the hangover)
synthesis after the endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from simulator.runner import run_call
from simulator.transports.websocket import WebSocketTransport
from tests.delay_shift import paired_shift_ms, scenario


async def test_the_e2e_agent_answers_sooner_than_the_pipeline_turn_by_turn(
    bundled_agent: Callable[[str], Iterator[str]], pipeline_agent_url: str
) -> None:
    e2e = bundled_agent("e2e")
    e2e_url = next(e2e)
    try:
        pipe = await run_call(scenario("speed"), WebSocketTransport(pipeline_agent_url), "pipe")
        fast = await run_call(scenario("speed"), WebSocketTransport(e2e_url), "e2e")
    finally:
        e2e.close()
    assert pipe["status"] == fast["status"] == "ok", (pipe["error"], fast["error"])
    saved = -paired_shift_ms(pipe, fast)
    print(f"e2e answered {saved:.1f} ms sooner (median of 5 paired turns)")
    # ~24 ms here (the pipeline's STT final + LLM hop + first-sentence TTS); paired
    # turns of a deterministic VAD keep the spread far below that.
    assert saved >= 10
