"""The click-to-label widget of data_collection.ipynb, fed the click messages a browser sends through ipyevents.

The browser test clicks for real; this one replays the message a real click sent while the live image was
decoding its next frame (the ``<img>``'s natural size then reads 0, so ipyevents' ``dataX``/``dataY`` say
(0, 0)), which once saved a frame labelled ``0_0``.
"""
import os

import numpy as np

from jetracer.dataset import scan_dataset


def _browser_click(label, **event):
    label.event._handle_msg({"content": {"data": {"method": "custom", "content": dict(event, type="click")}},
                             "buffers": []})


def _labels(root):
    return sorted((e.u, e.v) for e in scan_dataset(str(root)).entries)


def test_a_click_during_a_frame_decode_saves_the_pixel_under_the_pointer(tmp_path):
    from jetracer.notebook.click_label import ClickToLabel
    label = ClickToLabel(str(tmp_path), categories=["apex"], width_px=448)
    frame = np.full((224, 224, 3), 90, np.uint8)
    label.view.show(frame)
    # as sent by Chromium + ipyevents for a click at CSS (313.6, 156.8) of the 448x448 image, natural size read 0
    _browser_click(label, dataX=0, dataY=0, relativeX=313, relativeY=156, boundingRectWidth=448,
                   boundingRectHeight=448)
    # the same click once the frame had decoded
    _browser_click(label, dataX=157, dataY=78, relativeX=313, relativeY=156, boundingRectWidth=448,
                   boundingRectHeight=448)
    assert _labels(tmp_path) == [(157, 78), (157, 78)]
    assert all(os.path.basename(p).startswith("157_78_") for p in label.saved)


def test_a_click_without_the_css_position_falls_back_to_the_image_pixel(tmp_path):
    from jetracer.notebook.click_label import ClickToLabel
    label = ClickToLabel(str(tmp_path), categories=["apex"])
    label.view.show(np.full((224, 224, 3), 90, np.uint8))
    _browser_click(label, dataX=30, dataY=200)
    _browser_click(label, relativeX=500, relativeY=-3, boundingRectWidth=224, boundingRectHeight=224)  # clamped
    assert _labels(tmp_path) == [(30, 200), (223, 0)]
