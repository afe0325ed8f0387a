"""Collect a labelled dataset in the simulator, in upstream's layout.

One episode (session) per track: the perturbed expert drives, and every frame is written as
``<out>/<category>/<u>_<v>_<uuid>.jpg`` where (u, v) is the integer label pixel (the path point
:data:`jetracer.sim.labels.LOOKAHEAD_M` ahead, see :mod:`jetracer.sim.labels`), through the same
crash-safe :class:`jetracer.dataset.DatasetWriter` the car records with, so the index line of
each image (``<out>/<category>/index.jsonl``) holds its session ``sim-<track>-s<seed>-e<episode>``,
size, ``source: sim``, ``track`` and ``frame`` (index in the session).

Episodes are short (``episode_frames``, 40 by default: 1.3 s of driving) so a dataset holds many
episodes, and so many cameras, floors, rooms and sensor looks: a model trained on a few long episodes
learns those few worlds by heart instead of the road. Each episode starts at a random place on the
track. ``session`` groups frames of one episode, so a dataset split can keep whole sessions apart. The uuid
is drawn from the episode's random stream: the same arguments write the same files. Each track of
the list gets its own world seed (from ``seed`` and its position), so appearances differ between tracks.

Collecting into a folder that already holds a dataset resumes: the temporary files of a killed run are
deleted and its index repaired (:func:`jetracer.dataset.repair_index`); episodes (sessions) the
index already holds are skipped, the last one of each track is driven again and only its frames not
on disk yet are written. So a killed run, run again with the same arguments, ends with the files an
uninterrupted run writes and one index line per image; other arguments add their own sessions.

**Obstacles** (``obstacles=N``): each episode places N obstacles (:mod:`jetracer.sim.obstacles`) and every
frame's index line also holds its obstacle label from geometry (:mod:`jetracer.sim.obstacle_labels`):
``blocked`` (something in the car's swept path within the stopping distance) and ``distance_m`` (the nearest
thing in that path, up to 5 m; null when there is none), with ``stop_distance_m`` and ``label_speed_mps``.
A camera cannot see speed, so the label takes one **nominal speed** for every frame, not the expert's: by
default the speed the configured auto-mode throttle gives this car (``drive.throttle``, 0.2: 0.16 output,
0.64 m/s on the latrax; a stop from 0.40 m), the speed a model is driven at; a car driven faster needs
labels (``label_speed_mps``) and a model for its speed. An episode ends when the car touches an obstacle.
Obstacles spread along a whole track are rarely met in a 40-frame episode, so three episodes in four are
driven only when they start with an obstacle in the swept path :data:`APPROACH_M` ahead (the others are
skipped before anything is rendered, the same ones on every run): about a quarter of the frames are blocked.
``layout="jetbot"`` writes upstream JetBot's collision layout instead: ``<out>/blocked/<uuid>.jpg`` and
``<out>/free/<uuid>.jpg`` (the road label stays in the index line), what a user's own collection writes.
"""
import os
import uuid
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..config_schema import default_settings
from ..dataset import OBSTACLE_FOLDERS, DatasetWriter, ObstacleWriter, repair_index
from ..pixels import pixel_label
from ..sim.expert import PerturbedExpert, PurePursuitExpert
from ..sim.obstacle_labels import label_dict
from ..sim.world import SimWorld

LAYOUTS = ("road", "jetbot")
APPROACH_M = (0.45, 1.1)  # an obstacle this far ahead at the start is met within an episode's 40 frames
FREE_EVERY = 4            # every fourth episode is driven wherever it starts: free frames of every kind


def _worth_driving(world: SimWorld, speed_mps: float, driven: int) -> bool:
    """With obstacles: drive this episode if it follows ``driven`` episodes driven on this track, a multiple of
    :data:`FREE_EVERY`, or starts with an obstacle in the swept path :data:`APPROACH_M` ahead (deterministic:
    the same episodes on every run)."""
    if driven % FREE_EVERY == 0:
        return True
    nearest = world.obstacle_label(speed_mps=speed_mps).nearest_m
    return nearest is not None and APPROACH_M[0] <= nearest <= APPROACH_M[1]


