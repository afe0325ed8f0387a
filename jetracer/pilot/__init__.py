"""The pilot: what the car loads and runs to steer, ``load_pilot(path)(frame_bgr) -> (x, y)``.

The loader (:mod:`.load`), the ``Pilot`` interface and its errors (:mod:`.base`), what a model may
claim (:mod:`.limits`), the backends (torch, ONNX Runtime, TensorRT), preprocessing, the model
architectures, checkpoints and the safe file reader. Training builds on it (``jetracer.learning``);
nothing here imports the workshop. Importing this package imports neither torch nor OpenCV.
"""
from .base import MissingBackendError, Pilot, PilotLoadError
from .load import load_pilot

__all__ = ["MissingBackendError", "Pilot", "PilotLoadError", "load_pilot"]
