"""The agent process's resident memory and open file descriptors (Linux /proc).

A soak watches these over time: a leak shows as steady growth. Only a local
agent can be watched (the bundled one, or `--agent-pid` for yours).
"""

from __future__ import annotations

import os
from pathlib import Path


def sample(pid: int) -> dict[str, float] | None:
    """{"rss_mb", "fds"} of process `pid`, None when it is gone or unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    rss_kb = next(
        (float(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")),
        None,
    )
    if rss_kb is None:
        return None
    return {"rss_mb": round(rss_kb / 1024.0, 2), "fds": float(fds)}
