"""The I2C bus: which chips answer at which addresses, which car kit that is against the configured profile,
and the OLED.

The scan only reads: one receive-byte per address (``i2cdetect -r``), which changes no register of a
PCA9685 or an SSD1306; the kit check reads MODE1 and PRESCALE of the profile's PCA9685s (a register
pointer and a read: the outputs are untouched). When another process owns the motors
(:func:`jetracer.hardware.claim.motors_owner`: a drive, a notebook's car, a calibration) nothing is
probed on the motor chips; the finding names the owner instead.

The kit signatures are the car profiles themselves (each profile's ``i2c_address`` and
``pwm_frequency_hz`` of steering and throttle), so a user's own profile is matched like the shipped ones:
NVIDIA/LaTrax and Tamiya answer at 0x40 (50 Hz), the Waveshare AI kit at 0x40 and its motor driver
at 0x60, the Waveshare Pro at 0x40 driven at 60 Hz.

Off the Jetson, where the configured hardware bus does not exist, the emulated bus is checked instead
(and says so); its wiring faults (``$JETRACER_EMULATED_FAULTS``) are named in the findings.
"""
import errno
import glob
import os
from typing import Any, Dict, List, Optional, Tuple

from .base import Context, Finding
from .probe import one_line, time_boxed

SCAN_FIRST, SCAN_LAST = 0x08, 0x77
OLED_ADDRESSES = (0x3C, 0x3D)
ALL_CALL = 0x70
MODE1, PRESCALE, SLEEP = 0x00, 0xFE, 0x10
SCAN_TIMEOUT_S = 15.0
NO_ANSWER = (errno.EREMOTEIO, errno.ENXIO)


class Target(object):
    """The bus the doctor looks at: ``provider`` (open_i2c's), ``emulated``, ``bus_number``, ``note`` (why this bus)."""

    def __init__(self, provider: Any, bus_number: int, note: str = "") -> None:
        self.provider = provider
        self.bus_number = int(bus_number)
        self.emulated = getattr(provider, "mode", "") == "emulated"
        self.note = note

    @property
    def name(self) -> str:
        return ("the emulated bus %d" % self.bus_number) if self.emulated else ("I2C bus %d (/dev/i2c-%d)"
                                                                                 % (self.bus_number, self.bus_number))

    @property
    def faults(self) -> str:
        """The emulated wiring faults in effect ("" on a real bus or a bus wired right)."""
        wiring = getattr(getattr(self.provider, "bus", None), "wiring", None)
        return wiring.text if wiring else ""

    def fault_note(self) -> str:
        return " (emulated wiring faults: %s)" % self.faults if self.faults else ""


def hardware_buses() -> List[str]:
    return sorted(glob.glob("/dev/i2c-*"), key=lambda p: int(p.rsplit("-", 1)[1]) if p.rsplit("-", 1)[1].isdigit() else 0)


def bus_target(context: Context) -> Tuple[Optional[Target], Optional[Finding]]:
    """The bus to check, or the finding that says why there is none; cached for the other I2C checks."""
    if "i2c_target" in context.shared:
        return context.shared["i2c_target"]
    from ...hardware.i2c import open_i2c

    config = context.config
    bus = config.i2c_bus
    result = None  # type: Any
    if config.i2c == "emulated":
        result = (Target(open_i2c("emulated", bus), bus, "i2c: emulated (%s)" % config.where("i2c")), None)
    elif os.path.exists("/dev/i2c-%d" % bus):
        result = (Target(open_i2c("hardware", bus), bus), None)
    elif not context.on_jetson:
        result = (Target(open_i2c("emulated", bus), bus, "not a Jetson and no /dev/i2c-%d: checked the emulated chips "
                                                         "instead" % bus), None)
    else:
        listed = ", ".join(hardware_buses()) or "none"
        result = (None, Finding("i2c", "fail", "/dev/i2c-%d does not exist (I2C buses here: %s)" % (bus, listed),
                                "set i2c_bus in %s to the bus of the 40-pin header (1 on a Jetson Nano; "
                                "`sudo i2cdetect -l` lists them), or `sudo modprobe i2c-dev` if none is listed"
                                % context.where_config()))
    context.shared["i2c_target"] = result
    return result


