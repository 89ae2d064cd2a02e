"""Give Xvfb's one RandR output more modes, and keep them while this runs.

Xvfb (xorg-server 21.1) starts with one mode, the -screen size, which is also the largest
screen it allows. A mode made with `xrandr --newmode` is freed as soon as that xrandr
exits, before a second `xrandr --addmode` can attach it, and while the client that made a
mode lives, the mode stays. So this makes the modes and attaches them in one connection
(libXrandr through ctypes), prints "ready", and holds the connection until it is killed (two minutes at most),
like a display driver that offers several sizes. Usage: xrandr-modes.py WxH...
(XRANDR_MODES_HOLD=SECONDS holds them longer: tests/win's Wine run takes minutes.)
"""
import ctypes
import os
import sys
import time

X = ctypes.CDLL("libX11.so.6")
R = ctypes.CDLL("libXrandr.so.2")


class ModeInfo(ctypes.Structure):
    _fields_ = [("id", ctypes.c_ulong), ("width", ctypes.c_uint), ("height", ctypes.c_uint),
                ("dotClock", ctypes.c_ulong), ("hSyncStart", ctypes.c_uint),
                ("hSyncEnd", ctypes.c_uint), ("hTotal", ctypes.c_uint), ("hSkew", ctypes.c_uint),
                ("vSyncStart", ctypes.c_uint), ("vSyncEnd", ctypes.c_uint),
                ("vTotal", ctypes.c_uint), ("name", ctypes.c_char_p),
                ("nameLength", ctypes.c_uint), ("modeFlags", ctypes.c_ulong)]


class ScreenResources(ctypes.Structure):
    _fields_ = [("timestamp", ctypes.c_ulong), ("configTimestamp", ctypes.c_ulong),
                ("ncrtc", ctypes.c_int), ("crtcs", ctypes.POINTER(ctypes.c_ulong)),
                ("noutput", ctypes.c_int), ("outputs", ctypes.POINTER(ctypes.c_ulong)),
                ("nmode", ctypes.c_int), ("modes", ctypes.c_void_p)]


X.XOpenDisplay.restype = ctypes.c_void_p
X.XOpenDisplay.argtypes = [ctypes.c_char_p]
X.XDefaultRootWindow.restype = ctypes.c_ulong
X.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
X.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
R.XRRGetScreenResources.restype = ctypes.POINTER(ScreenResources)
R.XRRGetScreenResources.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
R.XRRCreateMode.restype = ctypes.c_ulong
R.XRRCreateMode.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ModeInfo)]
R.XRRAddOutputMode.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]

dpy = X.XOpenDisplay(None)
if not dpy:
    sys.exit("cannot open the display")
root = X.XDefaultRootWindow(dpy)
res = R.XRRGetScreenResources(dpy, root)
if not res or res.contents.noutput < 1:
    sys.exit("no RandR output")
output = res.contents.outputs[0]
for size in sys.argv[1:]:
    w, h = (int(v) for v in size.split("x"))
    name = size.encode()
    mode = ModeInfo(0, w, h, w * h * 60, w, w, w, 0, h, h, h, name, len(name), 0)
    R.XRRAddOutputMode(dpy, output, R.XRRCreateMode(dpy, root, ctypes.byref(mode)))
X.XSync(dpy, 0)
print("ready", flush=True)
time.sleep(int(os.environ.get("XRANDR_MODES_HOLD", "120")))
