"""The OLED's drive lines for a camera the drive is reopening, and for one that came back (the drive's state)."""
from jetracer.display.render import status_lines

STATS = {"ips": [("wlan0", "192.168.1.7")]}


def drive(stop_reason, camera, armed=True):
    return {"mode": "auto", "fps": 0.0, "armed": armed, "estopped": not armed, "stop_reason": stop_reason,
            "camera": camera}


def test_a_camera_being_reopened_shows_how_long_and_which_attempt_then_the_fix():
    camera = {"status": "reopening", "attempt": 3, "no_frame_s": 2.14, "advised": False,
              "short_fix": "fix: restart nvargus"}
    reason = "camera: no frame for 2.1 s, reopening (attempt 3)"
    assert status_lines(STATS, drive(reason, camera)) == ["wlan0 192.168.1.7", "cam: no frame 2.1s",
                                                          "reopening, try 3", "AUTO 0fps"]
    camera.update(attempt=6, no_frame_s=131.0, advised=True)
    assert status_lines(STATS, drive(reason, camera))[1:3] == ["cam: no frame 131s", "fix: restart nvargus"]


def test_a_camera_that_came_back_says_so_and_that_the_car_waits_for_an_arm():
    camera = {"status": "ok", "last_recovery": "recovered after 4.2 s (2 reopens)", "last_recovery_s": 4.2}
    reason = "camera: recovered after 4.2 s (2 reopens); arm again to drive"
    lines = status_lines(STATS, drive(reason, camera, armed=False), lines=8)
    assert lines[3:6] == ["AUTO 0fps ESTOP", "cam back after 4.2s", "arm again to drive"]
    assert status_lines(STATS, drive("", camera))[3] == "AUTO 0fps"  # armed again: nothing more to say
