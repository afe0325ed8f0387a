"""Run the real ``jetracer`` CLI in a subprocess and check the one-line error contract."""
import os
import subprocess
import sys


def cli_env(tmp_path, config_text="", **extra):
    """Emulated chips, a private runtime directory and state file, and a user config file with ``config_text``
    (None: JETRACER_CONFIG is not set; the default path under an empty XDG_CONFIG_HOME is used)."""
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_STATE=str(tmp_path / "state.json"),
               JETRACER_RUNTIME_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), OMP_NUM_THREADS="1")
    for key in ("JETRACER_PROFILE", "JETRACER_CAMERA", "JETRACER_CONFIG", "JETRACER_EMULATED_BUS", "INVOCATION_ID",
                "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(key, None)
    if config_text is not None:
        path = tmp_path / "config.yaml"
        if not path.exists():
            path.write_text(config_text)
        env["JETRACER_CONFIG"] = str(path)
    env.update(extra)
    return env


def jetracer(args, env, timeout_s=120, cwd=None):
    return subprocess.run([sys.executable, "-m", "jetracer"] + list(args), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout_s, cwd=cwd)


def one_line_error(proc, code, *needles):
    """Assert exit ``code`` and exactly one stderr line, no traceback, holding every needle; return the line."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
