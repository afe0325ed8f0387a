"""The workshop: train, split, augment, evaluate, optimize, parity and export road-following models.

What the car loads and runs (the pilot, its backends, preprocessing, models, checkpoints) is
:mod:`jetracer.pilot`; the dataset format is :mod:`jetracer.dataset`. Training imports them, never the reverse.

Importing this package imports neither torch nor OpenCV; each module imports them where needed.
"""
