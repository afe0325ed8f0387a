"""Simulator mode for code written for the real car: one simulated world per process, in real time.

With the camera source ``sim`` (``JETRACER_CAMERA=sim`` or ``camera: {source: sim}``), code written
for the car runs unchanged against the simulator: ``NvidiaRacecar()`` drives the car of this world,
and the cameras (jetcam's ``CSICamera``/``USBCamera`` through :mod:`jetracer.compat`, and
``create_camera(realtime=True)``) show it. So upstream's live loop, ``camera.observe(execute,
names='value')`` with ``car.steering = ...`` in ``execute``, drives laps.

The world is built from the configuration the first time anything asks for it
(:func:`jetracer.config.sim_world_args`: ``config.sim``, the car profile, the camera size) and from then on steps
at the wall-clock rate in a daemon thread (:class:`jetracer.sim.world.RealTimeStepper`), whether or
not anyone watches, as a real car keeps rolling. The car that drives it is the last one attached
(``attach_car``): each ``NvidiaRacecar()`` takes over, as re-running a notebook cell expects. In
simulator mode that car's outputs go to the emulated chips, never to real I2C.

The simulator needs numpy and OpenCV (desktop); nothing here runs at import.
"""
import logging
import threading
from typing import Any, Optional

from .config import Config, load_config, sim_world_args
from .racecar import Racecar

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_shared = None  # type: Optional[RealTimeWorld]


def simulated(config: Config) -> bool:
    """True when the configured camera is the simulator's."""
    return config.camera.source == "sim"


class RealTimeWorld(object):
    """A :class:`SimWorld` stepped in real time, with a way to wait for its next step.

    ``world``: the world; ``steps``: steps taken since it started; ``wait_step(seen, timeout_s)``
    blocks until ``steps`` exceeds ``seen`` (what a camera does between frames) and returns it.
    """

    def __init__(self, world: Any) -> None:
        from .sim.world import RealTimeStepper
        self.world = world
        self.steps = 0
        self._cond = threading.Condition()
        self.stepper = RealTimeStepper(world, on_step=self._on_step)

    def _on_step(self, world: Any) -> None:
        with self._cond:
            self.steps += 1
            self._cond.notify_all()

    def wait_step(self, seen: int, timeout_s: float = 1.0) -> int:
        with self._cond:
            if self.steps <= seen:
                self._cond.wait(timeout_s)
            return self.steps

    def start(self) -> "RealTimeWorld":
        self.stepper.start()
        return self

    def stop(self) -> None:
        self.stepper.stop()


def build_world(config: Config, **overrides: Any) -> Any:
    """A fresh :class:`SimWorld` from the configuration (:func:`jetracer.config.sim_world_args`)."""
    from .sim.world import SimWorld
    return SimWorld(**sim_world_args(config, **overrides))


def shared_world(config: Optional[Config] = None) -> RealTimeWorld:
    """The process's simulated world (built from ``config``, default the user's, on first use), stepping."""
    global _shared
    with _lock:
        if _shared is None:
            if config is None:
                config = load_config()
            world = build_world(config)
            world.render()  # rasterise the track now, so a camera's first frame comes one step after it starts
            _shared = RealTimeWorld(world).start()
            logger.info("simulator mode: track %s, %.0f fps, real time", _shared.world.track.name, _shared.world.fps)
        return _shared


def attach_car(car: Racecar, config: Optional[Config] = None) -> RealTimeWorld:
    """Make ``car`` the one that drives the shared world (from its next step on); returns the world."""
    shared = shared_world(config)
    world = shared.world
    with world.lock:
        previous, world.car = world.car, car
    if previous is not car and getattr(previous, "driver", None) is None:
        previous.stop("another car took over the simulated world")
    return shared
