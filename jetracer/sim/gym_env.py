"""A Gymnasium environment over :class:`jetracer.sim.world.SimWorld` (needs ``pip install gymnasium``).

Observation: the camera frame, ``(height, width, 3)`` uint8 BGR. Action: ``[steering, throttle]`` in
[-1, 1] (car-level commands, so the profile's gains, ``max_throttle`` and latency apply). Reward per
step: metres of progress along the centreline minus ``offtrack_penalty`` while off the track.
An episode terminates when the car is more than ``lost_m`` beyond an edge and is truncated after
``max_episode_steps``. ``reset(seed=s)`` starts episode 0 of seed ``s``: same seed, same episode.
"""
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .world import SimWorld


def _gymnasium() -> Any:
    try:
        import gymnasium
    except ImportError:
        raise ImportError("JetRacerEnv needs gymnasium: pip install 'jetracer[sim]' (or pip install gymnasium)")
    return gymnasium


def make_env(**kwargs: Any) -> Any:
    """A :class:`JetRacerEnv` (built lazily so importing this module does not need gymnasium)."""
    return _env_class()(**kwargs)


_CLASS = None  # type: Any


def _env_class() -> Any:
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    gym = _gymnasium()
    spaces = gym.spaces

    class JetRacerEnv(gym.Env):
        """The simulated JetRacer as a Gymnasium env (see the module docstring)."""

        metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

        def __init__(self, profile: Any = "latrax", track: Any = "oval", width: int = 224, height: int = 224,
                     fps: float = 30, randomize: bool = True, max_episode_steps: int = 3000,
                     offtrack_penalty: float = 0.1, lost_m: float = 0.5, render_mode: Optional[str] = None) -> None:
            self.world = SimWorld(profile, track=track, seed=0, fps=fps, width=width, height=height, randomize=randomize)
            self.observation_space = spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8)
            self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
            self.max_episode_steps = int(max_episode_steps)
            self.offtrack_penalty = float(offtrack_penalty)
            self.lost_m = float(lost_m)
            self.render_mode = render_mode
            self._frame = None  # type: Optional[np.ndarray]
            self._steps = 0

        def _info(self) -> Dict[str, Any]:
            return dict(self.world.state._asdict())

        def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
            super().reset(seed=seed)
            self.world.reset(seed)
            self._steps = 0
            self._frame = self.world.render()
            return self._frame, self._info()

        def step(self, action: Any) -> Tuple[np.ndarray, float, bool, bool, Dict[str, Any]]:
            a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
            if not np.all(np.isfinite(a)):
                raise ValueError("action must be finite, got %r" % (action,))
            before = self.world.state.distance_m
            self.world.car.steering = float(a[0])
            self.world.car.throttle = float(a[1])
            state = self.world.step()
            self._steps += 1
            reward = (state.distance_m - before) - (self.offtrack_penalty if state.offtrack else 0.0)
            terminated = abs(state.cte_m) > self.world.track.width_m / 2.0 + self.lost_m
            truncated = self._steps >= self.max_episode_steps
            self._frame = self.world.render()
            return self._frame, float(reward), bool(terminated), bool(truncated), self._info()

        def render(self) -> Optional[np.ndarray]:
            if self.render_mode == "rgb_array":
                return self._frame[:, :, ::-1].copy() if self._frame is not None else None
            return None

        def close(self) -> None:
            self.world.close()

    _CLASS = JetRacerEnv
    return _CLASS


def __getattr__(name: str) -> Any:  # PEP 562: ``from jetracer.sim.gym_env import JetRacerEnv`` (Python >= 3.7)
    if name == "JetRacerEnv":
        return _env_class()
    raise AttributeError(name)
