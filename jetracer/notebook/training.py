"""Widgets of the training notebook: the starter-model field and a training progress display.

``StarterField`` is the "start from the starter model" choice: a path field and a line saying whether
training will start from that model, or why not (no file there, not a checkpoint). ``TrainingProgress``
is passed as ``train(..., callback=progress)``: a progress bar over epochs, the last epoch's losses and
pixel errors, and the loss curves (drawn by :func:`jetracer.learning.train.plot_losses`, the same PNG
the trainer writes).
"""
import os
import tempfile
from typing import Any, Dict, List, Optional, Tuple


def starter_choice(path: str) -> Tuple[Optional[str], str]:
    """``(model to start from or None, a sentence saying so or why not)`` for the path a user typed."""
    path = (path or "").strip()
    if not path:
        return None, "no starter model given: training starts from ImageNet weights (or random ones offline)"
    if not os.path.isfile(path):
        return None, ("no starter model at %s: training starts without one. Make one with `jetracer pretrain --out %s` "
                      "(12-21 minutes on a 2-core laptop) and run this cell again" % (path, path))
    from ..pilot.checkpoint import CheckpointError, load_checkpoint
    try:
        _, meta = load_checkpoint(path)
    except CheckpointError as e:
        return None, "cannot start from %s: %s" % (path, e)
    starter = (meta.get("info") or {}).get("starter") or {}
    trained_on = (" trained on %d simulator frames over %d tracks" % (starter["frames"], starter["tracks"])
                  if "frames" in starter and "tracks" in starter else "")
    return path, ("starting from %s: %s at %dx%d%s. Fine-tuning keeps its architecture and input size" % (
        path, meta["arch"], meta["input_size"][0], meta["input_size"][1], trained_on))


class StarterField(object):
    """A path field for the starter model and a status line; ``choice()`` -> ``(path or None, sentence)``."""

    def __init__(self, path: str = "") -> None:
        import ipywidgets

        self.text = ipywidgets.Text(value=path, description="starter model", placeholder="models/starter.pth",
                                    style={"description_width": "initial"},
                                    layout=ipywidgets.Layout(width="60%"))
        self.status = ipywidgets.HTML()
        self.text.observe(lambda _: self.choice(), names="value")
        self.widget = ipywidgets.VBox([self.text, self.status])
        self.choice()

    def choice(self) -> Tuple[Optional[str], str]:
        init, sentence = starter_choice(self.text.value)
        self.status.value = "<b>%s</b>" % sentence if init else sentence
        return init, sentence


class TrainingProgress(object):
    """``widget`` to display; call with each epoch's history record (what ``train``'s callback gets).

    Returns False, so training goes on; set ``stop_requested`` (the Stop button does) to end it
    after the current epoch, keeping the best checkpoint. The bar's length follows the record's
    ``epochs`` (training may choose more epochs for a tiny dataset).
    """

    def __init__(self, epochs: Optional[int] = None) -> None:
        import ipywidgets

        self.records = []  # type: List[Dict[str, Any]]
        self.stop_requested = False
        self.bar = ipywidgets.IntProgress(min=0, max=int(epochs or 1), value=0,
                                          description="epoch 0/%s" % (epochs or "?"),
                                          style={"description_width": "initial"})
        self.text = ipywidgets.HTML()
        self.plot = ipywidgets.Image(format="png")
        self.stop_button = ipywidgets.Button(description="stop after this epoch", icon="stop")
        self.stop_button.on_click(lambda _: setattr(self, "stop_requested", True))
        self.widget = ipywidgets.VBox([ipywidgets.HBox([self.bar, self.stop_button]), self.text, self.plot])

    def __call__(self, record: Dict[str, Any]) -> bool:
        from ..learning.train import plot_losses

        self.records.append(record)
        if record.get("epochs"):
            self.bar.max = int(record["epochs"])
        self.bar.value = int(record["epoch"])
        self.bar.description = "epoch %d/%d" % (record["epoch"], self.bar.max)
        val = record.get("val") or {}
        if val.get("images"):
            shown = ("validation loss %.5f &nbsp; validation |du| %.1f px, |dv| %.1f px" % (
                val.get("loss", float("nan")), val.get("mean_abs_du_px", float("nan")),
                val.get("mean_abs_dv_px", float("nan"))))
        else:
            shown = "no validation frames"
        self.text.value = "train loss %.5f &nbsp; %s &nbsp; %.0f images/s%s" % (
            record.get("train_loss") or float("nan"), shown, record.get("images_per_s", 0.0),
            " &nbsp; <b>best so far</b>" if record.get("best") else "")
        if len(self.records) > 60 and record["epoch"] % max(1, self.bar.max // 30) and record["epoch"] != self.bar.max:
            return self.stop_requested  # many short epochs: redraw the curves now and then
        fd, path = tempfile.mkstemp(suffix=".png")
        os.close(fd)
        try:
            plot_losses(self.records, path)
            with open(path, "rb") as f:
                self.plot.value = f.read()
        finally:
            os.unlink(path)
        return self.stop_requested
