"""The simulator: tracks, car dynamics, camera renderer, expert driver, labels, lockstep world.

Desktop only (numpy + OpenCV). Start with :class:`jetracer.sim.world.SimWorld`; modules are imported
lazily so ``import jetracer.sim`` stays cheap.
"""
