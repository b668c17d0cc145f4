"""A fleet of the bundled pipeline agent: K processes behind a real HAProxy, state in Redis.

`voxsim agent serve --instances K --balancer least-conn|round-robin|sticky`
(docs/fleet.md) runs this. The fleet is one address: HAProxy listens on it,
forwards WebSocket upgrades to the K agent processes (`mode http`, the
upgraded connection is then a tunnel), and routes `/fleet` to this process's
control API, so a load run that only knows the agent's URL can list, kill
and restart instances (`voxsim load --chaos`). Live call sessions are in a
redis-server (started here unless `--redis-url`), so a caller whose instance
died can reconnect and go on on another one; ended calls go to one SQLite
archive, tool calls to one SQLite tools file, shared by all instances.

HAProxy's configuration is generated per run into a temporary directory
(`haproxy_config`); HAProxy finds a dead instance by its failed connections
(`observe layer4`, new calls are redispatched) and by health checks of
`/health` every 500 ms. Every child process (agents, HAProxy, Redis) is
stopped when the fleet closes, and dies with it if this process is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from reference_agent.bundle import until_stopped
from reference_agent.fleet_processes import (
    Instance,
    die_with_parent,
    free_port,
    redis_pong,
    terminate,
    wait_until,
)
from reference_agent.haproxy import BALANCERS, haproxy_config, server_stats
from simulator.errors import AgentError, UsageError

MAX_INSTANCES = 16
#: `voxsim agent serve` flags that describe the fleet, not its instances.
FLEET_FLAGS = {"instances", "balancer", "redis_url", "host", "port", "stop_on_stdin_eof"}
#: Flags a fleet sets on each instance itself.
INSTANCE_FLAGS = {"tools_db", "sessions_db", "instance_name", "kind"}


class Fleet:
    """K agent processes, HAProxy in front, Redis behind; see the module doc."""

    def __init__(
        self,
        instances: int,
        balancer: str = "least-conn",
        agent_args: list[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        redis_url: str | None = None,
    ) -> None:
        if not 1 <= instances <= MAX_INSTANCES:
            raise UsageError(
                f"{instances} instances", where="--instances", fix=f"1..{MAX_INSTANCES}"
            )
        if balancer not in BALANCERS:
            raise UsageError(
                f"unknown balancer {balancer!r}", where="--balancer", fix=" | ".join(BALANCERS)
            )
        self.balancer = balancer
        self.host = host
        self.port = port
        self.redis_url = redis_url
        self.agent_args = list(agent_args or [])
        self.count = instances
        self.dir = Path(tempfile.mkdtemp(prefix="voxsim-fleet-"))
        self.instances: list[Instance] = []
        self._redis: asyncio.subprocess.Process | None = None
        self._haproxy: asyncio.subprocess.Process | None = None
        self._control: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    @property
    def url(self) -> str:
        """The fleet's native WebSocket URL (HAProxy's frontend)."""
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def stats_socket(self) -> Path:
        """HAProxy's admin socket (`show stat`)."""
        return self.dir / "haproxy.sock"

    # -- starting and stopping ----------------------------------------------
    async def start(self) -> str:
        """Start Redis, the instances, the control API and HAProxy; return the URL."""
        for binary, what in (("haproxy", "HAProxy"), ("redis-server", "redis-server")):
            if binary == "redis-server" and self.redis_url:
                continue
            if shutil.which(binary) is None:
                raise UsageError(
                    f"{what} is not installed", where="--instances", fix="run `make install`"
                )
        try:
            await self._start_redis()
            shared = [
                "--redis-url",
                str(self.redis_url),
                "--sessions-db",
                str(self.dir / "sessions.db"),
                "--tools-db",
                str(self.dir / "tools.db"),
            ]
            self.instances = [
                Instance(f"a{i + 1}", free_port(), [*self.agent_args, *shared])
                for i in range(self.count)
            ]
            await asyncio.gather(*(inst.start() for inst in self.instances))
            control_port = await self._start_control()
            self.port = self.port or free_port()
            await self._start_haproxy(control_port)
        except BaseException:
            await self.close()
            raise
        return self.url

    async def _spawn(self, *argv: str, log: str) -> asyncio.subprocess.Process:
        out = (self.dir / log).open("ab")
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                preexec_fn=die_with_parent,
            )
        finally:
            out.close()

    async def _start_redis(self) -> None:
        if self.redis_url:
            return
        port = free_port()
        self._redis = await self._spawn(
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            log="redis.log",
        )
        await wait_until(lambda: redis_pong(port), self._redis, "redis-server", 10)
        self.redis_url = f"redis://127.0.0.1:{port}/0"

    async def _start_control(self) -> int:
        app = web.Application()
        app.router.add_get("/fleet", self._h_status)
        app.router.add_post("/fleet/kill", self._h_kill)
        app.router.add_post("/fleet/restart", self._h_restart)
        self._control = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._control.setup()
        port = free_port()
        await web.TCPSite(self._control, "127.0.0.1", port).start()
        return port

    async def _start_haproxy(self, control_port: int) -> None:
        config = self.dir / "haproxy.cfg"
        servers = [(i.name, i.port) for i in self.instances]
        config.write_text(
            haproxy_config(
                self.balancer, (self.host, self.port), servers, control_port, self.stats_socket
            ),
            encoding="utf-8",
        )
        self._haproxy = await self._spawn("haproxy", "-f", str(config), "-db", log="haproxy.log")

        async def ready() -> bool:
            up = [s for s in await self.haproxy_servers() if s["status"] == "UP"]
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.close()
            return len(up) == len(self.instances)

        await wait_until(ready, self._haproxy, "haproxy", 15)

    async def close(self) -> None:
        """Stop HAProxy, the instances, the control API and Redis; remove the temp dir."""
        for proc in (self._haproxy,):
            await terminate(proc)
        await asyncio.gather(*(i.stop() for i in self.instances), return_exceptions=True)
        if self._control is not None:
            await self._control.cleanup()
        await terminate(self._redis)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- what HAProxy sees ----------------------------------------------------
    async def haproxy_servers(self) -> list[dict[str, Any]]:
        """Each agent server's status (UP/DOWN...) and current connections, from HAProxy."""
        return await server_stats(self.stats_socket)

    async def wait_live_calls(self, n: int, timeout_s: float = 20.0) -> None:
        """Return once HAProxy counts exactly `n` open calls on the instances (AgentError
        after `timeout_s`): an arrival order both balancers see alike."""
        deadline = time.monotonic() + timeout_s
        while sum(s["live_calls"] for s in await self.haproxy_servers()) != n:
            if time.monotonic() > deadline:
                raise AgentError(f"HAProxy did not count {n} open calls in {timeout_s:g} s")
            await asyncio.sleep(0.02)

    async def wait_up(self, name: str, timeout_s: float = 20.0) -> None:
        """Return once HAProxy's health checks report instance `name` UP."""
        deadline = time.monotonic() + timeout_s
        while not any(
            s["name"] == name and s["status"] == "UP" for s in await self.haproxy_servers()
        ):
            if time.monotonic() > deadline:
                raise AgentError(f"HAProxy did not see {name} up in {timeout_s:g} s")
            await asyncio.sleep(0.05)

    async def status(self) -> dict[str, Any]:
        """The fleet as the control API reports it."""
        seen = {s["name"]: s for s in await self.haproxy_servers()}
        return {
            "url": self.url,
            "balancer": self.balancer,
            "redis_url": self.redis_url,
            "instances": [
                {
                    "name": i.name,
                    "port": i.port,
                    "pid": i.pid,
                    "up": i.up,
                    "haproxy": seen.get(i.name, {}).get("status"),
                    "live_calls": seen.get(i.name, {}).get("live_calls", 0),
                    "calls": seen.get(i.name, {}).get("calls", 0),
                }
                for i in self.instances
            ],
        }

    # -- chaos ------------------------------------------------------------------
    def _pick(self, name: str | None, up: bool, live: dict[str, int]) -> Instance:
        if name is not None:
            for inst in self.instances:
                if inst.name == name:
                    return inst
            raise UsageError(f"no instance {name!r}", where="/fleet", fix="see GET /fleet")
        pool = [i for i in self.instances if i.up == up]
        if not pool:
            raise UsageError(f"no instance is {'up' if up else 'down'}", where="/fleet")
        # The busiest up instance (most live calls; the first on a tie).
        return max(pool, key=lambda i: live.get(i.name, 0)) if up else pool[0]

    async def kill(self, name: str | None = None) -> dict[str, Any]:
        """SIGKILL one instance (`name`, else the one with most live calls)."""
        async with self._lock:
            live = {s["name"]: s["live_calls"] for s in await self.haproxy_servers()}
            inst = self._pick(name, True, live)
            at = time.time()
            pid = inst.pid
            await inst.kill()
            event = {
                "action": "kill",
                "instance": inst.name,
                "pid": pid,
                "at": at,
                "live_calls": live.get(inst.name, 0),
            }
            inst.history.append(event)
            return event

    async def restart(self, name: str | None = None) -> dict[str, Any]:
        """Start a down instance again (`name`, else the first down one); with all
        up, kill the busiest and start it again (a crash and its supervisor)."""
        async with self._lock:
            live = {s["name"]: s["live_calls"] for s in await self.haproxy_servers()}
            down = [i for i in self.instances if not i.up]
            inst = self._pick(name, False if (down and name is None) else True, live)
            at = time.time()
            killed = None
            if inst.up:
                killed = {"pid": inst.pid, "live_calls": live.get(inst.name, 0)}
                await inst.kill()
            await inst.start()
            event = {
                "action": "restart",
                "instance": inst.name,
                "pid": inst.pid,
                "at": at,
                "ready_at": inst.started_at,
                "killed": killed,
            }
            inst.history.append(event)
            return event

    async def _h_status(self, _: web.Request) -> web.Response:
        return web.json_response(await self.status())

    async def _h_kill(self, request: web.Request) -> web.Response:
        return await self._act(self.kill, request)

    async def _h_restart(self, request: web.Request) -> web.Response:
        return await self._act(self.restart, request)

    async def _act(self, action: Any, request: web.Request) -> web.Response:
        try:
            return web.json_response(await action(request.query.get("instance")))
        except UsageError as exc:
            return web.json_response({"error": exc.one_line()}, status=400)
        except AgentError as exc:
            return web.json_response({"error": exc.one_line()}, status=500)


