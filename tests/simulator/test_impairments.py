"""The network model, in virtual time: what it is set to is what a receiver observes."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from scipy import stats

from simulator.impairments import MIN_RTO_MS, ImpairedTransport, LinkModel, LinkSpec
from simulator.scenario import parse_scenario
from simulator.transports.base import StartInfo
from simulator.transports.inprocess import InProcessTransport

FRAME = 0.02
N = 5000


def _fates(spec: LinkSpec, reliable: bool, seed: int = 1, size: int = 640, n: int = N):
    model = LinkModel(spec, reliable=reliable, seed=seed)
    return [model.send(k * FRAME, size) for k in range(n)]


def _binomial_99(p: float, n: int) -> tuple[int, int]:
    lo, hi = stats.binom.interval(0.99, n, p)
    return int(lo), int(hi)


@pytest.mark.parametrize("loss", [0.05, 0.20])
def test_random_loss_on_udp_is_observed_within_a_binomial_99_interval(loss: float) -> None:
    fates = _fates(LinkSpec(delay_ms=40, loss=loss), reliable=False)
    missing = sum(f.deliver is None for f in fates)
    lo, hi = _binomial_99(loss, N)
    assert lo <= missing <= hi


@pytest.mark.parametrize("loss", [0.05, 0.20])
def test_bursty_loss_keeps_its_rate_and_mean_burst_length(loss: float) -> None:
    fates = _fates(LinkSpec(loss=loss, burst=4), reliable=False, n=40_000)
    lost = np.array([f.deliver is None for f in fates])
    assert lost.mean() == pytest.approx(loss, rel=0.15)
    edges = np.diff(np.concatenate([[0], lost.astype(int), [0]]))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    assert runs.mean() == pytest.approx(4, rel=0.15)


def test_loss_on_tcp_is_a_retransmission_delay_never_missing_audio() -> None:
    spec = LinkSpec(delay_ms=30, loss=0.05)
    fates = _fates(spec, reliable=True)
    assert all(f.deliver is not None for f in fates)
    delivered = [f.deliver for f in fates]
    assert delivered == sorted(delivered)  # in order, always
    lost = [k for k, f in enumerate(fates) if f.lost]
    lo, hi = _binomial_99(0.05, N)
    assert lo <= len(lost) <= hi
    k = lost[len(lost) // 2]
    extra = fates[k].deliver - fates[k].sent - 0.030
    assert extra >= MIN_RTO_MS / 1000
    # Head-of-line blocking: the packet sent right after a loss waits for it.
    if k + 1 < N and not fates[k + 1].lost:
        assert fates[k + 1].deliver >= fates[k].deliver


@pytest.mark.parametrize("jitter_ms", [5.0, 20.0])
def test_jitter_standard_deviation_matches_the_setting(jitter_ms: float) -> None:
    fates = _fates(LinkSpec(delay_ms=80, jitter_ms=jitter_ms), reliable=False)
    transit = np.array([f.arrival - f.sent for f in fates if f.arrival is not None]) * 1000
    assert np.std(transit) == pytest.approx(jitter_ms, rel=0.20)
    assert np.median(transit) == pytest.approx(80, abs=1)


def test_jitter_buffer_plays_in_order_at_a_fixed_delay_and_drops_late_packets() -> None:
    spec = LinkSpec(delay_ms=50, jitter_ms=10, jitter_buffer_ms=20)
    fates = _fates(spec, reliable=False)
    played = [f for f in fates if f.deliver is not None]
    assert all(f.deliver - f.sent == pytest.approx(0.070) for f in played)
    late = [f for f in fates if f.late]
    # 20 ms is 2 sigma: about 2.3% of packets miss their slot.
    assert 0.01 < len(late) / N < 0.04
    arrivals = [f.arrival for f in fates]
    assert arrivals != sorted(arrivals)  # the network reorders; the buffer does not


def test_bandwidth_cap_queues_packets_behind_each_other() -> None:
    # 640-byte frames every 20 ms need 256 kbit/s; at 128 kbit/s the queue grows.
    fates = _fates(LinkSpec(kbps=128), reliable=True, n=100)
    waits = [f.deliver - f.sent for f in fates]
    assert waits[0] == pytest.approx(640 * 8 / 128_000)
    assert waits[-1] == pytest.approx(100 * 0.040 - 99 * 0.020)
    fast = _fates(LinkSpec(kbps=1000), reliable=True, n=100)
    assert max(f.deliver - f.sent for f in fast) == pytest.approx(640 * 8 / 1e6)


def test_the_same_seed_gives_the_same_network() -> None:
    spec = LinkSpec(delay_ms=40, jitter_ms=10, loss=0.1, burst=3)
    assert _fates(spec, False, seed=7) == _fates(spec, False, seed=7)
    assert _fates(spec, False, seed=7) != _fates(spec, False, seed=8)


def test_scenario_network_block_is_validated_per_direction() -> None:
    scenario = parse_scenario(
        """
name: net
turns: [{say: hello}]
network:
  uplink: {delay_ms: 40, jitter_ms: 10, loss: 0.01, burst: 3}
  downlink: {delay_ms: 60, kbps: 64}
"""
    )
    assert scenario.network.uplink.burst == 3
    assert scenario.network.downlink.kbps == 64
    with pytest.raises(Exception, match="network.uplink.loss"):
        parse_scenario("name: n\nturns: [{say: hi}]\nnetwork: {uplink: {loss: 1.5}}\n")


class _UdpInProcess(InProcessTransport):
    """The in-process link flagged unreliable, so losses are gone as on WebRTC."""

    reliable = False


@pytest.mark.parametrize("loss", [0.05, 0.20])
async def test_loss_is_observed_by_the_agent_at_the_receiving_end(loss: float) -> None:
    received: list[int] = []

    async def agent(link) -> None:
        while (item := await link.recv()) is not None:
            if not isinstance(item, dict):
                received.append(int(item[0]))

    n = 2000
    transport = ImpairedTransport(_UdpInProcess(agent), LinkSpec(loss=loss), LinkSpec(), seed=11)
    await transport.connect(StartInfo("loss", ""))
    for k in range(n):
        await transport.send_audio(np.full(320, k % 30000, dtype=np.int16))
        if k % 50 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    await transport.close()
    lo, hi = _binomial_99(loss, n)
    assert lo <= n - len(received) <= hi
    assert received == sorted(received)  # no jitter: nothing reordered


async def test_impaired_transport_reports_what_the_network_did() -> None:
    async def agent(link) -> None:
        while await link.recv() is not None:
            pass

    transport = ImpairedTransport(
        _UdpInProcess(agent), LinkSpec(loss=0.2, delay_ms=5), LinkSpec(), seed=3
    )
    await transport.connect(StartInfo("stats", ""))
    for _ in range(500):
        await transport.send_audio(np.zeros(320, dtype=np.int16))
    await asyncio.sleep(0.05)
    await transport.close()
    up = transport.stats()["uplink"]
    assert up["packets"] == 500
    assert up["lost"] == up["dropped"] == sum(f.deliver is None for f in transport.fates["uplink"])
    assert up["median_delay_ms"] == pytest.approx(5)
