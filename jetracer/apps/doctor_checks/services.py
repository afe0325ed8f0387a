"""The systemd units (``jetracer-drive``, ``-display``, ``-jupyter``) and the drive's control socket."""
import json
from typing import List

from .base import Context, Finding
from .camera import systemd_running
from .probe import one_line, run_command

UNITS = ("jetracer-drive", "jetracer-display", "jetracer-jupyter")


def _state(unit: str, verb: str) -> str:
    result = run_command(["systemctl", verb, unit + ".service"], timeout_s=5.0)
    return result.out.strip().splitlines()[0] if result.out.strip() else (result.problem or result.text())


def check_services(context: Context) -> Finding:
    """``systemctl is-active`` / ``is-enabled`` of each unit, where systemd runs."""
    if not systemd_running():
        return Finding("services", "skipped", "systemd is not running here (a container or a desktop without it): "
                                              "no services to ask",
                       "nothing to do here; on the car: jetracer service install --user $USER")
    states = [(unit, _state(unit, "is-active"), _state(unit, "is-enabled")) for unit in UNITS]
    installed = [(u, a, e) for u, a, e in states if e not in ("not-found", "") and "No such file" not in e]
    if not installed:
        return Finding("services", "skipped", "the jetracer services are not installed (the car then drives only "
                                              "from a terminal or a notebook)",
                       "when the car is calibrated and drives: jetracer service install --user $USER")
    shown = ", ".join("%s %s (%s)" % (u, a, e) for u, a, e in states)
    failed = [u for u, a, _ in installed if a == "failed"]
    if failed:
        return Finding("services", "fail", shown + ": %s failed" % ", ".join(failed),
                       "see why: journalctl -u %s -n 50 --no-pager; then sudo systemctl restart %s"
                       % (failed[0], failed[0]))
    idle = [u for u, a, e in installed if e == "enabled" and a != "active"]
    if idle:
        return Finding("services", "warning", shown + ": %s enabled but not running" % ", ".join(idle),
                       "sudo systemctl start %s (journalctl -u %s says why it stopped)" % (idle[0], idle[0]))
    return Finding("services", "ok", shown)


def check_drive(context: Context) -> Finding:
    """The running drive's state through its control socket (what ``jetracer arm --status`` shows)."""
    from ...driving.supervisor_link import control
    from ...runtime import RuntimeDirError
    try:
        answer = control("status", timeout_s=2.0)
    except FileNotFoundError:
        return Finding("drive", "ok", "no drive process is running (no control socket in its runtime directory)")
    except RuntimeDirError as e:
        return Finding("drive", "fail", "a drive control socket is not to be trusted: %s" % one_line(e),
                       "remove the socket or folder it names, or stop the process of the other user")
    except OSError as e:
        return Finding("drive", "warning", "a drive control socket is there but %s" % one_line(e),
                       "a drive that died leaves it: start the drive again (sudo systemctl restart jetracer-drive, or "
                       "jetracer drive)")
    state = answer.get("state") or {}
    parts = ["armed" if answer.get("armed") else "disarmed"]
    if state.get("mode"):
        parts.append("mode %s" % state["mode"])
    if state.get("pid"):
        parts.append("pid %s" % state["pid"])
    problems = []  # type: List[str]
    if not answer.get("running", True):
        problems.append("its loop is not beating (starting, or hung)")
    if answer.get("tripped"):
        problems.append("tripped: %s" % answer.get("trip_reason"))
    finding = "a drive process answers: %s" % ", ".join(parts)
    if problems:
        return Finding("drive", "warning", "%s; %s" % (finding, "; ".join(problems)),
                       "jetracer arm --status shows its events (%s); journalctl -u jetracer-drive for the service"
                       % json.dumps(answer.get("events", [])[-1:])[:120])
    return Finding("drive", "ok", finding)
