"""The compute device a command runs its model on: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, one meaning everywhere.

``auto`` is CUDA when this machine has a GPU, else the CPU (each command resolves it where it starts
its work); ``cuda`` is the first GPU, ``cuda:N`` the N-th. :func:`parse_device` checks the form (cheap:
the CLI calls it while parsing); :func:`check_device` checks the machine has it, so ``--device cuda``
without a GPU is one line naming the fix instead of an error from deep inside torch. Importing this
module imports neither torch nor ONNX Runtime.
"""
import re
from typing import Optional

from .errors import UserError

DEVICE_FORMS = "auto, cpu, cuda or cuda:N"
_DEVICE = re.compile(r"(auto|cpu|cuda(:[0-9]+)?)\Z")


class DeviceError(UserError):
    """Not a device name, or a device this machine does not have (exit 2: the user picks another)."""


def parse_device(text: str) -> str:
    """``text`` when it is one of :data:`DEVICE_FORMS`, else DeviceError naming them."""
    name = str(text).strip()
    if not _DEVICE.match(name):
        raise DeviceError("unknown device %r; expected %s" % (text, DEVICE_FORMS))
    return name


def cuda_count() -> int:
    """How many CUDA GPUs this machine can run a model on, as torch counts them; without torch, 1 when ONNX
    Runtime has its CUDA provider (it cannot count them; with torch, its provider list says nothing about
    the machine: onnxruntime-gpu lists it without a GPU), else 0."""
    try:
        import torch
    except ImportError:
        try:
            import onnxruntime
        except ImportError:
            return 0
        return 1 if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_device(device: Optional[str]) -> Optional[str]:
    """``device`` when this machine has it (None and ``auto`` always pass: they pick what is here), else
    DeviceError saying what the machine has and what to pass instead."""
    if device is None:
        return None
    name = parse_device(device)
    if not name.startswith("cuda"):
        return name
    count = cuda_count()
    if not count:
        raise DeviceError("--device %s: this machine has no CUDA GPU; use --device cpu, or auto to take a GPU when "
                          "there is one" % name)
    index = int(name.partition(":")[2] or 0)
    if index >= count:
        raise DeviceError("--device %s: this machine has %d CUDA GPU(s), cuda:0 to cuda:%d; pick one of them"
                          % (name, count, count - 1))
    return name


def resolve_device(device: str) -> str:
    """``device`` checked (:func:`check_device`), with ``auto`` made ``cuda`` or ``cpu``: for code that needs a
    concrete device."""
    name = check_device(device) or "auto"
    if name == "auto":
        return "cuda" if cuda_count() else "cpu"
    return name


__all__ = ["DEVICE_FORMS", "DeviceError", "check_device", "cuda_count", "parse_device", "resolve_device"]
