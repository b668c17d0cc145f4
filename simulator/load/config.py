"""Everything one load run needs, as one JSON file every process of the run reads.

The controller checks the command line once (one clear line on bad input),
writes `load_config.json` into the run directory, and passes its path to the
locust processes and their call engines through VOXSIM_LOAD_CONFIG.
"""

from __future__ import annotations

import ipaddress
import json
import math
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from simulator.errors import UsageError

CONFIG_ENV = "VOXSIM_LOAD_CONFIG"
WORKER_ENV = "VOXSIM_LOAD_WORKER"
CONFIG_FILE = "load_config.json"

PROFILES = ("ramp", "soak", "stress", "breakpoint")

#: Hard ceilings of the flags themselves, so a typo cannot start 10,000 callers.
MAX_CONCURRENCY = 500
MAX_WORKERS = 32
MAX_STAGGER_S = 600.0


@dataclass
class LoadConfig:
    """One load run; see docs/load.md for each knob."""

    scenario: str
    out_dir: str
    profile: str
    agent_url: str = ""
    agent_pid: int | None = None
    #: ramp: the levels; breakpoint: start, growth, max; stress/soak: from capacity
    levels: list[int] = field(default_factory=list)
    capacity: int | None = None
    concurrency: int | None = None
    start: int = 1
    growth: float = 2.0
    max_concurrency: int = 64
    bisect: bool = True
    #: seconds: each step measures for step_s after settle_s (a concurrency change)
    step_s: float = 20.0
    settle_s: float = 5.0
    #: a step's window is extended until this many caller turns began in it
    min_turns: int = 5
    soak_s: float = 600.0
    window_s: float = 60.0
    #: SLO: the scenario's latency_p95_ms unless overridden; errors over calls
    p95_limit_ms: float | None = None
    max_error_rate: float = 0.01
    #: soak drift limits (growth over the whole soak)
    max_drift_ms: float = 100.0
    max_rss_growth_mb: float = 50.0
    max_fd_growth: float = 20.0
    #: bounds: the run ends at whichever comes first
    max_calls: int = 2000
    max_duration_s: float = 1800.0
    #: a caller waits uniform(0, pause_s) between its calls (desynchronises callers)
    pause_s: float = 1.0
    #: new callers join spread evenly over this many seconds, so their calls start and
    #: end at different moments as independent callers' do; None: one call's length,
    #: measured (the median of the run's calls so far; a pilot call first if none)
    stagger_s: float | None = None
    #: breakpoint: after a step that missed the SLO, every caller stops, the search
    #: waits until their calls have ended and this many seconds more, and the next
    #: level starts from an idle agent (an overloaded agent can stay slow at a level
    #: it passes fresh: docs/load.md, "Cool-down"); 0: lower straight to the next level
    cooldown_s: float = 10.0
    workers: int = 0
    #: workers on other hosts (`voxsim load-worker --master ADDR:PORT`) the master waits for
    expect_workers: int = 0
    master_bind: str = "127.0.0.1"
    #: 0: a free port (only local workers then)
    master_port: int = 0
    #: sha256 of every call plan's rendered caller audio: a worker must render the same
    render_sha: str = ""
    #: WER (b), turn-taking and task success per call: CPU work in the generator
    measure: bool = False
    keep_audio: bool = False
    #: of the kept recordings: "wav" or "flac" (simulator/audio.py RECORDING_FORMATS)
    audio_format: str = "wav"
    #: instance failures against a fleet, e.g. ["kill-instance@20"] (load/chaos.py)
    chaos: list[str] = field(default_factory=list)
    #: the sliding window the P95 recovery after a kill is judged on
    chaos_window_s: float = 5.0

    def write(self, path: Path) -> Path:
        """Write as JSON; return the path."""
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path | str) -> LoadConfig:
        """Read a config written by `write`."""
        data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(**data)


