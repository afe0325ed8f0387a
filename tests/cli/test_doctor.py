"""``jetracer doctor``: each wiring fault, camera failure and wrong model file gives a line that names the problem
and its fix; ``--json`` is one object; the exit code says whether a check failed; tried as a new user on this
machine (no Jetson, nothing configured), every line is explained.

The wiring faults are the emulated bus's (``JETRACER_EMULATED_FAULTS``); cameras are the configured replay and
simulator cameras (a simulated world that breaks is a real ``SimWorld`` whose step raises or blocks); model files
are written as a user might have them (a photo renamed ``.pth``, an ONNX model of another tool, an engine of
another TensorRT); the installed TensorRT is the stand-in of ``tests/fakes``.
"""
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import cv2
import numpy as np
import pytest

from cli_run import cli_env, jetracer
from jetracer.apps.doctor import Check, Context, Finding, exit_code, load_context, run_check, run_checks
from jetracer.apps.doctor_checks import CHECKS
from jetracer.apps.doctor_checks.probe import run_command
from jetracer.apps.doctor_checks.versions import judge, l4t_release, torchvision_for
from jetracer.hardware.emulated import FAULTS_ENV, reset_shared_bus
from jetracer.hardware.emulated.shared_file import SharedFileBus

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes")
NAMES = ["config", "platform", "power_mode", "jetson_clocks", "software", "i2c", "kit", "oled", "nvargus", "camera",
         "model", "disk", "memory", "services", "drive", "gamepad"]


def only(*names):
    return [c for c in CHECKS if c.name in names]


def findings(context, *names):
    return dict((f.name, f) for f in run_checks(context, only(*names)))


@pytest.fixture
def user(monkeypatch, tmp_path):
    """A user on the emulated chips with a config file of their own; ``user(text)`` writes it and loads the context."""
    for key in ("JETRACER_PROFILE", "JETRACER_CAMERA", "JETRACER_EMULATED_BUS", FAULTS_ENV):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.setenv("JETRACER_RUNTIME_DIR", str(tmp_path))
    path = tmp_path / "config.yaml"
    monkeypatch.setenv("JETRACER_CONFIG", str(path))

    def make(text="", faults=None, power_on=True, **kwargs):
        path.write_text(text)
        if faults is not None:
            monkeypatch.setenv(FAULTS_ENV, faults)
        if power_on:
            reset_shared_bus()
        return load_context(**kwargs)
    return make


# -- wiring faults -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["absent:0x40", "error:0x40"])
def test_a_missing_servo_board_fails_naming_0x40_and_power_and_cable(user, fault):
    found = findings(user(faults=fault), "i2c", "kit")
    kit = found["kit"]
    assert kit.status == "fail"
    assert "no chip answers at 0x40 (steering/throttle), profile latrax's" in kit.finding and fault in kit.finding
    assert "power" in kit.fix and "cable" in kit.fix and "i2cdetect -y -r 1" in kit.fix
    assert found["i2c"].status == "ok" and "0x40" not in found["i2c"].finding.split("faults")[0]


def test_a_board_at_another_address_fails_suggesting_the_address_or_the_profile(user):
    kit = findings(user(faults="moved:0x40:0x41"), "i2c", "kit")["kit"]
    assert kit.status == "fail"
    assert "no chip answers at 0x40" in kit.finding and "a chip answers at 0x41 instead" in kit.finding
    assert "address jumpers" in kit.fix
    assert "profile_overrides: {steering: {i2c_address: 0x41}, throttle: {i2c_address: 0x41}}" in kit.fix


def test_a_motor_driver_at_0x60_with_the_latrax_profile_suggests_the_waveshare_ai_kit(user):
    kit = findings(user("profile: latrax\n"), "i2c", "kit")["kit"]
    assert kit.status == "warning"
    assert "0x60 answers too" in kit.finding and "Waveshare JetRacer AI kit" in kit.finding
    assert "`profile: waveshare_ai`" in kit.fix and "motors get no signal" in kit.fix


def test_the_nvidia_kit_wired_right_matches(user):
    kit = findings(user("profile: latrax\n", faults="absent:0x60"), "i2c", "kit")["kit"]
    assert kit.status == "ok" and "profile latrax (NVIDIA JetRacer, LaTrax Rally 1/18) matches" in kit.finding


