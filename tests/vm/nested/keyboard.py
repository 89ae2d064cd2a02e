#!/usr/bin/python3
# A keyboard made through /dev/uinput for the single-GPU scenario: it appears as an event
# device, says "ready" in READY, waits until the file CUE exists, then types the escape chord
# (left Ctrl + left Alt + F12, the default of single.chord: pressed together, then released)
# and stays until it is stopped (the device goes with it).
# usage: keyboard.py READY CUE
import fcntl, os, struct, sys, time

UI_SET_EVBIT, UI_SET_KEYBIT, UI_DEV_CREATE = 0x40045564, 0x40045565, 0x5501
EV_SYN, EV_KEY = 0, 1
KEY_LEFTCTRL, KEY_LEFTALT, KEY_F12 = 29, 56, 88
chord = (KEY_LEFTCTRL, KEY_LEFTALT, KEY_F12)

fd = os.open("/dev/uinput", os.O_WRONLY)
fcntl.ioctl(fd, UI_SET_EVBIT, EV_KEY)
for key in chord:
    fcntl.ioctl(fd, UI_SET_KEYBIT, key)
# struct uinput_user_dev: name[80], input_id (bustype, vendor, product, version), ff_effects_max,
# then absmax, absmin, absfuzz, absflat (64 ints each)
os.write(fd, struct.pack("80sHHHHi", b"neuron-lane-keyboard", 0x03, 0x1234, 0x5678, 1, 0) + b"\0" * (4 * 64 * 4))
fcntl.ioctl(fd, UI_DEV_CREATE)
time.sleep(0.5)  # the event node appears
with open(sys.argv[1], "w") as f:
    f.write("ready\n")

def event(kind, code, value):
    os.write(fd, struct.pack("llHHi", 0, 0, kind, code, value))

while not os.path.exists(sys.argv[2]):
    time.sleep(0.1)
for key in chord:
    event(EV_KEY, key, 1)
    event(EV_SYN, 0, 0)
    time.sleep(0.05)
for key in reversed(chord):
    event(EV_KEY, key, 0)
    event(EV_SYN, 0, 0)
while True:
    time.sleep(1)
