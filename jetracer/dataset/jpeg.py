"""JPEG checks and decoding: size from the frame header, a strict decode for damage, upright BGR frames.

Every image is read by Python through :func:`jetracer.bounded_file.read_regular` (bounded, never a FIFO or
device) and its header's sides are checked before anything is decoded.
"""
import io
import zlib
from typing import Any, Iterable, Optional, Tuple

import numpy as np

from ..bounded_file import MIB, FileLimitError, read_regular
from .names import INDEX_NAME, Entry

MAX_IMAGE_BYTES = 50 * MIB          # a 224x224 frame is ~15 KB, a 12 MP photo ~5 MB
MAX_IMAGE_SIDE = 8192               # pixels, from the JPEG header before decoding (8192x8192 decodes to 200 MB)

_UPRIGHT_SWAPS = (5, 6, 7, 8)  # EXIF orientations that turn the stored image by 90 degrees


def _decoder() -> Any:
    try:
        import simplejpeg
        return simplejpeg
    except ImportError:
        return None


def _strict_decode(data: bytes) -> None:
    """Decode the whole JPEG (at 1/8 scale: every byte of the entropy-coded data is still read) and raise
    ValueError on any libjpeg warning: data overwritten or missing in the middle of the file."""
    simplejpeg = _decoder()
    if simplejpeg is not None:
        try:
            simplejpeg.decode_jpeg(data, colorspace="GRAY", fastdct=True, min_height=1, min_width=1, strict=True)
        except ValueError as e:
            raise ValueError("corrupt JPEG data (%s): the file was damaged after it was written" % e)
        return
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("L", (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
            img.load()
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError... for broken data
        raise ValueError("corrupt JPEG data (%s): the file was damaged after it was written" % e)


def _read_image(path: str) -> bytes:
    """The bytes of the image file ``path``; ValueError saying why not (not a regular file, over
    :data:`MAX_IMAGE_BYTES`: refused before reading, a sparse 3 GiB "JPEG" included; unreadable)."""
    try:
        return read_regular(path, "image file", MAX_IMAGE_BYTES)
    except FileLimitError as e:
        raise ValueError("the image file %s" % e.reason)
    except (IOError, OSError) as e:
        raise ValueError("cannot read the file (%s)" % (e.strerror or e))


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start of frame (not DHT, JPG, DAC)


def jpeg_size(data: bytes) -> Tuple[int, int]:
    """(width, height) as stored, from the JPEG's frame header (SOF marker), without decoding anything;
    ValueError when there is none before the image data."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("damaged JPEG header (no marker at byte %d)" % at)
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header came
            break
        if marker in _SOF_MARKERS:
            if at + 9 > len(data):
                break
            return (data[at + 7] << 8) | data[at + 8], (data[at + 5] << 8) | data[at + 6]
        at += 2 + ((data[at + 2] << 8) | data[at + 3])
    raise ValueError("damaged JPEG header (no frame header before the image data)")


def check_jpeg_size(data: bytes) -> Tuple[int, int]:
    """:func:`jpeg_size`, refused (ValueError naming the limit) when a side is 0 or over :data:`MAX_IMAGE_SIDE`:
    a header of a few bytes may declare an image that decodes to gigabytes."""
    width, height = jpeg_size(data)
    if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
        raise ValueError("the JPEG header declares %dx%d pixels, over the %d pixels a side limit; not decoded"
                         % (width, height, MAX_IMAGE_SIDE))
    return width, height


def check_jpeg(path: str, record: Optional[dict] = None) -> Tuple[int, int, int]:
    """(width, height, EXIF orientation) of the upright image, after checking the file is a complete,
    undamaged JPEG: its ``crc32`` from the index line when there is one, else a strict decode.

    A crash while writing leaves a file without the end-of-image marker, and bytes damaged in the middle
    decode silently into grey or garbage, so neither is trusted to the decoder at training time.
    """
    from PIL import Image
    data = _read_image(path)
    if not data:
        raise ValueError("empty file (0 bytes)")
    if data[:3] != b"\xff\xd8\xff":
        raise ValueError("not a JPEG file (no JPEG start marker)")
    if b"\xff\xd9" not in data[-64:]:
        raise ValueError("truncated JPEG (no end-of-image marker): was the writer interrupted?")
    check_jpeg_size(data)
    crc = record.get("crc32") if record is not None else None
    if isinstance(crc, int):
        if zlib.crc32(data) & 0xffffffff != crc:
            raise ValueError("the file's content differs from what was written (crc32 in %s): damaged on disk"
                             % INDEX_NAME)
    else:
        _strict_decode(data)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = int(img.size[0]), int(img.size[1])
            orientation = int(img.getexif().get(0x0112, 1) or 1)
    except Exception as e:  # PIL raises many types for broken headers
        raise ValueError("undecodable JPEG header: %s" % e)
    if orientation not in range(1, 9):
        orientation = 1
    if orientation in _UPRIGHT_SWAPS:
        width, height = height, width
    return width, height, orientation


def load_frame(path: str, orientation: int = 1) -> Optional[np.ndarray]:
    """The image at ``path`` as an upright BGR array, or None when it cannot be decoded (or is not a regular
    file, is over :data:`MAX_IMAGE_BYTES`, or its JPEG header declares over :data:`MAX_IMAGE_SIDE` pixels a side).

    The file is read by Python (so any file name works) and decoded from memory; a JPEG with an EXIF
    ``orientation`` other than 1 is turned upright by ``PIL.ImageOps.exif_transpose``.
    """
    import cv2
    try:
        data = _read_image(path)
        if data[:2] == b"\xff\xd8":
            check_jpeg_size(data)
    except ValueError:
        return None
    if orientation != 1:
        from PIL import Image, ImageOps
        try:
            with Image.open(io.BytesIO(data)) as img:
                rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        except Exception:
            return None
        return np.ascontiguousarray(rgb[:, :, ::-1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)


def iter_frames(entries: Iterable[Entry]) -> Iterable[Tuple[Entry, np.ndarray]]:
    """Decode each entry's image (BGR), skipping ones that fail: for calibration and previews."""
    for e in entries:
        frame = load_frame(e.path, e.orientation)
        if frame is not None:
            yield e, frame