class Prober(object):
    """Read-only transactions on the target bus: ``answers(address)``, ``register(address, reg)``."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._smbus = None  # type: Any

    def _bus(self) -> Any:
        if self.target.emulated:
            return self.target.provider.bus
        if self._smbus is None:
            from Adafruit_PureIO.smbus import SMBus
            self._smbus = SMBus(self.target.bus_number)
        return self._smbus

    def answers(self, address: int) -> Optional[str]:
        """None when nothing acknowledges at ``address``; else "" (it answered) or "UU" (a kernel driver holds
        it) or the error of a chip that answered wrongly. Raises OSError when the bus itself cannot be used."""
        try:
            self._bus().read_byte(address)
            return ""
        except OSError as e:
            if e.errno in NO_ANSWER:
                return None
            if e.errno == errno.EBUSY:
                return "UU"
            if e.errno in (errno.ENOENT, errno.EACCES, errno.EPERM):
                raise
            return "%s (errno %s)" % (e.strerror or e, e.errno)

    def register(self, address: int, reg: int) -> int:
        return int(self._bus().read_byte_data(address, reg))

    def close(self) -> None:
        if self._smbus is not None:
            self._smbus.close()
            self._smbus = None


def _owner_of_motors(target: Target) -> Optional[Dict[str, Any]]:
    """Who else owns the motor chips on the target's bus (None: nobody, or this process)."""
    from ...hardware.claim import motors_owner
    owner = motors_owner(target.provider)
    if owner and owner.get("pid") == os.getpid():
        return None
    return owner


def scan(target: Target) -> Dict[int, str]:
    """``{address: ""|"UU"|error}`` of every address from 0x08 to 0x77 that acknowledges."""
    prober = Prober(target)
    try:
        found = {}  # type: Dict[int, str]
        for address in range(SCAN_FIRST, SCAN_LAST + 1):
            answer = prober.answers(address)
            if answer is not None:
                found[address] = answer
        return found
    finally:
        prober.close()


def _describe(address: int, answer: str, names: Dict[int, str]) -> str:
    label = names.get(address, "")
    extra = [label] if label else []
    if answer == "UU":
        extra.append("held by a kernel driver")
    elif answer:
        extra.append(answer)
    return "0x%02X%s" % (address, " (%s)" % ", ".join(extra) if extra else "")


def _address_names(context: Context) -> Dict[int, str]:
    names = {0x3C: "OLED address", 0x3D: "OLED address", ALL_CALL: "PCA9685 All Call"}
    display = context.config.display.i2c_address
    names[display] = "the OLED's, display.i2c_address"
    try:
        profile = context.config.load_profile()
    except Exception:  # noqa: BLE001 - the kit check reports a profile that does not load
        return names
    from ...profiles import available_profiles, load_profile
    for other in available_profiles():
        if other == profile.get("name"):
            continue
        for address, sections in _profile_chips(load_profile(other)).items():
            names.setdefault(address, "profile %s's %s" % (other, "/".join(sections)))
    for address, sections in _profile_chips(profile).items():
        names[address] = "profile %s's %s" % (profile.get("name", "car"), "/".join(sections))
    return names


def _profile_chips(profile: Any) -> Dict[int, List[str]]:
    """``{address: [sections]}`` of a profile's steering and throttle chips."""
    chips = {}  # type: Dict[int, List[str]]
    for section in ("steering", "throttle"):
        chips.setdefault(int(profile[section]["i2c_address"]), []).append(section)
    return chips


