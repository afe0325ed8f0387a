"""jetracer's stand-in for NVIDIA's jetcam (not installed here): cameras that follow the configured source.

See :mod:`jetracer.compat`. The real jetcam, once installed, is imported instead of this.
"""
JETRACER_FALLBACK = True
