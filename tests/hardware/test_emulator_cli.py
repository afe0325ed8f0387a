"""``jetracer emulator show`` prints the pulses a command gives with the configured profile."""
import os
import pytest

from jetracer.cli.main import main
from jetracer.hardware.emulated import reset_shared_bus


def test_emulator_show_prints_the_channel_pulses(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    reset_shared_bus()
    with pytest.raises(SystemExit) as done:
        main(["emulator", "show", "--steering", "0.5", "--throttle", "0.3"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "PCA9685 0x40 at 50.03 Hz" in out
    # upstream's pulses: 1500 - 0.325 * 750 and 1500 + 0.24 * 750, quantised to 12-bit ticks
    assert "channel  0: duty   6.27%  pulse  1254.2 us" in out
    assert "channel  1: duty   8.40%  pulse  1678.7 us" in out
    assert "throttle output limited to |0.80| of full travel: pulses 898-2098 us on channel 1" in out


def test_emulator_show_with_a_bad_profile_is_one_line_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    with pytest.raises(SystemExit) as done:
        main(["emulator", "show", "--profile", "latrx"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown car profile 'latrx'" in err and "waveshare_pro" in err
