"""A person in the simulator who lifts an obstacle away once the car has held still before it, so laps go on.

The rule (``jetracer sim drive --obstacles N``, ``jetracer drive --sim`` with ``sim.obstacles``, the demo):
once the car has stood still (``|speed| <= still_mps``) for ``hold_s`` with the same obstacle nearest in its
swept path (:meth:`jetracer.sim.world.SimWorld.obstacle_label`'s ``nearest_index``) within ``reach_m``
of its front bumper, that obstacle is lifted (:meth:`~jetracer.sim.world.SimWorld.lift_obstacle`): gone
from frames, labels and collisions.
"""
from typing import Any, Dict, List, Optional

HOLD_S = 2.0
STILL_MPS = 0.02
REACH_M = 1.0


class ObstacleLifter(object):
    """Call once after each ``world.step()``; returns the index of an obstacle it lifted, else None.
    ``lifted`` lists ``{"obstacle", "time_s", "distance_m"}`` for each lift."""

    def __init__(self, world: Any, hold_s: float = HOLD_S, still_mps: float = STILL_MPS,
                 reach_m: float = REACH_M) -> None:
        self.world = world
        self.hold_s = float(hold_s)
        self.still_mps = float(still_mps)
        self.reach_m = float(reach_m)
        self.lifted = []  # type: List[Dict[str, Any]]
        self._index = None  # type: Optional[int]
        self._since_s = 0.0

    def __call__(self) -> Optional[int]:
        world = self.world
        obstacles = getattr(world, "obstacles", None)
        if obstacles is None or not obstacles.active or abs(world.dynamics.speed_mps) > self.still_mps:
            self._index = None
            return None
        label = world.obstacle_label(speed_mps=0.0)
        now_s = world.state.time_s
        if label.nearest_index is None or label.nearest_m > self.reach_m:
            self._index = None
            return None
        if label.nearest_index != self._index:
            self._index, self._since_s = label.nearest_index, now_s
            return None
        if now_s - self._since_s < self.hold_s - 1e-9:
            return None
        index, self._index = label.nearest_index, None
        world.lift_obstacle(index)
        self.lifted.append({"obstacle": index, "time_s": round(now_s, 3), "distance_m": round(label.nearest_m, 4)})
        return index