def test_the_waveshare_kit_without_its_motor_driver_names_the_board(user):
    kit = findings(user("profile: waveshare_ai\n", faults="absent:0x60"), "i2c", "kit")["kit"]
    assert kit.status == "fail" and "no chip answers at 0x60 (throttle), profile waveshare_ai's" in kit.finding
    assert "check the power and cable of its board at 0x60" in kit.fix
    assert "`profile: latrax` (or tamiya_tt02, waveshare_pro)" in kit.fix


def test_a_chip_driven_at_the_waveshare_pro_rate_suggests_that_profile(user):
    context = user("profile: waveshare_pro\n", faults="absent:0x60")
    from jetracer.car import create_car
    create_car(context.config).close()  # what drove the chip last: Waveshare's 60 Hz
    kit = findings(user("profile: latrax\n", power_on=False), "kit")["kit"]
    assert kit.status == "warning" and "runs at 59.8 Hz" in kit.finding and "`profile: waveshare_pro`" in kit.fix


def test_an_oled_at_its_other_address_is_named(user):
    oled = findings(user(faults="moved:0x3C:0x3D"), "oled")["oled"]
    assert oled.status == "warning" and "a chip answers at 0x3D" in oled.finding
    assert "display: {i2c_address: 0x3D}" in oled.fix


HOLD = textwrap.dedent("""
    import sys
    from jetracer.car import create_car
    car = create_car()
    car.steering, car.throttle = 0.5, 0.3
    print("ready", flush=True)
    sys.stdin.read()
""")


def test_chips_another_process_drives_are_not_probed_and_the_owner_is_named(user, tmp_path, monkeypatch):
    path = str(tmp_path / "bus.bin")
    env = dict(os.environ, JETRACER_EMULATED_BUS=path, JETRACER_CONFIG=os.devnull, JETRACER_PROFILE="latrax")
    car = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
    try:
        assert car.stdout.readline().strip() == "ready", car.stderr.read()
        monkeypatch.setenv("JETRACER_EMULATED_BUS", path)
        context = user(power_on=False)
        watch = SharedFileBus(path)
        watch.logging = True
        before = bytes(watch.chip(0x40).registers)
        found = findings(context, "i2c", "kit", "oled")
        assert found["i2c"].status == "skipped" and "owned by pid %d" % car.pid in found["i2c"].finding
        assert "does not probe" in found["i2c"].finding and found["i2c"].fix
        assert found["kit"].status == "skipped"
        assert found["oled"].status == "ok", "the OLED is no motor chip: it is still checked"
        assert bytes(watch.chip(0x40).registers) == before
        assert round(watch.chip(0x40).pulse_us(1), 1) == 1678.7, "the car's throttle pulse is untouched"
    finally:
        car.kill()
        car.wait(10)


# -- cameras -------------------------------------------------------------------------------------------

def test_a_replay_camera_on_an_empty_folder_fails_to_open(user, tmp_path):
    (tmp_path / "empty").mkdir()
    camera = findings(user("camera: {source: replay, path: %s}\n" % (tmp_path / "empty")), "camera")["camera"]
    assert camera.status == "fail" and "does not open" in camera.finding and "holds no images" in camera.finding
    assert "camera.path" in camera.fix


def test_a_replay_camera_on_a_corrupt_frame_fails_on_that_frame(user, tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    cv2.imwrite(str(folder / "0001.png"), np.full((48, 64, 3), 90, np.uint8))
    (folder / "0002.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut off here")
    camera = findings(user("camera: {source: replay, path: %s}\n" % folder), "camera")["camera"]
    assert camera.status == "fail" and "failed on frame 2" in camera.finding and "0002.jpg" in camera.finding
    assert "unreadable frame" in camera.fix


def test_a_replay_camera_that_works_reports_its_rate_and_size(user, tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / ("%04d.png" % i)), np.full((48, 64, 3), 30 * i, np.uint8))
    camera = findings(user("camera: {source: replay, path: %s, fps: 20}\n" % folder), "camera")["camera"]
    assert camera.status == "ok" and "asked 20" in camera.finding and "224x224" in camera.finding


