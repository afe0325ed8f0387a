"""Helpers to run ``jetracer drive`` as the service runs it and watch its chips from the test process.

The drive process and the test share one emulated bus file (``JETRACER_EMULATED_BUS``), so the test
reads the PCA9685 pulses the drive process itself wrote. Cameras are recordings (the ``replay``
source, or ``csi`` through the jetcam stand-in of ``tests/fakes``); the gamepad is python-evdev's
stand-in there, fed with lines the test appends. The model is a real ONNX file in jetracer's format.
"""
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes")
SIZE = 64


def road_frame(curve, size=SIZE):
    """A grey floor with a bright road from the bottom centre bending ``curve`` (-1 left .. +1 right) at the top."""
    frame = np.full((size, size, 3), 50, np.uint8)
    for v in range(size):
        ahead = 1.0 - v / float(size - 1)  # 0 at the bottom row, 1 at the top
        centre = size / 2.0 + curve * 0.4 * size * ahead ** 2
        half = 0.18 * size * (1.0 - 0.5 * ahead)
        frame[v, max(0, int(centre - half)):int(centre + half) + 1] = 210
    return frame


def write_frames(folder, curves):
    """``curves[i]``'s road as ``folder/000i.png``; returns the folder."""
    os.makedirs(str(folder), exist_ok=True)
    for i, curve in enumerate(curves):
        cv2.imwrite(os.path.join(str(folder), "%04d.png" % i), road_frame(curve))
    return str(folder)