def subcommand(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    """The parser of subcommand `names` (e.g. "agent", "serve") under `parser`."""
    for name in names:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def instance_flags(args: argparse.Namespace, serve: argparse.ArgumentParser) -> list[str]:
    """The `voxsim agent serve` flags given on the command line that each instance takes."""
    out: list[str] = []
    for action in serve._actions:
        dest = action.dest
        if not action.option_strings or dest in FLEET_FLAGS | INSTANCE_FLAGS | {"help"}:
            continue
        value = getattr(args, dest, action.default)
        if value == action.default or value is None:
            continue
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            out.append(flag)
        else:
            out += [flag, str(value)]
    return out


async def serve_fleet(fleet: Fleet, stop_on_stdin_eof: bool = False) -> None:
    """Start the fleet, print its ready line (one JSON object), serve until SIGINT/SIGTERM."""
    async with until_stopped(stop_on_stdin_eof) as stop:
        try:
            await fleet.start()
            ready = {
                "ready": True,
                "url": fleet.url,
                "transport": "websocket",
                "control": f"http://{fleet.host}:{fleet.port}/fleet",
                **{k: v for k, v in (await fleet.status()).items() if k != "url"},
            }
            print(json.dumps(ready), flush=True)
            await stop.wait()
        finally:
            await fleet.close()
