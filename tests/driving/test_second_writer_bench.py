"""The safety bench's ``second-writer`` row: a notebook's ``NvidiaRacecar()`` beside a disarmed ``jetracer drive``
(armed, driven and disarmed first) is refused in one line naming the drive, and the wire stays at neutral; a
writer that bypasses the claim is seen on the wire, so the row can fail."""
from jetracer.apps.bench import safety as safety_bench


def test_the_second_writer_row_is_refused_and_the_wire_stays_at_neutral():
    result = safety_bench.bench(["second-writer"], runs=1)
    row = result["faults"]["second-writer"]
    assert row["errors"] == [], row
    assert row["refused"] == row["neutral_reached"] == 1, row
    assert "owned by pid" in row["refusal"] and "`jetracer drive --sim --model expert`" in row["refusal"], row
    assert row["unit"] == "us" and 0.0 <= row["max_off_neutral"] <= row["half_tick"] + 0.05, row
    assert row["median_ms"] > 0.0, row


def test_a_writer_that_bypasses_the_claim_shows_on_the_wire(tmp_path, monkeypatch):
    """Raw register writes to the ESC channel (1950 us, then back to neutral) from a process that takes no claim."""
    monkeypatch.setattr(safety_bench, "NOTEBOOK", (
        "import time; print(time.monotonic(), flush=True)\n"
        "from jetracer.hardware.emulated import shared_bus\n"
        "bus = shared_bus()\n"
        "for ticks in (400, 307):\n"
        "    for register, value in zip(range(0x0A, 0x0E), (0, 0, ticks & 0xFF, ticks >> 8)):\n"
        "        bus.write_byte_data(0x40, register, value)\n"
        "    time.sleep(0.05)\n"))
    result = safety_bench.run_once("second-writer", str(tmp_path))
    assert "error" not in result, result
    assert not result["refused"] and not result["stayed_neutral"], result
    assert result["off"] > 400.0, result  # 400 ticks at 50 Hz: about 1950 us, 450 us off centre
