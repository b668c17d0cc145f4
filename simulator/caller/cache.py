"""Where rendered audio and RIRs are cached: $VOXSIM_CACHE_DIR or ~/.cache/voxsim."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """The directory for cached `kind` (created on first use)."""
    root = os.environ.get("VOXSIM_CACHE_DIR") or str(Path.home() / ".cache" / "voxsim")
    path = Path(root) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