def check_i2c(context: Context) -> Finding:
    """Which chips answer on the configured bus (or the emulated one off the Jetson)."""
    target, finding = bus_target(context)
    if target is None:
        context.shared["i2c_scan"] = None
        return finding
    from ...hardware.claim import describe_owner, how_to_stop
    try:
        owner = _owner_of_motors(target)
    except OSError:
        owner = None  # the claim cannot be looked at (the bus node unreadable): the scan reports the bus itself
    prefix = "%s: " % target.note if target.note else ""
    if owner:
        context.shared["i2c_scan"] = None
        context.shared["i2c_owner"] = owner
        return Finding("i2c", "skipped", "%sthe motor chips on %s are owned by %s: the doctor does not probe chips "
                                         "another process drives" % (prefix, target.name, describe_owner(owner)),
                       "to scan the bus, %s, then run jetracer doctor again" % how_to_stop(owner.get("command", "")))
    finished, found, error = time_boxed(lambda: scan(target), SCAN_TIMEOUT_S, "doctor-i2c-scan")
    if not finished:
        context.shared["i2c_scan"] = None
        return Finding("i2c", "fail", "%sthe scan of %s did not finish within %.0f s: the bus hangs (a chip or cable "
                                      "holding SDA or SCL low)" % (prefix, target.name, SCAN_TIMEOUT_S),
                       "switch the car off, unplug the boards on the I2C pins one at a time and run `sudo i2cdetect -y "
                       "-r %d` after each, to find the one that holds the bus" % target.bus_number)
    if error is not None:
        context.shared["i2c_scan"] = None
        from ...hardware.i2c import explain
        message = one_line(explain(error, target.bus_number, SCAN_FIRST, "the scan")) if isinstance(error, OSError) \
            else "%s: %s" % (type(error).__name__, one_line(error))
        return Finding("i2c", "fail", "%scannot scan %s: %s" % (prefix, target.name, message.split(". ")[0]),
                       ". ".join(message.split(". ")[1:]) or "run `sudo i2cdetect -y -r %d`" % target.bus_number)
    context.shared["i2c_scan"] = found
    names = _address_names(context)
    listed = ", ".join(_describe(a, found[a], names) for a in sorted(found)) or "none"
    others = [b for b in hardware_buses() if b != "/dev/i2c-%d" % target.bus_number]
    also = "; other buses: %s" % ", ".join(others) if others and not target.emulated else ""
    if not found:
        return Finding("i2c", "fail", "%sno chip answers on %s%s%s" % (prefix, target.name, also, target.fault_note()),
                       "check the boards' power (the car's battery switched on, the board's power LED lit) and the I2C "
                       "cable (SDA to pin 3, SCL to pin 5, 3.3 V and GND of the 40-pin header), then `sudo i2cdetect "
                       "-y -r %d`; the header's bus is i2c_bus (1 on a Jetson Nano)" % target.bus_number)
    return Finding("i2c", "ok", "%s%s: chips answer at %s%s%s" % (prefix, target.name, listed, also, target.fault_note()))


# -- the kit ------------------------------------------------------------------------------------------

def kit_signatures(context: Context) -> List[Tuple[str, str, Dict[int, float]]]:
    """``(profile name, kit description, {address: pwm frequency})`` of every shipped profile and the configured one."""
    from ...profiles import available_profiles, load_profile
    configured = context.config.load_profile()
    out = []
    names = available_profiles()
    for name in names:
        profile = configured if name == configured.get("name") else load_profile(name)
        out.append((name, _kit_name(profile), _frequencies(profile)))
    if configured.get("name") not in names:
        out.append((str(context.config.profile_name), _kit_name(configured), _frequencies(configured)))
    return out


def _kit_name(profile: Any) -> str:
    return str(profile.get("description") or profile.get("name") or "your car").split(" (")[0]


def _frequencies(profile: Any) -> Dict[int, float]:
    return dict((int(profile[s]["i2c_address"]), float(profile[s]["pwm_frequency_hz"])) for s in ("steering", "throttle"))


def _hex(addresses: Any) -> str:
    return ", ".join("0x%02X" % a for a in sorted(addresses)) or "none"


