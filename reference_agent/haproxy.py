"""HAProxy in front of a fleet: its configuration, and what its stats socket says.

The fleet (reference_agent/fleet.py) writes `haproxy_config` into a temporary file
and starts HAProxy on it; `server_stats` reads each agent server's state and live
connections back over the admin socket (the least-connections balancer's own count).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

#: `--balancer` -> HAProxy's `balance` algorithm. `sticky` places a call like
#: round-robin, then keeps its reconnections on the instance that has it
#: (a stick table on the call id header) while that instance is up.
BALANCERS = {"least-conn": "leastconn", "round-robin": "roundrobin", "sticky": "roundrobin"}
#: The header the native WebSocket transport names its call in (sticky sessions).
CALL_HEADER = "X-Voxsim-Call-Id"


def haproxy_config(
    balancer: str,
    bind: tuple[str, int],
    servers: list[tuple[str, int]],
    control_port: int,
    stats_socket: Path,
) -> str:
    """HAProxy's configuration for a fleet (WebSocket-aware: `mode http` + tunnel timeouts)."""
    algo = BALANCERS[balancer]
    sticky = (
        [
            "    stick-table type string len 128 size 100k expire 2h",
            f"    stick on req.hdr({CALL_HEADER})",
        ]
        if balancer == "sticky"
        else []
    )
    lines = [
        "global",
        "    maxconn 4000",
        f"    stats socket {stats_socket} mode 600 level admin",
        "",
        "defaults",
        "    mode http",
        # Also the turn-around before retrying a refused connection (min(this, 1 s)).
        "    timeout connect 500ms",
        "    timeout client 1h",
        "    timeout server 1h",
        # An upgraded WebSocket is a tunnel: idle caller silence must not cut it.
        "    timeout tunnel 1h",
        "    timeout client-fin 2s",
        "    timeout server-fin 2s",
        "    timeout queue 30s",
        # A health check waits this long for /health: an overloaded instance whose loop
        # lags stays UP (its calls are slow, which is the measurement); the default, the
        # check interval (500 ms), marked the bundled agent DOWN at 48 calls and HAProxy
        # refused every new call. A killed instance refuses at once (observe layer4).
        "    timeout check 2s",
        # A connection refused by a dead instance is retried on another one.
        "    retries 3",
        "    option redispatch 1",
        "",
        "frontend voxsim",
        f"    bind {bind[0]}:{bind[1]}",
        "    use_backend fleet_control if { path_beg /fleet }",
        "    default_backend agents",
        "",
        "backend agents",
        f"    balance {algo}",
        *sticky,
        "    option httpchk GET /health",
        "    default-server check inter 500ms fastinter 250ms downinter 500ms rise 1 fall 1"
        " observe layer4 error-limit 1 on-error mark-down",
        *(f"    server {name} 127.0.0.1:{port}" for name, port in servers),
        "",
        "backend fleet_control",
        f"    server control 127.0.0.1:{control_port}",
        "",
    ]
    return "\n".join(lines)


async def server_stats(stats_socket: Path) -> list[dict[str, Any]]:
    """Each agent server's status (UP/DOWN...) and current connections, from HAProxy."""
    reader, writer = await asyncio.open_unix_connection(str(stats_socket))
    try:
        writer.write(b"show stat\n")
        await writer.drain()
        text = (await reader.read()).decode("utf-8", "replace")
    finally:
        writer.close()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("# "):
        return []
    head = lines[0][2:].split(",")
    rows = [dict(zip(head, ln.split(","), strict=False)) for ln in lines[1:]]
    return [
        {
            "name": r["svname"],
            "status": r.get("status", ""),
            "live_calls": int(r.get("scur") or 0),
            "calls": int(r.get("stot") or 0),
        }
        for r in rows
        if r.get("pxname") == "agents" and r.get("svname") not in ("FRONTEND", "BACKEND")
    ]
