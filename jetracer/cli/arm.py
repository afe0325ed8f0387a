"""``jetracer arm``: let the running drive service move the car (it starts, and restarts, disarmed)."""
import argparse
import json
from typing import Any, Dict

from .errors import CommandFailed


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("arm", help="arm the running drive service (the throttle may move the car)",
                              description="Tell the running `jetracer drive` (service or terminal) that a person is "
                                          "watching and the car may drive. It answers through the control socket "
                                          "in its runtime directory; only its user or root may use it.")
    p.add_argument("--status", action="store_true", help="only show the drive process's state (armed, tripped, why the "
                                                         "throttle is held, the obstacle stop's reading) as JSON")
    p.add_argument("--socket", help="control socket path (default: found in the runtime directory)")
    p.set_defaults(func=run, command="arm")
    return p


def run(args: argparse.Namespace) -> int:
    from ..driving.supervisor_link import control

    command = "status" if getattr(args, "status", False) else args.command
    answer = control(command, path=args.socket)
    if command == "status":
        print(json.dumps(with_stop(answer), sort_keys=True))
        return 0
    if not answer.get("ok"):
        raise CommandFailed(answer.get("message", "refused"))
    print(answer.get("message") or command + "ed")
    return 0


def with_stop(answer: Dict[str, Any]) -> Dict[str, Any]:
    """The supervisor's answer with why the throttle is held (``stop_reason``: a failsafe's, the obstacle stop's
    "obstacle ahead: p=0.93") and the obstacle stop's reading (``obstacle``) on top, from the drive's state."""
    state = answer.get("state") if isinstance(answer.get("state"), dict) else {}
    out = dict(answer)
    if "stop_reason" in state:
        out["stop_reason"] = state["stop_reason"]
    if isinstance(state.get("obstacle"), dict):
        out["obstacle"] = state["obstacle"]
    return out
