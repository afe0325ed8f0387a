"""The Linux input event codes python-evdev's ``ecodes`` exposes (the subset gamepads use), same values."""
EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_MSC, EV_FF = 0x00, 0x01, 0x02, 0x03, 0x04, 0x15

ABS_X, ABS_Y, ABS_Z, ABS_RX, ABS_RY, ABS_RZ = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
ABS_HAT0X, ABS_HAT0Y = 0x10, 0x11

BTN_GAMEPAD = BTN_SOUTH = BTN_A = 0x130
BTN_EAST = BTN_B = 0x131
BTN_C = 0x132
BTN_NORTH = BTN_X = 0x133
BTN_WEST = BTN_Y = 0x134
BTN_Z = 0x135
BTN_TL, BTN_TR, BTN_TL2, BTN_TR2 = 0x136, 0x137, 0x138, 0x139
BTN_SELECT, BTN_START, BTN_MODE = 0x13A, 0x13B, 0x13C
BTN_THUMBL, BTN_THUMBR = 0x13D, 0x13E
KEY_A = 30

EV = dict((v, k) for k, v in globals().items() if k.startswith("EV_"))
ABS = dict((v, k) for k, v in globals().items() if k.startswith("ABS_"))
BTN = dict((v, k) for k, v in sorted(globals().items()) if k.startswith("BTN_"))
KEY = {KEY_A: "KEY_A"}
ecodes = dict((k, v) for k, v in globals().items() if k.isupper() and isinstance(v, int))
