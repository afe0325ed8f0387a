"""notebooks/calibration.ipynb runs top to bottom on the emulated chips and saves the guided calibration."""
import yaml

from conftest import cell_text


def test_calibration_notebook_saves_the_confirmed_steps_and_ends_at_neutral(run_fresh_notebook, tmp_path):
    nb = run_fresh_notebook("calibration.ipynb")
    assert "'confirmed': True" in cell_text(nb, "panel.press(")
    assert "calibration: confirmed" in cell_text(nb, "panel.close()")
    saved = yaml.safe_load((tmp_path / "empty-config.yaml").read_text())["profile_overrides"]
    # the default profile (latrax) with every question answered Enter or yes: its values, now confirmed
    assert saved == {"steering": {"center_us": 1500, "min_us": 750, "max_us": 2250},
                     "car": {"steering_gain": -0.65, "max_throttle": 0.8, "throttle_gain": 0.8},
                     "throttle": {"center_us": 1500, "reverse": "direct", "min_us": 750, "max_us": 2250}}
