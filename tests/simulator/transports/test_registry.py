"""The agent URL's scheme names the transport; bad ones are one clear usage error."""

from __future__ import annotations

import pytest

from simulator.errors import ScenarioError, UsageError
from simulator.scenario import parse_scenario
from simulator.targets import agent_target
from simulator.transports.realtime import RealtimeTransport
from simulator.transports.registry import transport_for
from simulator.transports.twilio import TwilioTransport
from simulator.transports.webrtc import WebRtcTransport
from simulator.transports.websocket import WebSocketTransport


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("ws://127.0.0.1:9/ws", WebSocketTransport),
        ("twilio+ws://127.0.0.1:9/twilio", TwilioTransport),
        ("realtime+ws://127.0.0.1:9/v1/realtime", RealtimeTransport),
        ("webrtc+http://127.0.0.1:9/offer", WebRtcTransport),
    ],
)
def test_url_scheme_picks_the_transport(url: str, kind: type) -> None:
    assert isinstance(transport_for(url), kind)


def test_unknown_scheme_is_a_usage_error_that_says_which_schemes_work() -> None:
    with pytest.raises(UsageError, match="realtime\\+ws://"):
        transport_for("sip://127.0.0.1")


def test_scenario_agent_kinds_and_overrides() -> None:
    e2e = parse_scenario("name: a\nagent: {kind: e2e}\nturns: [{say: hi}]\n")
    assert agent_target(e2e, None) == "e2e"
    assert agent_target(e2e, "twilio+ws://127.0.0.1:1/twilio").startswith("twilio+")
    remote = parse_scenario(
        "name: b\nagent: {kind: realtime, url: 'realtime+ws://127.0.0.1:1/v1/realtime'}\n"
        "turns: [{say: hi}]\n"
    )
    assert agent_target(remote, None) == "realtime+ws://127.0.0.1:1/v1/realtime"
    with pytest.raises(ScenarioError, match="webrtc\\+http://HOST:PORT/offer"):
        parse_scenario("name: c\nagent: {kind: webrtc}\nturns: [{say: hi}]\n")