class BrokenWorld(object):
    """A real simulated world whose step raises (or blocks) after ``good`` frames."""

    def __init__(self, config, good, block=False):
        from jetracer.sim_mode import build_world
        self.world = build_world(config)
        self.good, self.block = good, block
        self.release = threading.Event()
        for name in ("lock", "fps", "width", "height", "render"):
            setattr(self, name, getattr(self.world, name))

    def step(self):
        if self.good <= 0:
            if self.block:
                self.release.wait(30)
            raise RuntimeError("the track has no segment here")
        self.good -= 1
        return self.world.step()


def test_a_simulator_camera_whose_world_raises_fails_naming_the_error(user):
    from jetracer.camera.sim_camera import SimCamera
    context = user("camera: {source: sim}\n")
    context.open_camera = lambda: SimCamera(BrokenWorld(context.config, 3))
    camera = findings(context, "camera")["camera"]
    assert camera.status == "fail" and "failed on frame 4: RuntimeError: the track has no segment here" in camera.finding
    assert "jetracer -v sim drive" in camera.fix


def test_a_simulator_camera_that_freezes_is_reported_frozen_without_stopping_the_doctor(user):
    from jetracer.camera.sim_camera import SimCamera
    context = user("camera: {source: sim}\n")
    world = []
    context.open_camera = lambda: SimCamera(world.append(BrokenWorld(context.config, 2, block=True)) or world[0])
    started = time.monotonic()
    try:
        camera = findings(context, "camera")["camera"]
    finally:
        world[0].release.set()
    assert camera.status == "fail" and "then froze: 2 frames, then none for 3." in camera.finding
    assert time.monotonic() - started < 20, "the doctor waits a few seconds, not for ever"


# -- model files --------------------------------------------------------------------------------------

def test_a_photo_renamed_pth_says_what_it_is_and_what_was_expected(user, tmp_path):
    path = tmp_path / "model.pth"
    assert cv2.imwrite(str(tmp_path / "photo.jpg"), np.zeros((16, 16, 3), np.uint8))
    os.rename(str(tmp_path / "photo.jpg"), str(path))
    model = findings(user("drive: {model: %s}\n" % path), "model")["model"]
    assert model.status == "fail" and "%s is a JPEG image, not a model file" % path in model.finding
    assert "expected one of: a jetracer checkpoint .pth" in model.finding and "drive.model" in model.fix


def test_an_onnx_model_with_another_input_says_what_jetracer_expects(user, tmp_path):
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["out"])], "other",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 224, 224])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    path = tmp_path / "road.onnx"
    onnx.save(proto, str(path))
    model = findings(user("drive: {model: %s}\n" % path), "model")["model"]
    assert model.status == "fail" and "an ONNX model" in model.finding and "does not load" in model.finding
    assert "[1, 3, 224, 224]" in model.finding and "frame [H, W, 3]" in model.finding
    assert "jetracer optimize CHECKPOINT --backend onnxruntime" in model.fix


def engine(tmp_path, built_with):
    import torch
    path = tmp_path / "road_trt.pth"
    torch.save({"engine": b"serialized elsewhere", "input_names": ["input_0"]}, str(path))
    (tmp_path / "road_trt.json").write_text(json.dumps({"format": "jetracer.tensorrt", "tensorrt_version": built_with,
                                                        "input_size": [224, 224]}))
    return path


def test_an_engine_of_another_tensorrt_names_both_versions_and_the_rebuild(user, tmp_path, monkeypatch):
    path = engine(tmp_path, "8.2.1")
    monkeypatch.setenv("PYTHONPATH", FAKES)
    monkeypatch.setenv("FAKE_TENSORRT_VERSION", "10.3.0")
    model = findings(user("drive: {model: %s}\n" % path), "model")["model"]
    assert model.status == "fail" and "built with TensorRT 8.2.1" in model.finding
    assert "this machine runs TensorRT 10.3.0" in model.finding
    assert model.fix == ("rebuild it on this machine: jetracer optimize CHECKPOINT --backend tensorrt --precision fp16 "
                         "--out %s" % path)


