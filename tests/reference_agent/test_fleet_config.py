"""The fleet's generated HAProxy configuration (checked by the real haproxy) and its flags."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from reference_agent.fleet import instance_flags, subcommand
from reference_agent.fleet_processes import free_port
from reference_agent.haproxy import BALANCERS, CALL_HEADER, haproxy_config, server_stats
from simulator.cli import build_parser, main


@pytest.mark.parametrize("balancer", list(BALANCERS))
def test_haproxy_accepts_the_generated_config(balancer: str, tmp_path: Path) -> None:
    text = haproxy_config(
        balancer, ("127.0.0.1", 18000), [("a1", 18001), ("a2", 18002)], 18003, tmp_path / "s"
    )
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    check = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"balance {BALANCERS[balancer]}" in text and "timeout tunnel 1h" in text
    assert ("stick on req.hdr(X-Voxsim-Call-Id)" in text) == (balancer == "sticky")
    assert "server a2 127.0.0.1:18002" in text and "option redispatch" in text


def test_instances_take_the_agent_flags_given_and_not_the_fleet_ones() -> None:
    argv = ["agent", "serve", "--instances", "3", "--port", "9000", "--llm-latency-ms", "250"]
    args = build_parser().parse_args([*argv, "--llm-concurrency", "2", "--vad", "silero"])
    flags = instance_flags(args, subcommand(build_parser(), "agent", "serve"))
    assert flags == ["--llm-concurrency", "2", "--llm-latency-ms", "250.0", "--vad", "silero"]
    assert isinstance(subcommand(build_parser(), "agent", "serve"), argparse.ArgumentParser)


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        (["--instances", "0"], "--instances"),
        (["--instances", "17"], "--instances"),
        (["--instances", "2", "--kind", "e2e"], "--instances"),
        (["--balancer", "random"], "--balancer"),
        (["--instances", "2", "--llm-concurrency", "-1"], "--llm-concurrency"),
    ],
)
def test_bad_fleet_flags_are_one_line_and_exit_2(
    argv: list[str], where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["agent", "serve", *argv])
    err = capsys.readouterr().err
    assert done.value.code == 2 and where in err and len(err.strip().splitlines()) == 1


async def _named_server(name: str, health_s: float = 0.0) -> tuple[web.AppRunner, int]:
    """A stand-in instance: /health (after `health_s`: a busy loop), and /ws says its
    name and closes."""

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        await sock.send_str(name)
        await sock.close()
        return sock

    async def health(_: web.Request) -> web.Response:
        await asyncio.sleep(health_s)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ws", ws)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


@pytest.mark.parametrize("balancer", ["sticky", "round-robin"])
async def test_sticky_keeps_a_call_on_its_instance_and_round_robin_does_not(
    balancer: str, tmp_path: Path
) -> None:
    servers = [await _named_server(n) for n in ("a1", "a2")]
    sock = tmp_path / "s"
    cfg = tmp_path / "haproxy.cfg"
    port = free_port()
    backends = [(n, p) for n, (_, p) in zip(("a1", "a2"), servers, strict=True)]
    cfg.write_text(haproxy_config(balancer, ("127.0.0.1", port), backends, free_port(), sock))
    proc = await asyncio.create_subprocess_exec("haproxy", "-f", str(cfg), "-db")
    try:
        async with aiohttp.ClientSession() as http:

            async def instance(call_id: str) -> str:
                deadline = asyncio.get_running_loop().time() + 10
                while True:  # until HAProxy listens
                    try:
                        ws = await http.ws_connect(
                            f"ws://127.0.0.1:{port}/ws", headers={CALL_HEADER: call_id}
                        )
                        break
                    except aiohttp.ClientError:
                        assert asyncio.get_running_loop().time() < deadline
                        await asyncio.sleep(0.05)
                msg = await ws.receive()
                await ws.close()
                return str(msg.data)

            seen = [await instance(c) for c in ("c1", "c1", "c1", "c2", "c2")]
    finally:
        proc.terminate()
        await proc.wait()
        for runner, _ in servers:
            await runner.cleanup()
    if balancer == "sticky":  # a call's reconnections stay; the next call goes elsewhere
        assert seen[0] == seen[1] == seen[2] != seen[3] == seen[4], seen
    else:
        assert seen[:4] in (["a1", "a2", "a1", "a2"], ["a2", "a1", "a2", "a1"]), seen


async def test_an_overloaded_instance_stays_up_and_a_dead_one_goes_down(tmp_path: Path) -> None:
    """An instance answering its health check in 0.9 s (a loop lagging under load) is
    slow, not gone: HAProxy keeps sending it calls. One that refuses is marked DOWN."""
    runner, busy = await _named_server("busy", health_s=0.9)
    sock = tmp_path / "s"
    cfg = tmp_path / "haproxy.cfg"
    backends = [("busy", busy), ("dead", free_port())]
    cfg.write_text(haproxy_config("least-conn", ("127.0.0.1", free_port()), backends, 1, sock))
    proc = await asyncio.create_subprocess_exec("haproxy", "-f", str(cfg), "-db")
    try:
        await asyncio.sleep(4.0)  # 8 check intervals; every check of `busy` took 0.9 s
        status = {s["name"]: s["status"] for s in await server_stats(sock)}
    finally:
        proc.terminate()
        await proc.wait()
        await runner.cleanup()
    assert status["busy"].startswith("UP") and status["dead"].startswith("DOWN"), status
