"""A training progress widget: pass it as ``train(..., callback=progress)``.

Shows a progress bar over epochs, the last epoch's losses and pixel errors, and the loss curves
(drawn by :func:`jetracer.learning.train.plot_losses`, the same PNG the trainer writes).
"""
import os
import tempfile
from typing import Any, Dict, List


class TrainingProgress(object):
    """``widget`` to display; call with each epoch's history record (what ``train``'s callback gets).

    Returns False, so training goes on; set ``stop_requested`` (the Stop button does) to end it
    after the current epoch, keeping the best checkpoint.
    """

    def __init__(self, epochs: int) -> None:
        import ipywidgets

        self.records = []  # type: List[Dict[str, Any]]
        self.stop_requested = False
        self.bar = ipywidgets.IntProgress(min=0, max=int(epochs), value=0, description="epoch 0/%d" % epochs,
                                          style={"description_width": "initial"})
        self.text = ipywidgets.HTML()
        self.plot = ipywidgets.Image(format="png")
        self.stop_button = ipywidgets.Button(description="stop after this epoch", icon="stop")
        self.stop_button.on_click(lambda _: setattr(self, "stop_requested", True))
        self.widget = ipywidgets.VBox([ipywidgets.HBox([self.bar, self.stop_button]), self.text, self.plot])

    def __call__(self, record: Dict[str, Any]) -> bool:
        from ..learning.train import plot_losses

        self.records.append(record)
        self.bar.value = int(record["epoch"])
        self.bar.description = "epoch %d/%d" % (record["epoch"], self.bar.max)
        val = record.get("val", {})
        self.text.value = ("train loss %.5f &nbsp; validation loss %.5f &nbsp; validation |du| %.1f px, |dv| %.1f px"
                           " &nbsp; %.0f images/s%s" % (
                               record.get("train_loss") or float("nan"), val.get("loss", float("nan")),
                               val.get("mean_abs_du_px", float("nan")), val.get("mean_abs_dv_px", float("nan")),
                               record.get("images_per_s", 0.0), " &nbsp; <b>best so far</b>" if record.get("best") else ""))
        fd, path = tempfile.mkstemp(suffix=".png")
        os.close(fd)
        try:
            plot_losses(self.records, path)
            with open(path, "rb") as f:
                self.plot.value = f.read()
        finally:
            os.unlink(path)
        return self.stop_requested
