"""How numbers look to a person, shared by the command line and the TUI."""

from __future__ import annotations

import time


def si(n: float | None, digits: int = 1) -> str:
    """12345 -> '12.3k'; None -> '—'."""
    if n is None:
        return "—"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f}{unit}"
    return f"{n:.0f}"


def loss(x: float | None) -> str:
    return "—" if x is None else f"{x:.4f}"


def age(then: float, now: float | None = None) -> str:
    """Seconds since `then` as '45s', '12m', '3h', '2d'."""
    seconds = max(0.0, (now or time.time()) - then)
    for unit, scale in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= scale:
            return f"{seconds / scale:.0f}{unit}"
    return f"{seconds:.0f}s"


def duration(seconds: float | None) -> str:
    """Seconds as 'H:MM:SS' or 'M:SS'."""
    if seconds is None:
        return "—"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def mib(n: float | None) -> str:
    return "—" if n is None else f"{n / 2**20:,.0f} MiB"


def size(n: float | None) -> str:
    """Bytes as '312 MiB' or '12.3 GiB'."""
    if n is None:
        return "—"
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB"
