"""Road following: dataset, preprocessing, model, training, checkpoints (and, from others, optimize/pilot/bench).

Importing this package imports neither torch nor OpenCV; each module imports them where needed.
"""
