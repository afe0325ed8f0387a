"""A stand-in for NVIDIA's TensorRT Python package: only its version, ``$FAKE_TENSORRT_VERSION`` (default 10.3.0).

Enough for code that compares an engine's recorded TensorRT with the installed one (``jetracer doctor``,
``tensorrt_backend.tensorrt_version``); it builds and runs nothing.
"""
import os

__version__ = os.environ.get("FAKE_TENSORRT_VERSION", "10.3.0")
