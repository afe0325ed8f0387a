"""Render what the car's camera sees: the floor texture by one ``cv2.remap``, the room by another.

The ground point seen by every pixel is computed once per camera geometry (:meth:`Renderer.set_geometry`)
in the car frame. A frame is then a 2D rigid transform of those points into texture coordinates
(``cv2.transform``, ~10 us) and one bilinear ``cv2.remap`` of the floor texture (mip-mapped by row so
far floor is averaged, not aliased). With a room (:class:`jetracer.sim.room.Room`, set by
:meth:`Renderer.set_scene`), the rows above and around the horizon also remap the room's panorama by
each pixel's ray azimuth (plus the car's yaw) and elevation, and blend it over the floor by its
alpha: walls, ceiling lights and furniture, and the floor ending where they stand. A glossy floor adds
the room's mirrored lights (a third remap). Without a room those pixels take a flat backdrop colour.
Then the car's own wheels or hood, if in view, and the camera module's look
(:class:`jetracer.sim.photometric.Photometric`: colour, lens shading, exposure, noise, blur, JPEG).

Needs only numpy and OpenCV on one core (no OpenGL, no display). Track textures must be smaller
than 32767 texels on a side (an OpenCV ``remap`` limit): 130 m at 4 mm per texel.
"""
import math
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from .camera_model import CameraModel, camera_section
from .photometric import Photometric, SensorLook

FAR_M = 1.0e4          # where above-horizon pixels look: far outside any texture, so they get the background
MAX_MIP_LEVEL = 4      # far ground samples textures down to 1/16 resolution
MAX_RANGE_M = 100.0     # ground seen farther than this is drawn as background too
CLEAN_BACKGROUND_BGR = (200, 190, 180)
CLEAN_HOOD_BGR = (40, 40, 40)