def nominal_speed_mps(profile: Any, throttle: Optional[float] = None) -> float:
    """The speed (m/s) the car settles at on the auto-mode ``throttle`` (default the configuration's
    ``drive.throttle``): ``clip(throttle * gain + offset, +-max_throttle) * max_speed_mps``, 0 within the
    dead band."""
    throttle = default_settings("drive").throttle if throttle is None else float(throttle)
    car, dyn = profile["car"], profile["dynamics"]
    limit = float(car["max_throttle"])
    out = max(-limit, min(limit, throttle * float(car["throttle_gain"]) + float(car["throttle_offset"])))
    return 0.0 if abs(out) < float(dyn["throttle_deadband"]) else abs(out) * float(dyn["max_speed_mps"])


class _Writers(object):
    """Where one episode's frames go: the road layout (labels in the index) or JetBot's blocked/free folders."""

    def __init__(self, out_dir: str, category: str, session: str, layout: str, obstacles: bool) -> None:
        self.layout, self.obstacles = layout, obstacles
        if layout == "jetbot":
            self.writer = ObstacleWriter(out_dir, session=session, source="sim", fsync=False)  # type: Any
        else:
            self.writer = DatasetWriter(out_dir, category, session=session, source="sim", fsync=False)

    def name(self, u: int, v: int, uid: str) -> str:
        return self.writer.file_name(uid) if self.layout == "jetbot" else self.writer.file_name(u, v, uid)

    def save(self, image: np.ndarray, u: int, v: int, uid: str, label: Optional[Dict[str, Any]], **extra: Any) -> None:
        if self.layout == "jetbot":
            self.writer.save(image, label["blocked"], uid=uid, distance_m=label["distance_m"], u=u, v=v,
                             stop_distance_m=label["stop_distance_m"], label_speed_mps=label["label_speed_mps"], **extra)
        elif label is not None:
            self.writer.save(image, u, v, uid=uid, **dict(extra, **label))
        else:
            self.writer.save(image, u, v, uid=uid, **extra)


def _obstacle_fields(world: SimWorld, speed_mps: float) -> Dict[str, Any]:
    """This frame's obstacle label at the nominal speed, as the index holds it."""
    label = label_dict(world.obstacle_label(speed_mps=speed_mps))
    return {"blocked": label["blocked"], "distance_m": label["nearest_m"],
            "stop_distance_m": label["stop_distance_m"], "label_speed_mps": round(speed_mps, 3)}


def _present(out_dir: str, category: str, layout: str) -> Dict[str, set]:
    """{session: file names} already in the folders this collection writes (after repairing them)."""
    present = {}  # type: Dict[str, set]
    folders = OBSTACLE_FOLDERS if layout == "jetbot" else (category,)
    for folder in folders:
        for name, record in repair_index(os.path.join(out_dir, folder)).items():
            present.setdefault(str(record.get("session")), set()).add(name)
    return present


def _check_collect_args(frames: int, episode_frames: int, layout: str, obstacles: int,
                        label_speed_mps: Optional[float]) -> None:
    """ValueError for arguments no collection can honour, before anything is written."""
    if frames < 1:
        raise ValueError("frames must be >= 1, got %r" % frames)
    if episode_frames < 1:
        raise ValueError("episode_frames must be >= 1, got %r" % episode_frames)
    if layout not in LAYOUTS:
        raise ValueError("layout must be one of %s, got %r" % (", ".join(LAYOUTS), layout))
    if layout == "jetbot" and obstacles < 1:
        raise ValueError("the jetbot layout sorts frames into blocked/ and free/: it needs obstacles (>= 1)")
    if label_speed_mps is not None and not label_speed_mps >= 0:
        raise ValueError("label_speed_mps must be >= 0, got %r" % label_speed_mps)


