"""Which PyTorch device trains (CUDA when present, else CPU) and which autocast dtype is safe."""

from __future__ import annotations

from typing import Any

import torch

from distillery.errors import ConfigError
from distillery.train.distributed import process_info


def torch_device(prefer: str = "auto") -> torch.device:
    """`auto`: a GPU when CUDA sees one, otherwise the CPU; `cuda`: a GPU or a ConfigError;
    `cpu`: the CPU. The GPU is this rank's own in a data-parallel run (its local rank), else
    the first."""
    if prefer == "cuda" and not torch.cuda.is_available():
        raise ConfigError("classifier.device: found cuda, but PyTorch sees no CUDA device "
                          f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); "
                          "fix: run on a GPU node with a CUDA build of torch, or set device: "
                          "auto (GPU when present) or cpu")
    if prefer in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", process_info().local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def autocast_dtype(device: torch.device, amp: bool = True) -> torch.dtype | None:
    """bfloat16 autocast on GPUs that support it (no loss scaling needed), else full float32.

    float16 would need a gradient scaler and the CPU gains nothing, so both stay off.
    """
    if amp and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def describe_torch_device(device: torch.device, amp: bool = True) -> dict[str, Any]:
    """What to record next to results: platform, device name, count, precision, threads."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    dtype = autocast_dtype(device, amp)
    return {
        "framework": "torch",
        "platform": device.type,
        "device": name,
        "n_devices": torch.cuda.device_count() if device.type == "cuda" else 1,
        "dtype": "float32" if dtype is None else f"float32+autocast {str(dtype).split('.')[-1]}",
        "threads": torch.get_num_threads(),
    }