def test_an_engine_on_a_machine_without_tensorrt_says_where_it_runs(user, tmp_path, monkeypatch):
    path = engine(tmp_path, "8.2.1")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    model = findings(user("drive: {model: %s}\n" % path), "model")["model"]
    assert model.status == "fail" and "this machine has no TensorRT" in model.finding
    assert "a Jetson with TensorRT 8.2.1" in model.fix


def test_a_checkpoint_loads_with_its_input_size_and_backend(user, tmp_path):
    from jetracer.pilot.checkpoint import save_checkpoint
    from jetracer.pilot.model import build_model
    path = save_checkpoint(str(tmp_path / "tiny.pth"), build_model("resnet18", 2, pretrained=False), "resnet18", 64,
                           ["apex"])
    model = findings(user("drive: {model: %s}\n" % path), "model")["model"]
    assert model.status == "ok", model
    assert "a jetracer checkpoint (resnet18), loads with torch (fp32)" in model.finding and "input 64x64" in model.finding


def test_no_model_configured_is_skipped_with_where_to_set_it(user):
    model = findings(user(), "model")["model"]
    assert model.status == "skipped" and "drive: {model:" in model.fix


# -- the runner, versions, probes ---------------------------------------------------------------------------

def test_a_check_that_breaks_is_a_fail_and_the_others_still_run():
    def broken(context):
        raise KeyError("no such register")

    out = run_checks(Context(None), [Check("one", broken, needs_config=False),
                                     Check("two", lambda c: Finding("two", "ok", "fine"), needs_config=False),
                                     Check("three", lambda c: Finding("three", "ok", "fine"))])
    assert [(f.name, f.status) for f in out] == [("one", "fail"), ("two", "ok"), ("three", "skipped")]
    assert "KeyError" in out[0].finding and "no such register" in out[0].finding and out[0].fix
    assert exit_code(out) == 1 and exit_code(out[1:]) == 0


def test_a_check_that_hangs_is_a_fail_after_its_time():
    started = time.monotonic()
    out = run_check(Check("slow", lambda c: time.sleep(30), timeout_s=0.5, needs_config=False), Context(None))
    assert out[0].status == "fail" and "did not finish within" in out[0].finding
    assert time.monotonic() - started < 5


def test_a_command_that_does_not_answer_is_killed_with_its_children():
    started = time.monotonic()
    result = run_command(["sh", "-c", "sleep 30 & sleep 30"], timeout_s=0.5)
    assert result.rc is None and "did not answer within" in result.problem
    assert time.monotonic() - started < 5
    assert "not installed" in run_command(["no-such-command-jetracer"]).problem


def test_the_known_good_table():
    assert judge("3.6.9", {"torch": "1.10.0", "torchvision": "0.11.1", "tensorrt": "8.2.1.8"}, "32.7.1") == ("ok", [])
    status, problems = judge("3.6.9", {"torch": "1.10.0", "torchvision": "0.12.0", "tensorrt": "8.2.1"}, "32.7.1")
    assert status == "warning" and "torchvision 0.12 is not torch 1.10's (that is torchvision 0.11)" in problems
    status, problems = judge("3.8.10", {"torch": "1.10.0", "torchvision": "0.11.1"}, "32.7.1")
    assert "Python 3.8 is not JetPack 4.6.1-4.6.6's (3.6)" in problems
    assert judge("3.8.10", {"torch": "2.1.0", "torchvision": "0.16.1", "tensorrt": "8.5.2.2"}, "35.4.1") == ("ok", [])
    assert judge("3.11.7", {"torch": "2.14.1+cu130", "torchvision": "0.29.1+cu130"}) == ("ok", [])
    assert torchvision_for("1.10.0") == "0.11" and torchvision_for("2.0.1") == "0.15"
    assert l4t_release("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64") == "32.7.1"


# -- the command ---------------------------------------------------------------------------------------------

def run_doctor(tmp_path, args=(), config_text="", **extra):
    return jetracer(["doctor"] + list(args), cli_env(tmp_path, config_text, **extra), timeout_s=300)