class _Collection(object):
    """One collect call's settings and running counts, shared by its tracks and episodes."""

    def __init__(self, out_dir: str, category: str, layout: str, obstacles: int, episode_frames: int,
                 width: int, height: int, progress: bool, frames: int) -> None:
        self.out_dir, self.category, self.layout, self.obstacles = out_dir, category, layout, obstacles
        self.episode_frames, self.width, self.height = episode_frames, width, height
        self.present = _present(out_dir, category, layout)
        self.sessions = []  # type: List[str]
        self.written, self.kept = 0, 0
        self.counts = {"blocked": 0, "free": 0}
        self.bar = None  # type: Any
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=frames, unit="frame")

    def advance(self, n: int) -> None:
        """Move the progress bar (when there is one) by ``n`` frames."""
        if self.bar is not None:
            self.bar.update(n)

    def track(self, world: SimWorld, speed: float, count: int) -> None:
        """Drive episodes on ``world`` until ``count`` frames are written or found there from an earlier run."""
        done = 0
        prefix = "sim-%s-s%d-e" % (world.track.name, world.seed)
        last = max([int(s[len(prefix):]) for s in self.present if s.startswith(prefix) and s[len(prefix):].isdigit()]
                   or [-1])
        driven = 0
        while done < count:
            if self.obstacles and not _worth_driving(world, speed, driven):
                world.reset()
                continue
            driven += 1
            session = "%s%d" % (prefix, world.episode)
            self.sessions.append(session)
            have = self.present.get(session, set())
            if have and world.episode < last:  # an episode a killed run finished: its frames are all there
                take = min(len(have), count - done)
                done, self.kept = done + take, self.kept + take
                self.advance(take)
                world.reset()
                continue
            done += self.episode(world, speed, session, have, count - done)
            world.reset()

    def episode(self, world: SimWorld, speed: float, session: str, have: set, budget: int) -> int:
        """Drive one episode of at most ``budget`` frames, writing those not in ``have``; returns frames done."""
        writer = _Writers(self.out_dir, self.category, session, self.layout, self.obstacles > 0)
        driver = PerturbedExpert(PurePursuitExpert(world.track, world.profile), world.streams.dynamics)
        ids = world.streams.episode
        i = 0
        while i < budget and i < self.episode_frames:
            image = world.render()
            u, v = pixel_label(*world.label_uv(), width=self.width, height=self.height)
            uid = str(uuid.UUID(bytes=ids.bytes(16), version=4))
            label = _obstacle_fields(world, speed) if self.obstacles else None
            if writer.name(u, v, uid) in have:
                self.kept += 1
            else:
                writer.save(image, u, v, uid, label, track=world.track.name, frame=i)
                self.written += 1
                if label is not None:
                    self.counts["blocked" if label["blocked"] else "free"] += 1
            i += 1
            self.advance(1)
            world.car.steering, world.car.throttle = driver.act(world)
            if world.step().offtrack or world.collisions:
                break
        return i


def collect(out_dir: str, frames: int, tracks: Sequence[Any] = ("oval",), profile: Any = "latrax", seed: int = 0,
            category: str = "apex", fps: float = 30, width: int = 224, height: int = 224, randomize: bool = True,
            progress: bool = False, episode_frames: int = 40, obstacles: int = 0, layout: str = "road",
            label_speed_mps: Optional[float] = None) -> Dict[str, Any]:
    """Drive the perturbed expert over ``tracks`` and write ``frames`` labelled images (split evenly).

    An episode ends after ``episode_frames`` frames, when the car leaves the track or touches an obstacle; the
    next one starts at once on the same track with a new session. ``obstacles``: obstacles per episode, each
    frame labelled blocked/free at ``label_speed_mps`` (default :func:`nominal_speed_mps`); ``layout``: "road"
    (``<out>/<category>/<u>_<v>_<uuid>.jpg``, obstacle labels in the index) or "jetbot" (``<out>/blocked``,
    ``<out>/free``; needs obstacles). Returns ``{"frames": n, "sessions": [...], "dir": <folder written>,
    "written": frames written by this call, "kept": frames already there from an earlier (killed) run}``, and
    with obstacles ``"blocked"``/``"free"`` (frames of each this call wrote) and ``"label_speed_mps"``.
    """
    _check_collect_args(frames, episode_frames, layout, obstacles, label_speed_mps)
    folder = out_dir if layout == "jetbot" else os.path.join(out_dir, category)
    per_track = [frames // len(tracks) + (1 if i < frames % len(tracks) else 0) for i in range(len(tracks))]
    run = _Collection(out_dir, category, layout, obstacles, episode_frames, width, height, progress, frames)
    speed = None  # type: Optional[float]
    for k, (track_spec, count) in enumerate(zip(tracks, per_track)):
        if count == 0:
            continue
        world_seed = int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])   # own looks per track
        world = SimWorld(profile, track=track_spec, seed=world_seed, fps=fps, width=width, height=height,
                         randomize=randomize, obstacles=obstacles)
        if speed is None:
            speed = nominal_speed_mps(world.profile) if label_speed_mps is None else float(label_speed_mps)
        try:
            run.track(world, speed, count)
        finally:
            world.close()
    if run.bar is not None:
        run.bar.close()
    result = {"frames": run.written + run.kept, "sessions": run.sessions, "dir": folder, "written": run.written,
              "kept": run.kept}  # type: Dict[str, Any]
    if obstacles:
        result.update(run.counts, label_speed_mps=round(speed or 0.0, 3))
    return result
