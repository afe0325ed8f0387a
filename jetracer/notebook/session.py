"""The camera and car a notebook drives, from the configuration: the real car, or the simulator.

With ``camera.source: sim`` (``JETRACER_CAMERA=sim``) the camera renders a simulated world and the car
to drive is that world's car; otherwise the car is :func:`jetracer.car.create_car` (the configured
profile on the real or emulated I2C bus). Notebooks call these so every cell runs unchanged on both.
"""
from typing import Any, Optional


def open_camera(config: Any = None, realtime: bool = True) -> Any:
    """The configured camera; a simulated one steps its world in real time unless ``realtime=False``. A CSI,
    USB or replay camera that stops delivering is reopened by itself (:mod:`jetracer.camera.recovering`)."""
    from ..camera import recovering_camera

    return recovering_camera(config, realtime=realtime)


def sim_world(camera: Any) -> Optional[Any]:
    """The simulated world behind ``camera``, or None for a real camera."""
    return getattr(camera, "world", None)


def car_for(camera: Any, config: Any = None) -> Any:
    """The car that ``camera`` sees: the simulator's car, else the configured car (real or emulated chips)."""
    world = sim_world(camera)
    if world is not None:
        return world.car
    from ..car import create_car

    return create_car(config)
