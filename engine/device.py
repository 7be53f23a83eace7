"""Which device to train on, at what precision, its peak FLOP/s, and how much memory we hold."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psutil
import torch

from engine.errors import UserError

# Dense peak FLOP/s by (bfloat16/float16, float32 with TF32) per device-name fragment, from the
# vendors' data sheets. First match wins, so the more specific names come first.
PEAK_FLOPS: list[tuple[str, float, float]] = [
    ("H200", 989e12, 494e12),
    ("H100 PCIe", 756e12, 378e12),
    ("H100", 989e12, 494e12),
    ("GH200", 989e12, 494e12),
    ("B200", 2250e12, 1100e12),
    ("A100", 312e12, 156e12),
    ("A10G", 70e12, 35e12),
    ("A10", 125e12, 62.5e12),
    ("L40S", 362e12, 183e12),
    ("L4", 121e12, 60e12),
    ("RTX 4090", 165e12, 82.6e12),
    ("RTX 3090", 71e12, 35.6e12),
    ("V100", 125e12, 15.7e12),
    ("T4", 65e12, 8.1e12),
]


def peak_flops(device_name: str, low_precision: bool) -> float | None:
    for fragment, half, single in PEAK_FLOPS:
        if fragment in device_name:
            return half if low_precision else single
    return None


@dataclass
class Runtime:
    """The resolved device and precision a run trains with."""

    device: torch.device
    dtype: torch.dtype
    name: str

    @property
    def type(self) -> str:
        return self.device.type

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.type, dtype=self.dtype)

    def peak_flops(self) -> float | None:
        if self.type != "cuda":
            return None
        return peak_flops(self.name, self.dtype != torch.float32)

    def memory(self) -> dict[str, int]:
        """Bytes: the allocator's view on CUDA, the process's resident set everywhere."""
        stats = {"rss": psutil.Process().memory_info().rss}
        if self.type == "cuda":
            stats.update(
                allocated=torch.cuda.memory_allocated(self.device),
                reserved=torch.cuda.memory_reserved(self.device),
                peak=torch.cuda.max_memory_allocated(self.device),
            )
        return stats


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_runtime(device: str, dtype: str, local_rank: int | None = None) -> Runtime:
    """'auto' picks cuda, then mps, then cpu; and bfloat16 on GPUs that support it."""
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"device {device!r} is not a device; use auto, cpu, cuda, cuda:N or mps.") \
            from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("device is cuda but no CUDA GPU is visible; use --set device=cpu.")
        if local_rank is not None:
            dev = torch.device("cuda", local_rank)
        elif dev.index is None:
            dev = torch.device("cuda", 0)
        torch.cuda.set_device(dev)
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("device is mps but MPS is not available; use --set device=cpu.")
    if dtype == "auto":
        if dev.type == "cuda":
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            dtype = "float32"
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type
    return Runtime(dev, _DTYPES[dtype], name)


def is_cuda_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "CUDA out of memory" in str(exc)
