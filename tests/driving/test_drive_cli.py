"""``jetracer drive --sim`` as the service runs it: headless run with metrics, SIGTERM to neutral."""
import json
import os
import signal
import subprocess
import sys
import time

from jetracer.profiles import load_profile


def drive_env(tmp_path):
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(tmp_path / "config.yaml"),
               JETRACER_STATE=str(tmp_path / "state.json"), OMP_NUM_THREADS="1")
    env.pop("JETRACER_PROFILE", None)
    return env


def jetracer(*args):
    return [sys.executable, "-m", "jetracer"] + list(args)


def test_drive_sim_runs_for_the_duration_and_reports_metrics(tmp_path):
    out = subprocess.check_output(jetracer("drive", "--sim", "--fast", "--model", "expert", "--duration", "3", "--json"),
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
    proc = subprocess.Popen(jetracer("drive", "--sim", "--model", "expert", "--duration", "60", "--json"),
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
    from jetracer.learning.checkpoint import save_checkpoint
    from jetracer.learning.model import build_model

    torch.manual_seed(0)
    model = build_model("mobilenet_v3_small", 2, pretrained=False)
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    path = save_checkpoint(str(tmp_path / "dead.pth"), model, "mobilenet_v3_small", 64, ["apex"])
    proc = subprocess.Popen(jetracer("drive", "--sim", "--fast", "--model", path, "--duration", "1"),
                            env=drive_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "cannot steer" in err
    assert not os.path.exists(str(tmp_path / "state.json")) or json.load(open(str(tmp_path / "state.json")))["mode"] != "auto"


def test_drive_sim_with_a_checkpoint_runs_headless(tmp_path):
    """A tiny untrained checkpoint through the real pilot loader: 3 simulated seconds, clean exit, timings."""
    import torch
    from jetracer.learning.checkpoint import save_checkpoint
    from jetracer.learning.model import build_model

    torch.manual_seed(0)
    model = build_model("resnet18", 2, pretrained=False)  # an untrained mobilenet's output hardly depends on the image
    path = save_checkpoint(str(tmp_path / "tiny.pth"), model, "resnet18", 64, ["apex"])
    out = subprocess.check_output(jetracer("drive", "--sim", "--fast", "--model", path, "--duration", "3", "--json"),
                                  env=drive_env(tmp_path), universal_newlines=True, timeout=180)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["frames_processed"] == 90 and report["mean_ms"]["inference_ms"] > 0
    assert abs(report["outputs"]["throttle_pulse_us"] - load_profile("latrax").throttle.center_us) < 5
