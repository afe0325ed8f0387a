"""The road-following dataset format, the upstream layout: ``<dataset>/<category>/<u>_<v>_<uuid>.jpg``.

``u``, ``v`` are integer pixel coordinates of the target point in that image (u right, v down), so
existing JetRacer/JetBot datasets load unchanged: JetBot's road_following names its files
``xy_<u>_<v>_<uuid>.jpg`` (``xy_%03d_%03d_%s.jpg``), read the same way, and keeps them in one flat
folder (``dataset_xy``), read as the single category ``apex``. The normalised label is
``x = (u - w/2)/(w/2)``, ``y = (v - h/2)/(h/2)`` with the image's own size.

Obstacle labels: upstream JetBot's collision layout, ``<dataset>/blocked/*.jpg`` and ``<dataset>/free/*.jpg``
(any file name; read with ``scan_dataset(..., obstacles=True)``, written by :class:`ObstacleWriter`), and in a
road dataset's index an optional ``"blocked": true/false, "distance_m": metres or null`` per frame
(``DatasetWriter.save(..., blocked=..., distance_m=...)``). An :class:`Entry` has the labels it has: a frame
trains the outputs it has labels for.

Optional metadata: ``<dataset>/<category>/index.jsonl``, one JSON object per image
(``file``, ``session``, ``width``, ``height``, ``source``, ``time``...), appended by
``DatasetWriter`` and by the simulator. Images without an index line get their size from the JPEG
header and a session guessed from file modification times (a new session after a 5 minute gap).

Nothing here deletes or rewrites an image. Every entry of a dataset folder that is not used is
reported in ``DatasetIndex.problems`` (path, reason) and skipped: a truncated JPEG or one corrupt in
the middle (the whole file is decoded strictly, with libjpeg-turbo's warnings as errors when
``simplejpeg`` is installed, else by Pillow; a file whose index line holds a ``crc32`` is checked
against it instead), a badly named file, a label outside the image, a folder, FIFO, device file or
dangling symlink, an unreadable or hidden file, an image over :data:`MAX_IMAGE_BYTES` or whose JPEG header
declares more than :data:`MAX_IMAGE_SIDE` pixels a side (checked before anything is decoded). An index that
is not a regular file (a FIFO, ``/dev/zero``) or is over :data:`MAX_INDEX_BYTES` is reported and not read (its
images are read without it), as is an index line over :data:`MAX_INDEX_LINE_BYTES`. Labels are checked against the image as displayed:
a JPEG with an EXIF orientation is loaded upright (as ``PIL.ImageOps.exif_transpose`` turns it) and
its (u, v) are pixels of that upright image. Any file name works: names that are not UTF-8 are kept
as ``os.fsdecode`` gives them, files are read from bytes (never by passing the name to OpenCV) and
messages show such names with ``\\xNN`` escapes (:func:`shown_path`).
This package imports neither torch nor OpenCV (OpenCV loads when a frame is decoded or written); the torch
``RoadDataset`` is :mod:`jetracer.learning.road_dataset`. The parts: the name format (:mod:`.names`), JPEG
checks and decoding (:mod:`.jpeg`), scanning and summaries (:mod:`.scan`), writing and repair (:mod:`.writer`).
"""
from .jpeg import MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, check_jpeg_size, iter_frames, jpeg_size, load_frame
from .names import BLOCKED, DEFAULT_CATEGORY, FREE, INDEX_NAME, OBSTACLE_FOLDERS, Entry, obstacle_fields, parse_name, shown_path
from .scan import MAX_INDEX_BYTES, MAX_INDEX_LINE_BYTES, DatasetIndex, Problem, scan_dataset, summarize
from .writer import DatasetWriter, ObstacleWriter, new_session_id, repair_index

__all__ = ["BLOCKED", "DEFAULT_CATEGORY", "FREE", "OBSTACLE_FOLDERS", "ObstacleWriter", "obstacle_fields", "INDEX_NAME", "MAX_IMAGE_BYTES", "MAX_IMAGE_SIDE", "MAX_INDEX_BYTES",
           "MAX_INDEX_LINE_BYTES", "DatasetIndex", "DatasetWriter", "Entry", "Problem", "check_jpeg_size",
           "iter_frames", "jpeg_size", "load_frame", "new_session_id", "parse_name", "repair_index", "scan_dataset",
           "shown_path", "summarize"]