def road_model(path, size=SIZE):
    """An ONNX pilot in jetracer's format whose x is where the frame's light is, left to right.

    x = sum_u w(u) * c(u) / sum_u c(u), with c(u) the mean level of column u above the floor's and
    w(u) = (u + 0.5 - W/2) / (W/2): a road bending left gives x < 0, right x > 0, a mirror flips it.
    """
    import onnx
    from onnx import TensorProto, helper

    weights = [(u + 0.5 - size / 2.0) / (size / 2.0) for u in range(size)]
    nodes = [
        helper.make_node("Cast", ["frame_bgr"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["f"], ["col"], axes=[0, 2], keepdims=0),
        helper.make_node("ReduceMin", ["col"], ["floor"], keepdims=1),
        helper.make_node("Sub", ["col", "floor"], ["c"]),
        helper.make_node("Mul", ["c", "w"], ["cw"]),
        helper.make_node("ReduceSum", ["cw"], ["num"], keepdims=1),
        helper.make_node("ReduceSum", ["c"], ["den0"], keepdims=1),
        helper.make_node("Add", ["den0", "eps"], ["den"]),
        helper.make_node("Div", ["num", "den"], ["x1"]),
        helper.make_node("Reshape", ["x1", "shape"], ["x"]),
        helper.make_node("Concat", ["x", "zero"], ["outputs"], axis=1),
    ]
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [size], weights),
             helper.make_tensor("eps", TensorProto.FLOAT, [1], [1e-3]),
             helper.make_tensor("shape", TensorProto.INT64, [2], [1, 1]),
             helper.make_tensor("zero", TensorProto.FLOAT, [1, 1], [0.0])]
    graph = helper.make_graph(nodes, "road", [helper.make_tensor_value_info("frame_bgr", TensorProto.UINT8,
                                                                            [size, size, 3])],
                              [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, [1, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (("format", "jetracer.onnx"), ("input_size", [size, size]), ("categories", ["apex"]),
                       ("num_outputs", 2), ("arch", "road-centroid")):
        entry = model.metadata_props.add()
        entry.key, entry.value = "jetracer." + key, json.dumps(value)
    onnx.save(model, str(path))
    return str(path)


GAMEPAD = {"name": "Fake Wireless Gamepad F710", "keys": ["BTN_SOUTH", "BTN_EAST", "BTN_NORTH", "BTN_WEST", "BTN_TL",
                                                          "BTN_TR", "BTN_SELECT", "BTN_START", "BTN_MODE"],
           "abs": [["ABS_X", -32768, 32767], ["ABS_Y", -32768, 32767], ["ABS_RX", -32768, 32767],
                   ["ABS_RY", -32768, 32767], ["ABS_HAT0X", -1, 1], ["ABS_HAT0Y", -1, 1]]}


class Gamepad(object):
    """A scripted evdev gamepad in ``folder`` (``event7`` + ``event7.json``, as tests/fakes/evdev reads them)."""

    def __init__(self, folder):
        os.makedirs(str(folder), exist_ok=True)
        self.folder = str(folder)
        self.path = os.path.join(self.folder, "event7")
        with open(self.path + ".json", "w") as f:
            json.dump(GAMEPAD, f)
        open(self.path, "w").close()

    def send(self, *lines):
        with open(self.path, "a") as f:
            for line in lines:
                f.write(line + "\n")

    def press(self, button):
        self.send("EV_KEY %s 1" % button, "EV_KEY %s 0" % button)


def drive_env(tmp_path, config, **extra):
    """The environment of a drive process: emulated chips in ``tmp_path/bus.bin``, a private runtime
    directory, the user config ``config`` (a dict, written as YAML), the fakes on ``PYTHONPATH``."""
    import yaml

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(tmp_path / "config.yaml"),
               JETRACER_STATE=str(tmp_path / "state.json"), JETRACER_RUNTIME_DIR=str(tmp_path),
               JETRACER_EMULATED_BUS=str(tmp_path / "bus.bin"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               OMP_NUM_THREADS="1", FAKE_EVDEV_DIR=str(tmp_path / "input"),
               PYTHONPATH=os.pathsep.join([FAKES] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    for key in ("JETRACER_PROFILE", "JETRACER_CAMERA", "INVOCATION_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(key, None)
    env.update(extra)
    return env


def start_drive(env, *args):
    return subprocess.Popen([sys.executable, "-m", "jetracer", "drive", "--json"] + list(args), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


def stop_drive(proc, timeout_s=30):
    """SIGTERM the drive process; return (exit code, its JSON report or None, stderr)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=timeout_s)
    lines = out.strip().splitlines()
    return proc.returncode, (json.loads(lines[-1]) if lines else None), err


class Wire(object):
    """The steering and throttle pulses (us) the drive process put on the shared emulated PCA9685s."""

    def __init__(self, bus_path, profile):
        from jetracer.hardware.emulated import jetracer_chips
        from jetracer.hardware.emulated.shared_file import SharedFileBus

        self.bus = SharedFileBus(str(bus_path), default_chips=jetracer_chips)  # powered-on chips, as the drive opens it
        self.profile = profile
        self.samples = []  # (monotonic s, steering us, throttle us)

    def pulses(self):
        s, t = self.profile.steering, self.profile.throttle
        with self.bus._lock:
            sample = (time.monotonic(), self.bus.chip(s.i2c_address).pulse_us(s.channel),
                      self.bus.chip(t.i2c_address).pulse_us(t.channel))
        self.samples.append(sample)
        return sample[1:]

    def watch(self, until, timeout_s, proc=None, period_s=0.01):
        """Sample every ``period_s`` until ``until(steering_us, throttle_us)`` or ``timeout_s``; True if it came."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return False
            if os.path.exists(self.bus.path) and until(*self.pulses()):
                return True
            time.sleep(period_s)
        return False


def reference_pulses(profile_name, steering, throttle):
    """The pulses the real car code gives for ``steering``/``throttle`` on a private emulated bus (armed)."""
    from jetracer.car import create_car
    from jetracer.config import load_config
    from jetracer.hardware.emulated import reset_shared_bus

    old = os.environ.pop("JETRACER_EMULATED_BUS", None)
    try:
        bus = reset_shared_bus()
        car = create_car(load_config(os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": profile_name}))
        try:
            car.steering, car.throttle = steering, throttle
            s, t = car.profile.steering, car.profile.throttle
            return bus.chip(s.i2c_address).pulse_us(s.channel), bus.chip(t.i2c_address).pulse_us(t.channel)
        finally:
            car.close()
    finally:
        if old is not None:
            os.environ["JETRACER_EMULATED_BUS"] = old


def wait_for(condition, timeout_s, period_s=0.05):
    """True as soon as ``condition()`` is, False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(period_s)
    return bool(condition())


def read_state(tmp_path):
    try:
        with open(str(tmp_path / "state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
