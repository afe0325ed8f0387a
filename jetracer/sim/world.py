"""The simulated world: a track, a car (a real :class:`jetracer.racecar.Racecar`), its dynamics and camera.

Lockstep and deterministic: ``world.step()`` advances exactly one frame period (``1/fps`` s of simulated
time) from the car's current driver outputs, whatever the wall clock says; for a given seed the same
commands give the same states and frames. Per episode (:meth:`SimWorld.reset`) three random streams are
derived from ``(seed, episode index)`` (:mod:`jetracer.sim.rng`): ``episode`` draws the floor/line
appearance and camera geometry jitter, ``frame`` the per-frame photometric noise of the renderer,
``dynamics`` the start pose and the perturbed expert's noise.

What ``randomize`` draws, and the ranges it draws from, is :mod:`jetracer.sim.domain` (``domain=``
overrides them): camera mount and lens, floor and markings, the room, the camera module's look and
whether the car's front wheels are in view. The floor texture and the room are built on the first
``render()`` of an episode (a few hundred ms), so episodes that never render cost nothing.

``world.lock`` (an RLock) guards ``step``/``render``/``reset`` so a real-time thread
(:class:`RealTimeStepper`, or a camera) and a driver loop can share the world.

The simulator needs numpy and OpenCV (desktop Python >= 3.6); it is not meant to run on the car.
"""
import copy
import functools
import math
import threading
import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from ..car import car_defaults
from ..hardware.base import Driver
from ..profiles import Profile, load_profile
from ..racecar import Racecar
from .camera_model import camera_section
from .domain import domain_params, extras_rng, sample_camera, sample_extras
from .dynamics import BicycleModel, min_turning_radius_m
from .labels import LOOKAHEAD_M, label_uv
from .obstacle_labels import SIDE_MARGIN_M, STOP_MARGIN_M, ObstacleLabel, obstacle_label
from .obstacles import CarShape, Obstacle, ObstacleSet, obstacle_rng, place_obstacles
from .rng import episode_streams
from .track import DEFAULT_APPEARANCE, DEFAULT_MIN_RADIUS_M, random_appearance
from .tracks_builtin import load_track

TURN_MARGIN = 1.3

SimState = NamedTuple("SimState", [
    ("x", float), ("y", float), ("yaw", float), ("speed_mps", float), ("steer_rad", float),
    ("cte_m", float), ("progress_m", float), ("distance_m", float), ("laps", int), ("offtrack", bool),
    ("time_s", float), ("frame", int),
])
SimState.__doc__ = """Snapshot of the world: rear-axle pose (m, rad), speed, wheel angle (left +), signed
cross-track error (m, left +), progress along the centreline (m, in [0, length)), distance driven along
it since reset (m, negative when driving backwards), completed laps, whether the rear or front axle
centre is beyond a track edge, simulated time (s) and frame count since reset."""


