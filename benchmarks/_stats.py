"""Statistics, interleaved timing and environment helpers shared by ``bench_core.py`` and
``bench_http.py`` (imported from the benchmarks folder: Python puts a script's own folder
first on ``sys.path``, whatever the current directory)."""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
from collections.abc import Awaitable, Callable, Iterable
from importlib import metadata as importlib_metadata
from typing import Any

Op = Callable[
    [int], Awaitable[int]
]  # runs iteration i (untimed setup allowed), returns ns of the timed part


def summarize(
    samples_ns: list[int], median_key: str = "median_ms", keep_samples: bool = False
) -> dict[str, Any]:
    """n, median (under ``median_key``), p99, mean, min and max in ms; with
    ``keep_samples`` also the sorted samples (``samples_ms``)."""
    ms = sorted(s / 1e6 for s in samples_ns)
    n = len(ms)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if n >= 2 else ms[0]
    out: dict[str, Any] = {
        "n": n,
        median_key: statistics.median(ms),
        "p99_ms": p99,
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "max_ms": ms[-1],
    }
    if keep_samples:
        out["samples_ms"] = [round(x, 4) for x in ms]
    return out


async def interleaved_many(
    ops: dict[str, Op], iters: int, warmup: int, block: int
) -> dict[str, list[int]]:
    """Warm every side up, then run blocks of ``block`` iterations per side, in the given
    order, then reversed, then given ... (ABBA), so a slow spell of the machine or drift over
    the run lands on every side alike. ``gc.collect()`` (untimed) before each block."""
    sides = list(ops.items())
    for _, op in sides:
        for i in range(warmup):
            await op(-1 - i)
    out: dict[str, list[int]] = {name: [] for name in ops}
    done = 0
    b = 0
    while done < iters:
        k = min(block, iters - done)
        order = sides if b % 2 == 0 else list(reversed(sides))
        for name, op in order:
            gc.collect()
            for j in range(k):
                out[name].append(await op(done + j))
        done += k
        b += 1
    return out


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    return "n/a"


def package_versions(dists: Iterable[str]) -> dict[str, str]:
    """The installed version of each distribution (those not installed are left out)."""
    versions = {}
    for dist in dists:
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            versions[dist] = importlib_metadata.version(dist)
    return versions
