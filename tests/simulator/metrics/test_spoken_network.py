"""WER (b) catches network damage: downlink packet loss on a real WebRTC call
(UDP: a lost audio packet is gone, Opus conceals short gaps; events ride the reliable
data channel) raises the WER of the agent's
speech as the caller heard it, against the same call without loss."""

from __future__ import annotations

from simulator.metrics.wer import aggregate
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.registry import transport_for

TURNS = (
    "turns:\n  - wait: true\n"
    "  - say: I would like to book an appointment for Tuesday at three pm\n"
    "  - say: Where is my order one two three four\n"
)


async def test_downlink_loss_on_webrtc_raises_the_wer_of_the_agents_speech(
    pipeline_agent_url: str,
) -> None:
    url = "webrtc+http://" + pipeline_agent_url.removeprefix("ws://").removesuffix("/ws") + "/offer"
    clean = parse_scenario("name: clean\nseed: 5\n" + TURNS)
    lossy = parse_scenario(
        "name: lossy\nseed: 5\nnetwork:\n  downlink: {loss: 0.5, burst: 8}\n" + TURNS
    )
    base = await run_call(clean, transport_for(url), "clean-000")
    hurt = await run_call(lossy, transport_for(url), "lossy-000")
    assert base["status"] == hurt["status"] == "ok", (base["error"], hurt["error"])
    assert hurt["network"]["downlink"]["lost"] > 0, hurt["network"]
    before = aggregate(base["turns"], "spoken_wer")
    after = aggregate(hurt["turns"], "spoken_wer")
    assert before["wer"] is not None and before["wer"] <= 0.1, before
    print(f"spoken WER clean {before['wer']:.3f} -> 50% downlink loss {after['wer']:.3f}")
    assert after["wer"] is not None and after["wer"] > before["wer"] + 0.05, (before, after)