def test_json_is_one_object_of_checks_and_a_fail_exits_1(tmp_path):
    proc = run_doctor(tmp_path, ["--json"], "camera: {source: sim}\n", **{FAULTS_ENV: "absent:0x40"})
    report = json.loads(proc.stdout)
    assert list(report) == ["checks"]
    assert [c["name"] for c in report["checks"]] == NAMES
    for check in report["checks"]:
        assert sorted(check) == ["finding", "fix", "name", "status"]
        assert check["status"] in ("ok", "warning", "fail", "skipped") and check["finding"]
    kit = [c for c in report["checks"] if c["name"] == "kit"][0]
    assert kit["status"] == "fail" and proc.returncode == 1, proc.stderr


def test_text_lines_and_exit_0_when_nothing_fails(tmp_path):
    proc = run_doctor(tmp_path, [], "camera: {source: sim}\n", **{FAULTS_ENV: "absent:0x60"})
    lines = proc.stdout.splitlines()
    statuses = [line.split()[0] for line in lines if line and not line.startswith(" ")]
    assert statuses[:-1] and set(statuses[:-1]) <= {"ok", "WARNING", "FAIL", "skipped"}
    assert [line.split()[1] for line in lines if line and not line.startswith(" ")][:-1] == NAMES
    assert lines[-1].startswith("16 checks in")
    kit = [line for line in lines if line.split()[1:2] == ["kit"]][0]
    assert kit.startswith("ok ")
    assert proc.returncode == (1 if "FAIL" in statuses else 0), proc.stdout


def test_a_bad_fault_variable_fails_the_config_line(tmp_path):
    proc = run_doctor(tmp_path, ["--json"], **{FAULTS_ENV: "unplugged:0x40"})
    checks = dict((c["name"], c) for c in json.loads(proc.stdout)["checks"])
    assert checks["config"]["status"] == "fail" and "JETRACER_EMULATED_FAULTS=unplugged:0x40" in checks["config"]["finding"]
    assert "absent:0xNN" in checks["config"]["finding"] and checks["i2c"]["status"] == "skipped"
    assert proc.returncode == 1 and proc.stderr == ""


def test_a_gamepad_is_found_through_evdev(tmp_path):
    pads = tmp_path / "input"
    pads.mkdir()
    (pads / "event5").write_text("")
    (pads / "event5.json").write_text(json.dumps({"name": "Logitech Gamepad F710", "keys": ["BTN_SOUTH", "BTN_EAST"],
                                                  "abs": [["ABS_X", -32768, 32767]]}))
    env = dict(PYTHONPATH=FAKES, FAKE_EVDEV_DIR=str(pads))
    code = ("from jetracer.apps.doctor import load_context, run_checks\n"
            "from jetracer.apps.doctor_checks import CHECKS\n"
            "print(run_checks(load_context(), [c for c in CHECKS if c.name == 'gamepad'])[0].to_dict())")
    out = subprocess.run([sys.executable, "-c", code], env=cli_env(tmp_path, "", **env), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert "'status': 'ok'" in out.stdout and "event5 (Logitech Gamepad F710)" in out.stdout, out.stderr


def test_a_new_user_on_this_machine_gets_every_line_explained(tmp_path):
    """No config, no JETRACER_I2C, no camera setting: what someone who just installed jetracer here runs first."""
    env = cli_env(tmp_path, None)
    env.pop("JETRACER_I2C")
    proc = jetracer(["doctor", "--json"], env, timeout_s=300)
    checks = json.loads(proc.stdout)["checks"]
    assert [c["name"] for c in checks] == NAMES
    for check in checks:
        assert len(check["finding"]) > 20, check
        assert check["status"] == "ok" or len(check["fix"]) > 10, check
    assert proc.returncode == (1 if any(c["status"] == "fail" for c in checks) else 0)
    by_name = dict((c["name"], c) for c in checks)
    assert "(not there: the defaults apply)" in by_name["config"]["finding"]
    on_jetson = os.path.exists("/etc/nv_tegra_release")
    if not on_jetson and not os.path.exists("/dev/i2c-1"):
        assert "checked the emulated chips instead" in by_name["i2c"]["finding"], "off the Jetson the checks still run"
        assert "checked the simulator camera instead" in by_name["camera"]["finding"]
        assert by_name["camera"]["status"] == "ok" and by_name["i2c"]["status"] == "ok"
    text = jetracer(["doctor"], env, timeout_s=300)
    assert text.returncode == proc.returncode and text.stderr == ""