class Renderer(object):
    """The camera of ``camera_profile`` (a profile or its ``camera:`` section) rendering track textures.

    ``photometric`` (optional) sets the randomisation used when ``render`` gets an rng.
    """

    def __init__(self, camera_profile: Any, width: int = 224, height: int = 224,
                 photometric: Optional[Photometric] = None) -> None:
        self.camera = camera_section(camera_profile)
        self.width = int(width)
        self.height = int(height)
        self.photometric = photometric if photometric is not None else Photometric(self.width, self.height)
        self.background_bgr = CLEAN_BACKGROUND_BGR
        self.hood_bgr = CLEAN_HOOD_BGR
        self.room = None  # type: Any
        self.sensor = None  # type: Optional[SensorLook]
        self.body = None  # type: Any
        self._mip_source = None  # type: Any
        self._mip_levels = []  # type: Sequence[np.ndarray]
        self._floor_fill = CLEAN_BACKGROUND_BGR  # type: Tuple[int, int, int]
        self.set_geometry(None)

    @property
    def pano_cols(self) -> int:
        """Panorama width a room should have for this image size: about one panorama texel per image pixel
        for a 145 deg lens (0.7 deg at 224 pixels across; the room is background, a little soft is fine)."""
        return int(min(4096, max(256, 1 << int(math.ceil(math.log2(512 * self.width / 224.0))))))

    def set_geometry(self, jitter: Optional[Mapping[str, float]] = None, camera: Optional[Mapping[str, Any]] = None) -> None:
        """Set this episode's camera geometry: ``camera`` (optional) replaces keys of the profile's camera
        section (mount, FOV, projection), ``jitter`` holds offsets added to them (``height_m``, ``pitch_deg``,
        ``hfov_deg``, ``vfov_deg``, ``roll_deg``, ``forward_m``); None = the profile's camera. Recomputes
        the per-pixel ground points and ray directions (a few ms)."""
        section = dict(self.camera, **dict(camera)) if camera else self.camera
        self.model = CameraModel(section, self.width, self.height, jitter)
        self._hood_frac = float(section.get("hood_height_frac") or 0.0)
        self._pixels_ready = False   # the per-pixel work is done on first use (a reset that never renders skips it)
        self._room_maps = None  # type: Any

    def _ensure_pixels(self) -> None:
        if self._pixels_ready:
            return
        grid = self.model.pixel_grid()
        self._rays = self.model.rays(grid)
        ground = self.model.ground_points(grid, self._rays)
        far = ~np.isfinite(ground[:, 0]) | (np.hypot(ground[:, 0], ground[:, 1]) > MAX_RANGE_M)
        ground[far] = (FAR_M, 0.0)
        self._background_mask = far.reshape(self.height, self.width)
        seen = np.flatnonzero(~self._background_mask.all(axis=1))
        self._floor_row0 = int(seen[0]) if len(seen) else self.height   # rows above see no floor at all
        self._ground = np.ascontiguousarray(ground.reshape(self.height, self.width, 2), dtype=np.float32)
        self._row_step_m = self._row_steps(np.where(far[:, None], np.nan, ground).reshape(self.height, self.width, 2))
        self._bands = {}  # type: Dict[float, Sequence[Tuple[int, int, int]]]
        self._hood_runs = self._hood_runs_for(self._hood_frac)
        self._pixels_ready = True

    def set_scene(self, room: Any = None, sensor: Optional[SensorLook] = None, body: Any = None) -> None:
        """Set this episode's surroundings: a :class:`jetracer.sim.room.Room` (None: a flat backdrop), the
        camera module's :class:`SensorLook` (None: per-frame random looks when ``render`` gets an rng), and
        a :class:`jetracer.sim.body.CarBody` whose wheels may be in view (None: none)."""
        self.room = room
        self.sensor = sensor
        self.body = body
        self._room_maps = None

    def _maps_for_room(self) -> Any:
        """Per-pixel panorama coordinates (car-relative azimuth; the yaw is added per frame) for the
        rows that can see the room, and mirrored-elevation coordinates for the floor rows: (columns,
        rows) pairs of float32 maps, apart so a frame shifts the columns without copying the rows."""
        import cv2
        self._ensure_pixels()
        room = self.room
        if self._room_maps is not None and self._room_maps[0] is room:
            return self._room_maps
        rays = self._rays
        az = np.arctan2(rays[:, 1], rays[:, 0])
        el = np.arcsin(np.clip(rays[:, 2], -1.0, 1.0))
        col = room.col_of(az).reshape(self.height, self.width)
        row = room.row_of(el).reshape(self.height, self.width)
        sees = (el > np.radians(room.el_bottom_deg)).reshape(self.height, self.width).any(axis=1)
        end = int(np.flatnonzero(sees)[-1]) + 1 if sees.any() else 0
        pad = 2   # transparent rows below the panorama: pixels lower than its bottom see only floor
        maps = (col[:end].astype(np.float32), np.clip(row, -0.5, room.rows + pad - 1.0)[:end].astype(np.float32))
        ext = np.concatenate([room.bgra, room.bgra, room.bgra[:, :1]], axis=1)
        ext = np.concatenate([ext, np.zeros((pad, ext.shape[1], 4), np.uint8)], axis=0)
        refl = None
        if room.reflection is not None:
            r0 = self._floor_row0
            mirrored = room.row_of(-el).reshape(self.height, self.width)
            mirrored = np.where(el.reshape(self.height, self.width) < 0, mirrored, room.rows + 0.5)[r0:]
            rmaps = (col[r0:].astype(np.float32), np.clip(mirrored, -0.5, room.rows + pad - 1.0).astype(np.float32))
            rext = np.concatenate([room.reflection, room.reflection, room.reflection[:, :1]], axis=1)
            rext = np.concatenate([rext, np.zeros((pad, rext.shape[1], 3), np.uint8)], axis=0)
            refl = (rmaps, rext)
        self._room_maps = (room, end, maps, ext, refl)
        return self._room_maps

    @staticmethod
    def _row_steps(ground: np.ndarray) -> np.ndarray:
        """Per image row, the median ground distance (m) between neighbouring pixels (inf: no ground)."""
        du = np.hypot(*np.moveaxis(np.diff(ground, axis=1), -1, 0))
        dv = np.hypot(*np.moveaxis(np.diff(ground, axis=0), -1, 0))
        dv = np.concatenate([dv, dv[-1:]], axis=0)
        both = np.concatenate([du, dv], axis=1)
        steps = np.full(len(both), np.inf)
        seen = np.isfinite(both).any(axis=1)
        if seen.any():
            steps[seen] = np.nanmedian(np.where(np.isfinite(both[seen]), both[seen], np.nan), axis=1)
        return steps

    def _bands_for(self, m_per_px: float) -> Sequence[Tuple[int, int, int]]:
        """(first row, end row, mip level) bands: each row samples the level whose texels are about as
        large as the ground its pixels cover, so far ground is averaged instead of aliased."""
        if m_per_px not in self._bands:
            with np.errstate(divide="ignore"):
                level = np.floor(np.log2(np.maximum(self._row_step_m / m_per_px, 1.0)))
            level = np.clip(np.nan_to_num(level, nan=MAX_MIP_LEVEL, posinf=MAX_MIP_LEVEL), 0, MAX_MIP_LEVEL).astype(int)
            bands = []
            start = min(self._floor_row0, self.height - 1)
            for row in range(start + 1, self.height + 1):
                if row == self.height or level[row] != level[start]:
                    bands.append((start, row, int(level[start])))
                    start = row
            self._bands[m_per_px] = bands
        return self._bands[m_per_px]

    def _mips(self, texture: np.ndarray) -> Sequence[np.ndarray]:
        """The texture and its ``cv2.pyrDown`` halvings, built once per texture object."""
        import cv2
        if self._mip_source is not texture:
            mips = [texture]
            for _ in range(MAX_MIP_LEVEL):
                if min(mips[-1].shape[:2]) < 4:
                    break
                mips.append(cv2.pyrDown(mips[-1]))
            self._mip_source, self._mip_levels = texture, mips
            self._floor_fill = tuple(int(c) for c in mips[-1].reshape(-1, mips[-1].shape[-1]).mean(axis=0)[:3])
        return self._mip_levels

    def _hood_runs_for(self, frac: float) -> Sequence[Tuple[int, int, int]]:
        """(row, first col, end col) runs of the hood: the lower half of an ellipse on the bottom edge."""
        runs = []
        b = frac * self.height
        a = 0.75 * self.width
        for row in range(int(math.floor(self.height - b)), self.height):
            dy = self.height - (row + 0.5)
            if b <= 0 or dy > b:
                continue
            half = a * math.sqrt(1.0 - (dy / b) ** 2)
            lo = max(0, int(round(self.width / 2.0 - half)))
            hi = min(self.width, int(round(self.width / 2.0 + half)))
            if hi > lo:
                runs.append((row, lo, hi))
        return runs

    @staticmethod
    def texture_matrix(track: Any, pose: Sequence[float]) -> np.ndarray:
        """2x3 affine map from car-frame ground (x forward, y left; metres) to texture (col, row)."""
        x, y, yaw = float(pose[0]), float(pose[1]), float(pose[2])
        c, s, m = math.cos(yaw), math.sin(yaw), float(track.m_per_px)
        ox, oy = track.origin_xy
        return np.array([[c / m, -s / m, (x - ox) / m - 0.5],
                         [-s / m, -c / m, (oy - y) / m - 0.5]])

    def render(self, track: Any, pose: Sequence[float], rng: Optional[np.random.Generator] = None,
               steer_rad: float = 0.0, draw_after_floor: Optional[Callable[[np.ndarray, CameraModel], Any]] = None
               ) -> np.ndarray:
        """The (H, W, 3) uint8 BGR frame seen from ``pose`` = (x, y, yaw) (rear-axle centre, metres, radians).

        ``rng`` None gives a clean frame (a pure function of track, pose and scene, no camera effects); a
        numpy Generator draws the frame's camera effects (reproducible per seed): the episode's
        :class:`SensorLook` if one is set, else a whole random look. ``steer_rad`` turns the front wheels
        when they are in view. ``draw_after_floor(frame, camera_model)`` (optional) paints things standing on
        the floor (obstacles) after floor and room, before the car's own wheels and the camera module's look.
        """
        import cv2
        self._ensure_pixels()
        look = self.photometric.sample(rng, self.sensor) if rng is not None else None
        background = look.background_bgr if look is not None else self.background_bgr
        matrix = self.texture_matrix(track, pose)
        mips = self._mips(track.texture)
        border = self._floor_fill if self.room is not None else background
        frame = np.empty((self.height, self.width, 3), np.uint8)
        r_floor = self._floor_row0
        for r0, r1, level in self._bands_for(float(track.m_per_px)):
            level = min(level, len(mips) - 1)
            # texel centres of level L: col_L = (col_0 + 0.5) / 2^L - 0.5
            m = matrix / float(1 << level)
            m[:, 2] += 0.5 / float(1 << level) - 0.5
            maps = cv2.transform(self._ground[r0:r1], m)
            # fixed-point maps: converting them and remapping is ~15% faster than remapping float maps
            map1, map2 = cv2.convertMaps(maps, None, cv2.CV_16SC2)
            cv2.remap(mips[level], map1, map2, cv2.INTER_LINEAR, dst=frame[r0:r1],
                      borderMode=cv2.BORDER_CONSTANT, borderValue=border)
        if self.room is None:
            frame[:r_floor] = background
            if r_floor < self.height:
                frame[r_floor:][self._background_mask[r_floor:]] = background
        else:
            self._draw_room(frame, float(pose[2]))
        if draw_after_floor is not None:
            draw_after_floor(frame, self.model)
        if self.body is not None:
            self.body.draw(frame, self.model, steer_rad)
        if self._hood_runs:
            hood = look.hood_bgr if look is not None else self.hood_bgr
            for row, lo, hi in self._hood_runs:
                frame[row, lo:hi] = hood
        if look is not None:
            frame = self.photometric.apply(frame, look)
        return frame

    def _draw_room(self, frame: np.ndarray, yaw: float) -> None:
        """Blend the room's panorama over the floor (and add the floor's mirror image of its lights)."""
        import cv2
        room, end, maps, ext, refl = self._maps_for_room()
        shift = np.float32((yaw % (2.0 * math.pi)) / (2.0 * math.pi) * room.cols)
        r_floor = self._floor_row0
        if refl is not None and r_floor < self.height:
            (rcols, rrows), rext = refl
            map1, map2 = cv2.convertMaps(rcols + shift, rrows, cv2.CV_16SC2)
            glare = cv2.remap(rext, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            cv2.add(frame[r_floor:], glare, dst=frame[r_floor:])
        if end == 0:
            return
        map1, map2 = cv2.convertMaps(maps[0] + shift, maps[1], cv2.CV_16SC2)
        pano = cv2.remap(ext, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        top = min(r_floor, end)
        if top:
            frame[:top] = cv2.cvtColor(pano[:top], cv2.COLOR_BGRA2BGR)
        if end > top:   # premultiplied alpha: floor * (1 - a) + room
            below = pano[top:end]
            keep = cv2.cvtColor(cv2.bitwise_not(below[:, :, 3]), cv2.COLOR_GRAY2BGR)
            floor = cv2.multiply(frame[top:end], keep, scale=1.0 / 255.0)
            cv2.add(floor, cv2.cvtColor(below, cv2.COLOR_BGRA2BGR), dst=frame[top:end])

    def project(self, points_xy: Any, pose: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
        """World ground points (N, 2) -> pixels (N, 2) float (pixel centres at +0.5) and a bool mask of
        points in front of the camera and inside the image. Points the lens cannot see get NaN."""
        pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        c, s = math.cos(pose[2]), math.sin(pose[2])
        dx, dy = pts[:, 0] - pose[0], pts[:, 1] - pose[1]
        car = np.stack([c * dx + s * dy, -s * dx + c * dy, np.zeros(len(pts))], axis=1)
        return self.model.project(car)
