"""Every test runs with a runtime directory of its own.

A test that sets no ``JETRACER_RUNTIME_DIR`` would publish its drive state, emulated bus files and sockets
in the real one (``/run/jetracer-root`` for root, ``/tmp/jetracer-UID`` for another user), where they
outlive the test and meet a real drive service on the same machine. Tests that set their own directory
keep it (their ``monkeypatch.setenv`` comes later); the tests of the defaults (``tests/test_runtime_dir.py``)
remove the variable themselves.
"""
import os

import pytest


@pytest.fixture(autouse=True)
def private_runtime_dir(monkeypatch, tmp_path_factory):
    """``JETRACER_RUNTIME_DIR``: a fresh private folder, unless the environment already names one."""
    if not os.environ.get("JETRACER_RUNTIME_DIR"):
        folder = tmp_path_factory.mktemp("runtime")
        folder.chmod(0o700)
        monkeypatch.setenv("JETRACER_RUNTIME_DIR", str(folder))
