"""jetracer's stand-ins for ``jetcam`` and ``jupyter_clickable_image_widget``, imported under those names
only by the last-resort finder (see :mod:`jetracer.compat`); never put this folder on ``sys.path``."""
