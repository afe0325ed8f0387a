"""``jetracer drive --sim`` as the service runs it: armed only when asked, metrics, SIGTERM to neutral."""
import json
import os
import signal
import subprocess
import sys
import time

from jetracer.profiles import load_profile


def drive_env(tmp_path):
    if not (tmp_path / "config.yaml").exists():
        (tmp_path / "config.yaml").write_text("")  # an empty user config: the defaults
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(tmp_path / "config.yaml"),
               JETRACER_STATE=str(tmp_path / "state.json"), JETRACER_RUNTIME_DIR=str(tmp_path), OMP_NUM_THREADS="1")
    for key in ("JETRACER_PROFILE", "INVOCATION_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(key, None)
    return env


def jetracer(*args):
    return [sys.executable, "-m", "jetracer"] + list(args)


def test_drive_sim_runs_for_the_duration_and_reports_metrics(tmp_path):
    out = subprocess.check_output(jetracer("drive", "--sim", "--fast", "--model", "expert", "--duration", "3", "--json",
                                           "--arm"),
                                  env=drive_env(tmp_path), universal_newlines=True, timeout=120)
    report = json.loads(out.strip().splitlines()[-1])
    center = load_profile("latrax").throttle.center_us
    assert report["iterations"] == 90 and report["frames_processed"] == 90
    assert report["sim_state"]["distance_m"] > 0.5 and not report["sim_state"]["offtrack"]
    assert abs(report["outputs"]["throttle_pulse_us"] - center) < 5
    assert set(report["mean_ms"]) >= {"capture_age_ms", "inference_ms", "actuation_ms", "overhead_ms"}
    state = json.load(open(str(tmp_path / "state.json")))
    assert state["mode"] == "stopped"


def test_sigterm_puts_the_throttle_at_neutral_within_100_ms(tmp_path):
    proc = subprocess.Popen(jetracer("drive", "--sim", "--model", "expert", "--duration", "60", "--json", "--arm"),
                            env=drive_env(tmp_path), stdout=subprocess.PIPE, universal_newlines=True)
    state_file = str(tmp_path / "state.json")
    deadline = time.time() + 60
    moving = False
    while time.time() < deadline and not moving:  # wait until the published state shows the car driving
        time.sleep(0.1)
        try:
            state = json.load(open(state_file))
        except (OSError, ValueError):
            continue
        moving = state.get("throttle", 0) > 0 and state["outputs"]["throttle_pulse_us"] > 1520
    assert moving, "the simulated car never started driving"
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    report = json.loads(out.strip().splitlines()[-1])
    center = load_profile("latrax").throttle.center_us
    assert report["signal"]["name"] == "SIGTERM"
    assert abs(report["signal"]["outputs"]["throttle_pulse_us"] - center) < 5
    assert report["signal"]["neutral_time"] - sent < 0.1
    assert abs(report["outputs"]["throttle_pulse_us"] - center) < 5


def test_neutral_command(tmp_path):
    out = subprocess.check_output(jetracer("drive", "--neutral", "--json"), env=drive_env(tmp_path),
                                  universal_newlines=True, timeout=60)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["neutral"] and abs(report["outputs"]["throttle_pulse_us"] - load_profile("latrax").throttle.center_us) < 5


def test_constant_model_is_refused_before_moving(tmp_path):
    import torch
    from jetracer.pilot.checkpoint import save_checkpoint
    from jetracer.pilot.model import build_model

    torch.manual_seed(0)
    model = build_model("mobilenet_v3_small", 2, pretrained=False)
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    path = save_checkpoint(str(tmp_path / "dead.pth"), model, "mobilenet_v3_small", 64, ["apex"])
    proc = subprocess.Popen(jetracer("drive", "--sim", "--fast", "--model", path, "--duration", "1"),
                            env=drive_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # a failure of the model, not of the command line
    assert "cannot steer" in err and len(err.strip().splitlines()) == 1
    assert not os.path.exists(str(tmp_path / "state.json")) or json.load(open(str(tmp_path / "state.json")))["mode"] != "auto"


def test_drive_sim_with_a_checkpoint_runs_headless(tmp_path):
    """A tiny untrained checkpoint through the real pilot loader: 3 simulated seconds, clean exit, timings."""
    import torch
    from jetracer.pilot.checkpoint import save_checkpoint
    from jetracer.pilot.model import build_model

    torch.manual_seed(0)
    model = build_model("resnet18", 2, pretrained=False)  # an untrained mobilenet's output hardly depends on the image
    path = save_checkpoint(str(tmp_path / "tiny.pth"), model, "resnet18", 64, ["apex"])
    out = subprocess.check_output(jetracer("drive", "--sim", "--fast", "--model", path, "--duration", "3", "--json"),
                                  env=drive_env(tmp_path), universal_newlines=True, timeout=180)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["frames_processed"] == 90 and report["mean_ms"]["inference_ms"] > 0
    assert abs(report["outputs"]["throttle_pulse_us"] - load_profile("latrax").throttle.center_us) < 5


def read_state(tmp_path):
    try:
        return json.load(open(str(tmp_path / "state.json")))
    except (OSError, ValueError):
        return {}


def wait_for(predicate, timeout_s=60.0):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return None


def test_the_service_starts_disarmed_and_never_moves_by_itself(tmp_path):
    out = subprocess.check_output(jetracer("drive", "--sim", "--fast", "--model", "expert", "--duration", "3", "--json"),
                                  env=drive_env(tmp_path), universal_newlines=True, timeout=120)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["iterations"] == 90 and report["stops"] == {"not armed": 90}
    assert report["sim_state"]["distance_m"] == 0.0
    assert abs(report["outputs"]["throttle_pulse_us"] - load_profile("latrax").throttle.center_us) < 5


def test_arm_refused_under_systemd(tmp_path):
    env = dict(drive_env(tmp_path), INVOCATION_ID="0123456789abcdef")
    proc = subprocess.run(jetracer("drive", "--sim", "--model", "expert", "--arm"), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert proc.returncode == 2 and "never drive by itself" in proc.stderr and "Traceback" not in proc.stderr


def test_jetracer_arm_and_disarm_reach_the_running_service(tmp_path):
    env = drive_env(tmp_path)
    center = load_profile("latrax").throttle.center_us
    proc = subprocess.Popen(jetracer("drive", "--sim", "--model", "expert", "--duration", "60", "--json"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        assert wait_for(lambda: read_state(tmp_path).get("iterations", 0) > 0), "the drive loop never ran"
        assert (tmp_path / "drive.sock").exists() and oct((tmp_path / "drive.sock").stat().st_mode & 0o777) == "0o600"
        time.sleep(1.0)
        state = read_state(tmp_path)
        assert not state["armed"] and abs(state["outputs"]["throttle_pulse_us"] - center) < 5
        armed = subprocess.run(jetracer("arm"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=30)
        assert armed.returncode == 0, armed.stderr
        moving = wait_for(lambda: (lambda s: s.get("armed") and s["outputs"]["throttle_pulse_us"] > center + 10)(
            read_state(tmp_path)), timeout_s=10)
        assert moving, read_state(tmp_path)
        status = json.loads(subprocess.check_output(jetracer("arm", "--status"), env=env, universal_newlines=True))
        assert status["armed"] and status["running"] and not status["tripped"]
        disarmed = subprocess.run(jetracer("disarm"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, timeout=30)
        assert disarmed.returncode == 0, disarmed.stderr
        stopped = wait_for(lambda: (lambda s: not s.get("armed") and abs(s["outputs"]["throttle_pulse_us"] - center) < 5)(
            read_state(tmp_path)), timeout_s=10)
        assert stopped, read_state(tmp_path)
        assert "jetracer disarm" in read_state(tmp_path)["stop_reason"]
        second = subprocess.run(jetracer("drive", "--sim", "--model", "expert", "--duration", "1"), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        # disarmed, the running drive still owns the motors: a second one is refused with one line naming it
        assert second.returncode == 1 and second.stderr.count("\n") == 1, second.stderr
        assert "owned by pid %d (`jetracer drive --sim" % proc.pid in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert read_state(tmp_path)["mode"] == "stopped" and not (tmp_path / "drive.sock").exists()


def test_arm_without_a_running_service_is_a_clear_error(tmp_path):
    proc = subprocess.run(jetracer("arm"), env=drive_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30)
    assert proc.returncode == 1 and "no drive process is running" in proc.stderr and "Traceback" not in proc.stderr


def test_real_car_branch_on_a_replay_camera_waits_for_arm(tmp_path):
    """The camera branch the car runs (capture thread, real time, the car on the emulated PCA9685),
    fed by a replay folder, with a real checkpoint through the pilot loader."""
    import cv2
    import numpy as np
    import torch
    from jetracer.pilot.checkpoint import save_checkpoint
    from jetracer.pilot.model import build_model

    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.RandomState(0)
    for i in range(20):
        cv2.imwrite(str(frames / ("%03d.jpg" % i)), rng.randint(0, 255, (96, 128, 3)).astype(np.uint8))
    torch.manual_seed(0)
    model = build_model("resnet18", 2, pretrained=False)
    path = save_checkpoint(str(tmp_path / "tiny.pth"), model, "resnet18", 64, ["apex"])
    (tmp_path / "config.yaml").write_text("camera: {source: replay, path: %s, fps: 30}\n"
                                          "drive: {throttle: 0.3, supervisor_timeout_s: 0.5, max_frame_age_s: 0.5}\n"
                                          % frames)
    env = drive_env(tmp_path)
    center = load_profile("latrax").throttle.center_us
    proc = subprocess.Popen(jetracer("drive", "--model", path, "--duration", "120", "--json"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        assert wait_for(lambda: read_state(tmp_path).get("iterations", 0) > 10, timeout_s=120), proc.stderr
        state = read_state(tmp_path)
        assert not state["armed"] and abs(state["outputs"]["throttle_pulse_us"] - center) < 5
        assert state["supervisor"]["trips"] == 0
        assert subprocess.run(jetracer("arm"), env=env, timeout=30).returncode == 0
        moving = wait_for(lambda: (lambda s: s.get("armed") and s["outputs"]["throttle_pulse_us"] > center + 10)(
            read_state(tmp_path)), timeout_s=20)
        assert moving, read_state(tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["signal"]["name"] == "SIGTERM" and abs(report["outputs"]["throttle_pulse_us"] - center) < 5
    assert read_state(tmp_path)["mode"] == "stopped"