class SimWorld(object):
    """A car on a track, stepped in lockstep; see the module docstring.

    ``profile``: a profile name/path or :class:`Profile`; ``track``: a built-in name, an integer seed
    (procedural track whose curves suit this car's turning radius) or a :class:`Track`; ``driver``: an
    optional hardware driver (e.g. on the emulated I2C bus) that the car also drives; ``domain``:
    overrides of the randomisation ranges (:data:`jetracer.sim.domain.DEFAULTS`); ``obstacles``: how many
    obstacles each episode places on the track (:mod:`jetracer.sim.obstacles`, from their own random stream),
    or a list of :class:`~jetracer.sim.obstacles.Obstacle` to use in every episode.
    """

    def __init__(self, profile: Union[str, Profile] = "latrax", track: Any = "oval", seed: int = 0, fps: float = 30,
                 width: int = 224, height: int = 224, randomize: bool = True, driver: Optional[Driver] = None,
                 label_distance_m: float = LOOKAHEAD_M, domain: Optional[Dict[str, Any]] = None,
                 obstacles: Union[int, Sequence[Obstacle]] = 0) -> None:
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.domain = domain_params(domain)
        if fps <= 0:
            raise ValueError("fps must be > 0, got %r" % fps)
        self.fps = float(fps)
        self.width, self.height = int(width), int(height)
        self.randomize = bool(randomize)
        self.label_distance_m = float(label_distance_m)
        self.min_radius_m = max(DEFAULT_MIN_RADIUS_M, TURN_MARGIN * min_turning_radius_m(self.profile))
        self.track = load_track(track, min_radius_m=self.min_radius_m)
        self.car = Racecar(driver=driver, **car_defaults(self.profile))
        self.dynamics = BicycleModel(self.profile["dynamics"])
        self.lock = threading.RLock()
        self._renderer = None  # type: Any
        self._texture_key = None  # type: Any
        self._texture_look = None  # type: Optional[Dict[str, Any]]
        self._scene_key = None  # type: Any
        self.seed = int(seed)
        self.episode = -1
        if isinstance(obstacles, int) and obstacles < 0:
            raise ValueError("obstacles must be a count >= 0 or a list of Obstacle, got %r" % (obstacles,))
        self._obstacle_spec = obstacles if isinstance(obstacles, int) else list(obstacles)
        self.car_shape = CarShape.from_profile(self.profile)
        self.reset(seed)

    # -- episodes ----------------------------------------------------------------------------------

    def reset(self, seed: Optional[int] = None) -> SimState:
        """Start an episode: with ``seed``, episode 0 of that seed; without, the next episode of the current seed."""
        with self.lock:
            if seed is not None:
                self.seed = int(seed)
                self.episode = 0
            else:
                self.episode += 1
            self.streams = episode_streams(self.seed, self.episode)
            erng, drng = self.streams.episode, self.streams.dynamics
            if self.randomize:
                self.appearance = random_appearance(erng)
                self.camera, self.jitter = sample_camera(erng, camera_section(self.profile), self.domain)
                self._texture_seed = int(erng.integers(2 ** 31))
                self._scene_seed = int(erng.integers(2 ** 31))
                self.extras = sample_extras(extras_rng(self.seed, self.episode), self.domain)
                if self.extras["tape_layout"] or self.extras["shadows"]:
                    self.appearance = self._extra_appearance(self.appearance, self.extras)
                start_s = float(drng.uniform(0.0, self.track.length_m))
                pose = self.track.pose_at(start_s, float(drng.uniform(-0.05, 0.05)), float(drng.uniform(-0.1, 0.1)))
            else:
                self.appearance = dict(DEFAULT_APPEARANCE)
                self.extras = sample_extras(extras_rng(self.seed, self.episode), domain_params())
                self.camera = None  # type: Optional[Dict[str, Any]]
                self.jitter = None  # type: Optional[Dict[str, float]]
                self._texture_seed = 0
                self._scene_seed = None  # type: Optional[int]
                pose = self.track.pose_at(0.0)
            if self._renderer is not None:
                self._renderer.set_geometry(jitter=self.jitter, camera=self.camera)
                self._renderer.set_scene()
            self._scene_key = None
            self.car.steering = 0.0
            self.car.stop("simulator reset")
            self.dynamics.reset(*pose)
            self._hint = None  # type: Optional[int]
            self._front_hint = None  # type: Optional[int]
            s, cte, self._hint = self.track.nearest(pose[0], pose[1])
            self._last_s = s
            self.distance_m = 0.0
            self.frame = 0
            self._reset_obstacles(pose)
            self.state = self._make_state(s, cte)
            return self.state

    @staticmethod
    def _extra_appearance(look: Dict[str, Any], extras: Dict[str, Any]) -> Dict[str, Any]:
        """This episode's floor with the issue-20 draws: tape laid on the bare floor, hard light and shadows."""
        from .materials import tape_layout
        rng = np.random.default_rng(extras["seed"])
        if extras["tape_layout"]:
            look = tape_layout(rng, look)
        if extras["shadows"]:
            look = dict(look, hard_light=int(rng.integers(1, 6)))
        return look

    @property
    def episode_label_m(self) -> float:
        """The look-ahead of this episode's labels: ``label_distance_m``, or the episode's own draw when the
        domain's ``label_distance_m`` is a range."""
        drawn = self.extras.get("label_distance_m") if self.randomize else None
        return float(drawn) if drawn is not None else self.label_distance_m

    # -- stepping ----------------------------------------------------------------------------------

    def step(self) -> SimState:
        """Send the car's current driver outputs and advance one frame period of simulated time."""
        with self.lock:
            self.dynamics.command(self.car.steering_output, self.car.throttle_output)
            before = self.pose
            self.dynamics.advance(1.0 / self.fps)
            if self.obstacles.active:
                self._collide(before)
            d = self.dynamics
            s, cte, self._hint = self.track.nearest(d.x, d.y, self._hint)
            ds = s - self._last_s
            half = self.track.length_m / 2.0
            ds = ds - self.track.length_m if ds > half else ds + self.track.length_m if ds < -half else ds
            self.distance_m += ds
            self._last_s = s
            self.frame += 1
            self.state = self._make_state(s, cte)
            return self.state

    def _make_state(self, s: float, cte: float) -> SimState:
        d = self.dynamics
        L = d.params.wheelbase_m
        fx, fy = d.x + L * math.cos(d.yaw), d.y + L * math.sin(d.yaw)
        _, front_cte, self._front_hint = self.track.nearest(fx, fy, self._front_hint)
        half = self.track.width_m / 2.0
        laps = max(0, int(math.floor(self.distance_m / self.track.length_m + 1e-9)))
        return SimState(d.x, d.y, d.yaw, d.speed_mps, d.steer_rad, cte, s, self.distance_m, laps,
                        abs(cte) > half or abs(front_cte) > half, d.time_s, self.frame)

    @property
    def pose(self) -> Tuple[float, float, float]:
        """Rear-axle ``(x, y, yaw)`` now."""
        return self.dynamics.x, self.dynamics.y, self.dynamics.yaw

    # -- camera ------------------------------------------------------------------------------------

    @property
    def renderer(self) -> Any:
        """The camera renderer (:class:`jetracer.sim.render.Renderer`), built on first use."""
        if self._renderer is None:
            from .render import Renderer

            self._renderer = Renderer(self.profile["camera"], width=self.width, height=self.height)
            self._renderer.set_geometry(jitter=self.jitter, camera=self.camera)
        return self._renderer

    def _ensure_scene(self) -> None:
        """Build this episode's room, camera module and car body (once per episode, on first render)."""
        key = (self.seed, self.episode, self._scene_seed)
        if key == self._scene_key:
            return
        renderer = self.renderer
        if self._scene_seed is None:
            renderer.set_scene()
        else:
            from .body import maybe_body
            from .room import Room

            room_ss, sensor_ss, body_ss = np.random.SeedSequence(self._scene_seed).spawn(3)
            room_rng, sensor_rng, body_rng = (np.random.default_rng(ss) for ss in (room_ss, sensor_ss, body_ss))
            u = room_rng.random(2)
            room = Room(room_rng, renderer.model.height_m, cols=renderer.pano_cols,
                        glossy=bool(u[1] < self.domain["glare_p"]),
                        hallway=self.extras["hallway"]) if u[0] < self.domain["room_p"] else None
            sensor = renderer.photometric.sample_sensor(sensor_rng, self.domain)
            if self.extras["night"]:
                renderer.photometric.night(sensor, np.random.default_rng(self.extras["seed"] + 1))
            body = maybe_body(body_rng, self.domain["body_p"], self.dynamics.params.wheelbase_m, renderer.model)
            renderer.set_scene(room, sensor, body)
        self._scene_key = key

    def _ensure_texture(self) -> None:
        """Rasterize the floor when the track, texture seed or appearance changed. The appearance is compared
        to a deep copy kept from the last rasterize, so a value changed in place counts too (a key made of
        its sorted repr cost ~20 us every frame)."""
        key = (id(self.track), self._texture_seed)
        if key != self._texture_key or self.appearance != self._texture_look:
            self.track.rasterize(self.appearance, rng=np.random.default_rng(self._texture_seed))
            self._texture_key, self._texture_look = key, copy.deepcopy(self.appearance)

    def render(self) -> np.ndarray:
        """The camera frame (HxWx3 uint8 BGR) at the current pose; randomised photometrics when ``randomize``."""
        with self.lock:
            self._ensure_texture()
            self._ensure_scene()
            rng = self.streams.frame if self.randomize else None
            draw = None
            if self.obstacles.active:
                self.obstacles.light_from_room(self.renderer.room)
                draw = functools.partial(self.obstacles.draw, pose=self.pose)
            return self.renderer.render(self.track, self.pose, rng=rng, steer_rad=self.dynamics.steer_rad,
                                        draw_after_floor=draw)

    def label_uv(self) -> Tuple[float, float]:
        """Pixel (u, v) of the path point ``label_distance_m`` ahead, in the current camera (see labels)."""
        with self.lock:
            return label_uv(self.renderer, self.track, self.pose, self.width, self.height,
                            self.episode_label_m, hint=self._hint)

    def top_down(self, trajectory: Optional[Sequence[Sequence[float]]] = None, max_px: int = 900) -> np.ndarray:
        """A top-down BGR picture of the track with ``trajectory`` ((N, 2) world points) and the car drawn on it."""
        import cv2

        with self.lock:
            self._ensure_texture()
            tex = self.track.texture
            scale = min(1.0, float(max_px) / max(tex.shape[:2]))
            img = cv2.resize(tex, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

            def px(xy: Any) -> np.ndarray:
                return np.round((self.track.world_to_px(np.asarray(xy, dtype=np.float64)) + 0.5) * scale - 0.5).astype(np.int32)

            self.obstacles.draw_top_down(img, px)
            if trajectory is not None and len(trajectory) > 1:
                cv2.polylines(img, [px(trajectory).reshape(-1, 1, 2)], False, (0, 0, 255), 2, cv2.LINE_AA)
            x, y, yaw = self.pose
            L = self.dynamics.params.wheelbase_m
            a, b = px([x, y]), px([x + 2 * L * math.cos(yaw), y + 2 * L * math.sin(yaw)])
            cv2.arrowedLine(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), (255, 0, 0), 2, cv2.LINE_AA, 0, 0.4)
            return img

    # -- obstacles ---------------------------------------------------------------------------------

    def _reset_obstacles(self, pose: Tuple[float, float, float]) -> None:
        """This episode's obstacles (placed from the episode's obstacle stream) and a fresh collision count."""
        spec = self._obstacle_spec
        rng = obstacle_rng(self.seed, self.episode)
        placed = place_obstacles(rng, self.track, pose, spec, self.car_shape) if isinstance(spec, int) else spec
        self.set_obstacles(placed, rng)

    def set_obstacles(self, obstacles: Sequence[Obstacle], rng: Optional[np.random.Generator] = None) -> ObstacleSet:
        """Replace this episode's obstacles (a constructed scene) and clear the collision count."""
        with self.lock:
            self.obstacles = ObstacleSet(obstacles, self.track, rng)
            self.collisions = 0
            self.collision_log = []  # type: List[Dict[str, Any]]
            self.last_collision = None  # type: Optional[int]
            self._contact = None  # type: Optional[int]
            return self.obstacles

    def lift_obstacle(self, index: int) -> Obstacle:
        """Take obstacle ``index`` off the floor (as a person would): gone from frames, labels and collisions."""
        with self.lock:
            if self._contact == index:
                self._contact = None
            return self.obstacles.lift(index)

    def _collide(self, before: Tuple[float, float, float]) -> None:
        """A step that ends with the car touching an obstacle ends where it first touched, the car stopped (a
        bump); a contact is a new collision once the car had been more than 1 cm away from that obstacle."""
        d = self.dynamics
        if self._contact is not None and not self.obstacles.near(self.car_shape, self.pose, self._contact, 0.01):
            self._contact = None
        hit, pose = self.obstacles.first_contact(self.car_shape, before, self.pose)
        self.last_collision = hit
        if hit is None:
            return
        d.x, d.y, d.yaw = pose
        d.speed_mps = 0.0
        if self._contact is None:
            self.collisions += 1
            self.collision_log.append({"frame": self.frame + 1, "time_s": round(d.time_s, 4), "obstacle": hit,
                                       "kind": self.obstacles.items[hit].kind})
        self._contact = hit

    def obstacle_label(self, speed_mps: Optional[float] = None, margin_m: float = STOP_MARGIN_M,
                       side_margin_m: float = SIDE_MARGIN_M) -> ObstacleLabel:
        """Is an obstacle in the car's swept path within its stopping distance, and how far is it
        (:mod:`jetracer.sim.obstacle_labels`). The speed is ``speed_mps`` if given, else the car's speed now
        or, if higher, the speed the commands already in flight give it when a stop sent now takes effect
        (``latency_s`` later): a car still speeding up would otherwise stop late."""
        with self.lock:
            d, p = self.dynamics, self.dynamics.params
            speed = max(d.speed_mps, d.predict(p.latency_s)[3]) if speed_mps is None else float(speed_mps)
            return obstacle_label(self.obstacles, self.car_shape, self.pose, speed, p.latency_s, p.coast_decel_mps2,
                                  margin_m, side_margin_m, hint=self._front_hint)

    def close(self) -> None:
        """Stop the car and release its driver."""
        self.car.close()


class RealTimeStepper(object):
    """Steps a world at wall-clock rate (``world.fps``) in a daemon thread, under ``world.lock``.

    ``on_step(world)`` (optional) runs after each step, e.g. to render a frame for a camera. Falling
    behind never makes the simulation jump: missed periods are skipped, not caught up.
    """

    def __init__(self, world: SimWorld, on_step: Any = None) -> None:
        self.world = world
        self.on_step = on_step
        self._stop = threading.Event()
        self._thread = None  # type: Optional[threading.Thread]

    def start(self) -> "RealTimeStepper":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="sim-realtime", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def _loop(self) -> None:
        period = 1.0 / self.world.fps
        next_t = time.monotonic()
        while not self._stop.is_set():
            with self.world.lock:
                self.world.step()
                if self.on_step is not None:
                    self.on_step(self.world)
            next_t += period
            now = time.monotonic()
            if next_t < now:
                next_t = now
            self._stop.wait(next_t - now)
