"""GPU and memory readings: NVML (from `nvidia-ml-py`) when a driver is there, psutil always.

NVML starts no CUDA context and costs microseconds per call, so the App samples it about once
a second from a thread worker. Without a driver `nvmlInit` raises and the reading says why;
host memory and the training worker's resident set come from psutil either way.
No Textual import here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass(frozen=True)
class GpuDevice:
    index: int
    name: str
    memory_used: int
    memory_total: int
    utilization: int | None  # percent
    temperature: int | None  # degrees Celsius
    power_w: float | None
    power_limit_w: float | None


@dataclass(frozen=True)
class GpuReading:
    devices: tuple[GpuDevice, ...]
    nvml_error: str | None  # why there are no devices: NVML's message, e.g. no driver
    host_used: int
    host_total: int
    worker_rss: int | None  # the watched worker and its children (torchrun ranks)


def _maybe(read: Callable[[], Any]) -> Any:
    """A figure the device does not support (NVMLError_NotSupported) reads as None."""
    import pynvml

    try:
        return read()
    except pynvml.NVMLError:
        return None


class GpuProbe:
    """Call `sample` from one thread; `close` when done."""

    def __init__(self) -> None:
        self._handles: list[Any] | None = None
        self._nvml_error: str | None = None
        self._nvml_started = False

    def _init_nvml(self) -> None:
        # Imported here, in the probe's thread: the first frame does not wait for it.
        import pynvml

        try:
            pynvml.nvmlInit()
            self._nvml_started = True
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            if not count:
                self._nvml_error = "no GPU found"
        except pynvml.NVMLError as exc:
            self._handles = []
            self._nvml_error = str(exc)

    def _device(self, index: int, handle: Any) -> GpuDevice:
        import pynvml

        name = pynvml.nvmlDeviceGetName(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        power = _maybe(lambda: pynvml.nvmlDeviceGetPowerUsage(handle))
        limit = _maybe(lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle))
        util = _maybe(lambda: pynvml.nvmlDeviceGetUtilizationRates(handle))
        return GpuDevice(
            index=index,
            name=name.decode() if isinstance(name, bytes) else str(name),
            memory_used=int(memory.used),
            memory_total=int(memory.total),
            utilization=None if util is None else int(util.gpu),
            temperature=_maybe(
                lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)),
            power_w=None if power is None else power / 1000,
            power_limit_w=None if limit is None else limit / 1000,
        )

    def sample(self, worker_pid: int | None = None) -> GpuReading:
        if self._handles is None:
            self._init_nvml()
        devices: list[GpuDevice] = []
        error = self._nvml_error
        try:
            devices = [self._device(i, h) for i, h in enumerate(self._handles or [])]
        except Exception as exc:  # a GPU that fell off the bus must not end the probe
            error = f"NVML failed: {exc}"
        memory = psutil.virtual_memory()
        return GpuReading(tuple(devices), error, memory.total - memory.available, memory.total,
                          process_tree_rss(worker_pid))

    def close(self) -> None:
        if self._nvml_started:
            import pynvml

            with contextlib.suppress(pynvml.NVMLError):
                pynvml.nvmlShutdown()
        self._handles, self._nvml_started = None, False


def process_tree_rss(pid: int | None) -> int | None:
    """Resident bytes of a process and its descendants, or None if it is gone."""
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total