def check_kit(context: Context) -> Finding:
    """Which kit the answering chips are, against the configured profile."""
    if "i2c_scan" not in context.shared:
        check_i2c(context)
    found = context.shared.get("i2c_scan")
    if found is None:
        owner = context.shared.get("i2c_owner")
        if owner:
            return Finding("kit", "skipped", "not checked: another process owns the motor chips (see i2c); it could "
                                             "not have started without them answering")
        return Finding("kit", "skipped", "not checked: the I2C bus could not be scanned (see i2c)",
                       "fix the i2c line first, then run jetracer doctor again")
    target = context.shared["i2c_target"][0]
    configured = context.config.load_profile()
    name = str(configured.get("name") or context.config.profile_name)
    mine = _profile_chips(configured)
    answering = set(found)
    signatures = kit_signatures(context)
    config_file = context.where_config()
    missing = sorted(a for a in mine if a not in answering)
    note = target.fault_note()
    if missing:
        return _missing_chips(context, target, name, mine, missing, answering, signatures, config_file, note)
    known = set(a for _, _, chips in signatures for a in chips)
    supersets = [(n, kit, chips) for n, kit, chips in signatures
                 if n != name and set(mine) < set(chips) and set(chips) <= answering]
    own_chips = ", ".join("0x%02X (%s)" % (a, "/".join(mine[a])) for a in sorted(mine))
    rates = _rates(target, mine)
    warnings = []  # type: List[Tuple[str, str]]
    if supersets:
        n, kit, chips = supersets[0]
        extra = sorted(set(chips) - set(mine))
        bench = ("; the emulated bus carries every shipped kit's chips (0x40 and 0x60) unless JETRACER_EMULATED_FAULTS="
                 "absent:0x60 wires it as an NVIDIA kit" if target.emulated else "")
        lost = "motors get" if "throttle" in _roles(n, extra) else "outputs at %s get" % _hex(extra)
        warnings.append(("%s answers too: that is the %s's (profile %s: %s)%s" % (_hex(extra), kit, n, _chip_roles(n),
                                                                                   bench),
                         "if this car is the %s, put `profile: %s` in %s (with %s its %s no signal); if not, the chip "
                         "at %s is another board and this can be ignored" % (kit, n, config_file, name, lost,
                                                                             _hex(extra))))
    clash = _rate_clash(configured, rates, signatures, name, config_file)
    if clash:
        warnings.append(clash)
    if warnings:
        return Finding("kit", "warning", "profile %s's chips answer at %s (%s), but %s%s"
                       % (name, own_chips, rates_text(rates), "; and ".join(w[0] for w in warnings), note),
                       "; ".join(w[1] for w in warnings))
    alike = [n for n, _, chips in signatures if n != name and set(chips) == set(mine)]
    same = "; %s use the same addresses" % ", ".join(alike) if alike else ""
    strays = sorted(a for a in answering if a not in known and a not in OLED_ADDRESSES and a != ALL_CALL
                    and a != context.config.display.i2c_address)
    stray = "; also answering: %s (not a chip of any kit profile)" % _hex(strays) if strays else ""
    return Finding("kit", "ok", "profile %s (%s) matches: its chips answer at %s (%s)%s%s%s"
                   % (name, _kit_name(configured), own_chips, rates_text(rates), same, stray, note))


def _roles(profile_name: str, addresses: List[int]) -> List[str]:
    from ...profiles import load_profile
    chips = _profile_chips(load_profile(profile_name))
    return [s for a in addresses for s in chips.get(a, [])]


def _chip_roles(profile_name: str) -> str:
    from ...profiles import load_profile
    chips = _profile_chips(load_profile(profile_name))
    return ", ".join("%s at 0x%02X" % ("/".join(s), a) for a, s in sorted(chips.items()))


def _missing_chips(context: Context, target: Target, name: str, mine: Dict[int, List[str]], missing: List[int],
                   answering: Any, signatures: Any, config_file: str, note: str) -> Finding:
    roles = "; ".join("0x%02X (%s)" % (a, "/".join(mine[a])) for a in missing)
    finding = "no chip answers at %s, profile %s's; answering on %s: %s" % (roles, name, target.name, _hex(answering))
    known = set(a for _, _, chips in signatures for a in chips)
    strays = sorted(a for a in answering if a not in known and a not in OLED_ADDRESSES and a != ALL_CALL
                    and a != context.config.display.i2c_address)
    if strays:
        where = strays[0]
        sections = [s for a in missing for s in mine[a]]
        overrides = ", ".join("%s: {i2c_address: 0x%02X}" % (s, where) for s in sections)
        return Finding("kit", "fail", finding + "; a chip answers at 0x%02X instead%s" % (where, note),
                       "if that is the board, its address jumpers (A0-A5) moved it: set them back so it answers at "
                       "%s, or tell jetracer its address: `profile_overrides: {%s}` in %s"
                       % (_hex(missing), overrides, config_file))
    matching = [(len(chips), n, kit) for n, kit, chips in signatures if n != name and set(chips) <= answering]
    if matching:
        most = max(m[0] for m in matching)
        best = sorted((n, kit) for size, n, kit in matching if size == most)
        kits = " or ".join("the %s (profile %s)" % (kit, n) for n, kit in best)
        return Finding("kit", "fail", finding + "; those are the chips of %s%s" % (kits, note),
                       "if this car is %s, put `profile: %s`%s in %s; if it is the %s, check the power and cable of "
                       "its board at %s" % (" or ".join("the %s" % kit for _, kit in best), best[0][0],
                                            " (or %s)" % ", ".join(n for n, _ in best[1:]) if best[1:] else "",
                                            config_file, _kit_name(context.config.load_profile()), _hex(missing)))
    return Finding("kit", "fail", finding + note,
                   "check the board's power (the car's battery switched on, the board's power LED lit) and its I2C "
                   "cable (SDA to pin 3, SCL to pin 5, 3.3 V and GND of the 40-pin header), then `sudo i2cdetect -y "
                   "-r %d` should show %s" % (target.bus_number, " and ".join("%02x" % a for a in missing)))