def check(cfg: LoadConfig) -> LoadConfig:
    """Raise UsageError (exit 2) naming the flag for anything out of range."""

    def bad(what: str, where: str, fix: str) -> UsageError:
        return UsageError(what, where=where, fix=fix)

    if cfg.profile not in PROFILES:
        raise bad(f"unknown profile {cfg.profile!r}", "--profile", "ramp|soak|stress|breakpoint")
    if not 0 <= cfg.workers <= MAX_WORKERS:
        raise bad(f"{cfg.workers} workers", "--workers", f"0..{MAX_WORKERS}")
    if not 0 <= cfg.expect_workers <= MAX_WORKERS:
        raise bad(f"{cfg.expect_workers} workers", "--expect-workers", f"0..{MAX_WORKERS}")
    if not 0 <= cfg.master_port <= 65535:
        raise bad(f"{cfg.master_port} is not a port", "--master-port", "0..65535")
    for name in ("step_s", "window_s", "soak_s", "max_duration_s"):
        if not getattr(cfg, name) > 0:
            raise bad("must be > 0", "--" + name.replace("_", "-"), "pass a positive number")
    if cfg.settle_s < 0 or cfg.pause_s < 0:
        raise bad("must be >= 0", "--settle-s/--pause-s", "pass 0 or more seconds")
    if not 0 <= cfg.cooldown_s <= MAX_STAGGER_S:
        raise bad(f"{cfg.cooldown_s:g} s", "--cooldown-s", f"0..{MAX_STAGGER_S:g} s (0: none)")
    if cfg.stagger_s is not None and not 0 <= cfg.stagger_s <= MAX_STAGGER_S:
        raise bad(f"{cfg.stagger_s:g} s", "--stagger-s", f"0..{MAX_STAGGER_S:g} s (0: all at once)")
    if cfg.max_calls < 1 or cfg.min_turns < 1:
        raise bad("must be >= 1", "--max-calls/--min-turns", "pass a positive count")
    if not 0 <= cfg.max_error_rate <= 1:
        raise bad("out of range", "--max-error-rate", "a fraction in 0..1")
    if cfg.p95_limit_ms is not None and cfg.p95_limit_ms <= 0:
        raise bad("must be > 0", "--p95-ms", "pass milliseconds")
    levels = {
        "--levels": cfg.levels,
        "--capacity": [cfg.capacity] if cfg.capacity is not None else [],
        "--concurrency": [cfg.concurrency] if cfg.concurrency is not None else [],
        "--start": [cfg.start],
        "--max": [cfg.max_concurrency],
    }
    for flag, values in levels.items():
        for c in values:
            if not 1 <= c <= MAX_CONCURRENCY:
                raise bad(f"concurrency {c} out of range", flag, f"1..{MAX_CONCURRENCY}")
    if cfg.growth <= 1:
        raise bad("must be > 1", "--growth", "e.g. 2 doubles the concurrency each step")
    if cfg.profile == "ramp" and not cfg.levels:
        raise bad("ramp needs levels", "--levels", "e.g. --levels 1 2 4 8")
    if cfg.profile == "stress" and cfg.capacity is None:
        raise bad("stress needs the planned capacity", "--capacity", "e.g. --capacity 8")
    if cfg.profile == "soak" and cfg.capacity is None and cfg.concurrency is None:
        raise bad("soak needs a level", "--concurrency", "or --capacity (soaks at half of it)")
    if cfg.profile == "breakpoint" and cfg.start > cfg.max_concurrency:
        raise bad("start above max", "--start/--max", "start <= max")
    if cfg.chaos:
        from simulator.load.chaos import parse

        parse(cfg.chaos, cfg.max_duration_s)
    if not 0 < cfg.chaos_window_s <= 600:
        raise bad("out of range", "--chaos-window-s", "seconds in (0, 600]")
    return cfg


def soak_level(cfg: LoadConfig) -> int:
    """The soak's concurrency: --concurrency, else half the capacity (the seed article's 50 %)."""
    if cfg.concurrency is not None:
        return cfg.concurrency
    return max(1, math.ceil((cfg.capacity or 2) / 2))


def is_loopback_url(url: str) -> bool:
    """True when the URL's host resolves only to loopback addresses."""
    host = urlsplit(url).hostname  # "realtime+ws://h:p" splits like "ws://h:p"
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_target(url: str, allow_remote: bool) -> None:
    """Refuse to put load on anything but this machine unless explicitly allowed."""
    if allow_remote or is_loopback_url(url):
        return
    raise UsageError(
        f"refusing to load a non-loopback agent ({url})",
        where="--agent",
        fix="load only agents you run; pass --allow-remote to load this host on purpose",
    )
