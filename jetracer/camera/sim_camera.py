"""The simulator as a camera: each frame is one step of a :class:`jetracer.sim.world.SimWorld`."""
from typing import Any

import numpy as np

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


class SharedWorldCamera(SimCamera):
    """The camera of a world that steps in real time on its own (:mod:`jetracer.sim_mode`).

    ``read()`` waits for the world's next step and renders it (a real camera's read blocks for the next
    frame too); the capture thread does the same, so ``value`` changes at the world's rate. The frame is
    resized to ``width`` x ``height`` when the world renders another size. The world is never closed here.
    """

    def __init__(self, realtime_world: Any, width: int = 0, height: int = 0) -> None:
        self.shared = realtime_world
        world = realtime_world.world
        super(SharedWorldCamera, self).__init__(world, realtime=True, owns_world=False)
        self.fps = 0.0  # paced by the world's steps, not by a timer
        if (width and int(width) != self.width) or (height and int(height) != self.height):
            self.width, self.height = int(width), int(height)
            self.value = np.zeros((self.height, self.width, 3), np.uint8)
        self._seen = realtime_world.steps

    def _read(self) -> Any:
        self._seen = self.shared.wait_step(self._seen)
        with self.world.lock:
            frame = self.world.render()
        if frame.shape[:2] != (self.height, self.width):
            import cv2
            frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return frame