def _rates(target: Target, mine: Dict[int, List[str]]) -> Dict[int, Optional[int]]:
    """``{address: PRESCALE}`` of each of the profile's chips that is awake (None: asleep, not driven)."""
    prober = Prober(target)  # the caller checked that no other process owns these chips
    rates = {}  # type: Dict[int, Optional[int]]
    try:
        for address in sorted(mine):
            try:
                mode1 = prober.register(address, MODE1)
                rates[address] = None if mode1 & SLEEP else prober.register(address, PRESCALE)
            except OSError:
                rates[address] = None
    finally:
        prober.close()
    return rates


def rates_text(rates: Dict[int, Optional[int]]) -> str:
    from ...hardware.timing import frequency_for_prescale
    parts = []
    for address, prescale in sorted(rates.items()):
        parts.append("0x%02X %s" % (address, "asleep: not driven since power-on" if prescale is None else
                                    "running at %.1f Hz" % frequency_for_prescale(prescale)))
    return ", ".join(parts)


def _rate_clash(configured: Any, rates: Dict[int, Optional[int]], signatures: Any, name: str,
                config_file: str) -> Optional[Tuple[str, str]]:
    """A chip driven at another kit's rate than the profile's: (finding, fix), or None."""
    from ...hardware.timing import frequency_for_prescale, prescale_for
    mine = _frequencies(configured)
    for address, prescale in sorted(rates.items()):
        if prescale is None or prescale == prescale_for(mine[address]):
            continue
        others = [(n, kit) for n, kit, chips in signatures
                  if n != name and address in chips and prescale_for(chips[address]) == prescale]
        hz = frequency_for_prescale(prescale)
        if others:
            n, kit = others[0]
            return ("the PCA9685 at 0x%02X runs at %.1f Hz, as what drove it last set it: the %s's rate (profile %s), "
                    "where profile %s drives it at %g Hz" % (address, hz, kit, n, name, mine[address]),
                    "if this car is the %s, put `profile: %s` in %s; if not, nothing to do: jetracer sets %g Hz when "
                    "it starts" % (kit, n, config_file, mine[address]))
    return None


# -- the OLED -----------------------------------------------------------------------------------------

def check_oled(context: Context) -> Finding:
    """The SSD1306 at display.i2c_address answers (a read of its status byte)."""
    target, finding = bus_target(context)
    if target is None:
        return Finding("oled", "skipped", "not checked: no I2C bus (see i2c)")
    address = context.config.display.i2c_address
    prober = Prober(target)

    def probe() -> Dict[int, Optional[str]]:
        try:
            return dict((a, prober.answers(a)) for a in sorted(set((address,) + OLED_ADDRESSES)))
        finally:
            prober.close()

    finished, answers, error = time_boxed(probe, SCAN_TIMEOUT_S, "doctor-oled")
    prefix = "%s: " % target.note if target.note else ""
    if not finished:
        return Finding("oled", "fail", "%sreading 0x%02X on %s did not finish within %.0f s: the bus hangs"
                       % (prefix, address, target.name, SCAN_TIMEOUT_S),
                       "switch the car off, unplug the OLED and run `sudo i2cdetect -y -r %d`" % target.bus_number)
    if error is not None:
        return Finding("oled", "fail", "%scannot read %s: %s" % (prefix, target.name, one_line(error)),
                       "see the i2c line")
    if answers.get(address) is not None:
        return Finding("oled", "ok", "%sa chip answers at 0x%02X, display.i2c_address (the SSD1306 OLED)%s"
                       % (prefix, address, target.fault_note()))
    elsewhere = [a for a in OLED_ADDRESSES if a != address and answers.get(a) is not None]
    if elsewhere:
        return Finding("oled", "warning", "%snothing answers at 0x%02X (display.i2c_address) but a chip answers at "
                                          "0x%02X, the OLED's other address%s"
                       % (prefix, address, elsewhere[0], target.fault_note()),
                       "put `display: {i2c_address: 0x%02X}` in %s (its address jumper is moved)"
                       % (elsewhere[0], context.where_config()))
    return Finding("oled", "warning", "%sno OLED answers at 0x%02X (display.i2c_address) on %s%s"
                   % (prefix, address, target.name, target.fault_note()),
                   "the OLED is optional (jetracer-display then shows nothing); if the car has one, check its 4-pin "
                   "cable (VCC, GND, SDA, SCL on the same I2C pins as the motor board) and its address (0x3C, or 0x3D "
                   "with the jumper moved: display.i2c_address)")
