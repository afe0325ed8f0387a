"""Where a training run writes, and the promise that no work is lost there.

``out`` is the checkpoint, written once when training finishes; ``<out>.prev`` keeps the checkpoint it
replaced; ``<out>.partial`` holds the resume state meanwhile; ``<out without extension>_loss.png`` is the
loss curve. :func:`check_output` refuses, before any data is read, an ``out`` that could not be written
or would lose work.
"""
import os

from ..atomic import check_output_file
from ..dataset import shown_path
from .train_options import TrainError

PARTIAL_SUFFIX = ".partial"  # <out>.partial: the resume state, rewritten after epochs (see train.STATE_EVERY_S)
PREVIOUS_SUFFIX = ".prev"    # <out>.prev: the checkpoint a finished run replaced


def partial_path(out: str) -> str:
    """``model.pth`` -> ``model.pth.partial``: the resume state of a run writing ``out``."""
    return out + PARTIAL_SUFFIX


def previous_path(out: str) -> str:
    """``model.pth`` -> ``model.pth.prev``: where a finished run keeps the checkpoint it replaced."""
    return out + PREVIOUS_SUFFIX


def loss_plot_path(out: str) -> str:
    """``model.pth`` -> ``model_loss.png`` (next to the checkpoint)."""
    return os.path.splitext(out)[0] + "_loss.png"


def epoch_path(folder: str, epoch: int) -> str:
    """``(runs/epochs, 3)`` -> ``runs/epochs/epoch_03.pth``: epoch 3's checkpoint of a run with ``epoch_dir``."""
    return os.path.join(folder, "epoch_%02d.pth" % epoch)


def check_output(out: str, overwrite: bool = True, resume: bool = False) -> None:
    """Refuse, before any data is read, an ``out`` that training could not write or would lose work at.

    TrainError for a folder, a folder that cannot be written, an existing ``out`` without ``overwrite``
    or ``resume``, a resume state of an interrupted run when not resuming (unless ``overwrite``), and
    ``resume`` without a resume state. Creates the folder of ``out`` when missing.
    """
    shown = shown_path(out)
    _check_writable(out)
    partial = partial_path(out)
    if resume:
        if not os.path.isfile(partial):
            raise TrainError("--resume: there is no resume state %s (a run with --out %s writes it after its first epoch); "
                             "train without --resume" % (shown_path(partial), shown))
        return
    if os.path.exists(out) and not overwrite:
        raise TrainError("--out %s exists; pass --force to replace it when training finishes (it is kept as %s)%s"
                         % (shown, shown_path(previous_path(out)),
                            ", or --resume to continue the interrupted run in %s" % shown_path(partial)
                            if os.path.isfile(partial) else ", or name another file"))
    if os.path.isfile(partial) and not overwrite:
        raise TrainError("%s holds an interrupted run for --out %s; pass --resume to continue it or --force to "
                         "start afresh" % (shown_path(partial), shown))


def _check_writable(out: str) -> None:
    """TrainError for ``out`` naming a folder, or in a folder this process cannot create or write in
    (:func:`jetracer.atomic.check_output_file`, the one check of every output file); makes the folder."""
    check_output_file(out, option="--out", what="checkpoint file", example="model.pth", make_folder=True,
                      error=TrainError)
    folder = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise TrainError("--out %s: cannot write in %s (%s); pick a folder you can write to"
                         % (shown_path(out), shown_path(folder), e.strerror or e))
