"""The pilot: what the car loads and runs to steer, ``load_pilot(path)(frame_bgr) -> (x, y)``, and to stop:
``pilot.predict(frame_bgr) -> Prediction(x, y, blocked_p, distance_m)`` for a model with an obstacle output,
``load_stop_model(path)(frame_bgr) -> blocked_p`` for upstream JetBot's separate collision model.

The loader (:mod:`.load`), the ``Pilot`` interface and its errors (:mod:`.base`), what a model may
claim (:mod:`.limits`), the backends (torch, ONNX Runtime, TensorRT), preprocessing, the model
architectures, checkpoints and the safe file reader. Training builds on it (``jetracer.learning``);
nothing here imports the workshop. Importing this package imports neither torch nor OpenCV.
"""
from .base import MissingBackendError, Pilot, PilotLoadError, Prediction, predict_frame
from .load import load_pilot
from .stop_model import StopModel, load_stop_model

__all__ = ["MissingBackendError", "Pilot", "PilotLoadError", "Prediction", "StopModel", "load_pilot",
           "load_stop_model", "predict_frame"]
