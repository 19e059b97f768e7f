"""Shared helpers of the benchmarks: a results table and atomic JSON output."""

from __future__ import annotations

import json
import platform
import resource
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def report(name: str, rows: list[dict[str, Any]], out: str | Path | None = None, **extra: Any) -> Path:
    """Print `rows` as a table and write them (with the machine) as JSON; returns the JSON path."""
    from scantalk.atomic import atomic_write_text

    columns = list(dict.fromkeys(key for row in rows for key in row))
    widths = {c: max(len(c), *(len(_fmt(row.get(c))) for row in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_fmt(row.get(c)).ljust(widths[c]) for c in columns))
    path = Path(out) if out else RESULTS / f"{name}.json"
    atomic_write_text(path, json.dumps({"benchmark": name, "machine": machine(), "rows": rows, **extra}, indent=2))
    print(f"results written to {path.resolve()}")
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)
