"""The simulator as a camera: each frame is one step of a :class:`jetracer.sim.world.SimWorld`."""
from typing import Any

from .base import Camera


class SimCamera(Camera):
    """Frames rendered by ``world`` (anything with ``step()``, ``render()``, ``lock``, ``fps``, ``width``, ``height``).

    Lockstep (``realtime=False``, deterministic): each ``read()`` advances the world by exactly one
    frame period (``world.step()``) and renders it, under ``world.lock``; a running capture thread does
    the same as fast as it can. Real time (``realtime=True``): ``running = True`` steps the world at the
    wall-clock rate ``world.fps``, so the car's commands act on the world as on a real car. The world
    is not closed by ``release()``; it belongs to whoever built it (``owns_world`` says otherwise).
    """

    def __init__(self, world: Any, realtime: bool = False, owns_world: bool = False) -> None:
        self.world = world
        self.realtime = bool(realtime)
        self.owns_world = bool(owns_world)
        super(SimCamera, self).__init__(width=int(world.width), height=int(world.height),
                                        fps=float(world.fps) if realtime else 0.0)

    def _read(self) -> Any:
        with self.world.lock:
            self.world.step()
            return self.world.render()

    def _release(self) -> None:
        if self.owns_world and hasattr(self.world, "close"):
            self.world.close()
