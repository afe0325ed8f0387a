"""Replay a recording as a camera: a folder of images (sorted by name) or a video file."""
import os
from typing import Any, List, Optional

from .base import Camera, CameraError, EndOfStream, check_flip, flip_frame

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class ReplayCamera(Camera):
    """Frames of ``path`` in order, resized to ``width`` x ``height`` and flipped by ``flip``.

    ``fps`` paces the capture thread (None: the video's own rate, 30 for an image folder); ``read()``
    never waits. With ``loop`` the replay starts over at the end, without it ``read()`` raises
    ``EndOfStream`` (and a running capture thread stops). ``source`` names the file (folder) or frame
    number (video) behind the current ``value``.
    """

    def __init__(self, path: str, fps: Optional[float] = None, loop: bool = True, width: int = 224,
                 height: int = 224, flip: str = "none") -> None:
        import cv2
        self.path = path
        self.loop = bool(loop)
        self.flip = check_flip(flip)
        self.source = ""
        self._files = []  # type: List[str]
        self._index = 0
        self._cap = None  # type: Any
        native_fps = 30.0
        if os.path.isdir(path):
            self._files = sorted(os.path.join(path, f) for f in os.listdir(path)
                                 if f.lower().endswith(IMAGE_EXTENSIONS))
            if not self._files:
                raise CameraError("replay folder %s holds no images (%s)" % (path, ", ".join(IMAGE_EXTENSIONS)))
        elif os.path.isfile(path):
            self._cap = cv2.VideoCapture(path)
            if not self._cap.isOpened():
                raise CameraError("cannot open the video %s with OpenCV (is it a video file of a supported codec?)" % path)
            native_fps = self._cap.get(cv2.CAP_PROP_FPS) or 30.0
        else:
            raise CameraError("replay path %s does not exist: give a folder of images or a video file" % path)
        super(ReplayCamera, self).__init__(width=int(width), height=int(height),
                                           fps=float(fps) if fps else float(native_fps))

    def _next_raw(self) -> Any:
        import cv2
        if self._cap is None:
            if self._index >= len(self._files):
                if not self.loop:
                    raise EndOfStream("replay of %s ended after %d frames" % (self.path, len(self._files)))
                self._index = 0
            name = self._files[self._index]
            self._index += 1
            frame = cv2.imread(name, cv2.IMREAD_COLOR)
            if frame is None:
                raise CameraError("cannot read the image %s" % name)
            self.source = name
            return frame
        ok, frame = self._cap.read()
        if not ok:
            if not self.loop or self._index == 0:
                raise EndOfStream("replay of %s ended after %d frames" % (self.path, self._index))
            self._cap.release()
            self._cap = cv2.VideoCapture(self.path)
            self._index = 0
            ok, frame = self._cap.read()
            if not ok:
                raise CameraError("cannot reopen the video %s" % self.path)
        self.source = "%s#%d" % (self.path, self._index)
        self._index += 1
        return frame

    def _read(self) -> Any:
        import cv2
        frame = self._next_raw()
        if frame.shape[:2] != (self.height, self.width):
            frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return flip_frame(frame, self.flip)

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
