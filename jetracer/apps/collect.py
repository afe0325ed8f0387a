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
"""
import os
import uuid
from typing import Any, Dict, List, Sequence

import numpy as np

from ..dataset import DatasetWriter, repair_index
from ..pixels import pixel_label
from ..sim.expert import PerturbedExpert, PurePursuitExpert
from ..sim.world import SimWorld


def collect(out_dir: str, frames: int, tracks: Sequence[Any] = ("oval",), profile: Any = "latrax", seed: int = 0,
            category: str = "apex", fps: float = 30, width: int = 224, height: int = 224, randomize: bool = True,
            progress: bool = False, episode_frames: int = 40) -> Dict[str, Any]:
    """Drive the perturbed expert over ``tracks`` and write ``frames`` labelled images (split evenly).

    An episode ends after ``episode_frames`` frames or when the car leaves the track; the next one starts
    at once on the same track with a new session. Returns ``{"frames": n, "sessions": [...], "dir": <category folder>,
    "written": frames written by this call, "kept": frames already there from an earlier (killed) run}``.
    """
    if frames < 1:
        raise ValueError("frames must be >= 1, got %r" % frames)
    if episode_frames < 1:
        raise ValueError("episode_frames must be >= 1, got %r" % episode_frames)
    folder = os.path.join(out_dir, category)
    per_track = [frames // len(tracks) + (1 if i < frames % len(tracks) else 0) for i in range(len(tracks))]
    present = {}  # type: Dict[str, set]
    for name, record in repair_index(folder).items():
        present.setdefault(str(record.get("session")), set()).add(name)
    sessions = []  # type: List[str]
    written, kept = 0, 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=frames, unit="frame")
    for k, (track_spec, count) in enumerate(zip(tracks, per_track)):
        if count == 0:
            continue
        world_seed = int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])   # own looks per track
        world = SimWorld(profile, track=track_spec, seed=world_seed, fps=fps, width=width, height=height,
                         randomize=randomize)
        try:
            done = 0
            prefix = "sim-%s-s%d-e" % (world.track.name, world.seed)
            last = max([int(s[len(prefix):]) for s in present if s.startswith(prefix) and s[len(prefix):].isdigit()]
                       or [-1])
            while done < count:
                session = "%s%d" % (prefix, world.episode)
                sessions.append(session)
                have = present.get(session, set())
                if have and world.episode < last:  # an episode a killed run finished: its frames are all there
                    take = min(len(have), count - done)
                    done, kept = done + take, kept + take
                    if bar is not None:
                        bar.update(take)
                    world.reset()
                    continue
                writer = DatasetWriter(out_dir, category, session=session, source="sim", fsync=False)
                driver = PerturbedExpert(PurePursuitExpert(world.track, world.profile), world.streams.dynamics)
                ids = world.streams.episode
                i = 0
                while done < count and i < episode_frames:
                    image = world.render()
                    u, v = pixel_label(*world.label_uv(), width=width, height=height)
                    uid = str(uuid.UUID(bytes=ids.bytes(16), version=4))
                    if writer.file_name(u, v, uid) in have:
                        kept += 1
                    else:
                        writer.save(image, u, v, uid=uid, track=world.track.name, frame=i)
                        written += 1
                    done += 1
                    i += 1
                    if bar is not None:
                        bar.update(1)
                    world.car.steering, world.car.throttle = driver.act(world)
                    if world.step().offtrack:
                        break
                world.reset()
        finally:
            world.close()
    if bar is not None:
        bar.close()
    return {"frames": written + kept, "sessions": sessions, "dir": folder, "written": written, "kept": kept}
