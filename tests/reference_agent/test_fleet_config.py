"""The fleet's generated HAProxy configuration (checked by the real haproxy) and its flags."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from reference_agent.fleet import BALANCERS, haproxy_config, instance_flags, subcommand
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
