#!/usr/bin/python3
"""neuron-tui in a pseudo-terminal of 80x24, beside htop started the same way:

  first frame   spawn to the F-key bar on the terminal (median of several starts)
  redraw        a key written to the terminal to the first byte of the new frame
  idle CPU      user+system time of the process over 10 s of doing nothing
  max RSS       VmHWM of the process at the end

on the demo machine (--demo, libvirt test:///default) and on a generated machine of 1024
devices. htop's figures put them in scale: it is the model of a fast terminal program
(it redraws on a timer, so its idle CPU is not zero by design)."""
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import fcntl
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_bench import GEN, machine  # noqa: E402  the same 1024-device machine as the scan bench
import subprocess  # noqa: E402
import yaml  # noqa: E402

BUILD = os.environ["BUILD"]
TUI = os.path.join(BUILD, "neuron-tui")
HZ = os.sysconf("SC_CLK_TCK")


def spawn(argv, env):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return pid, fd


def read_until(fd, needle, timeout=10.0):
    """Read the pty until needle was seen; returns the seconds it took, or None."""
    buf, t0 = b"", time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return None
            buf += chunk
            if needle in buf:
                return time.perf_counter() - t0
    return None


def drain(fd, quiet=0.05):
    while True:
        r, _, _ = select.select([fd], [], [], quiet)
        if not r:
            return
        try:
            os.read(fd, 65536)
        except OSError:
            return


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def stop(pid, fd, quit_key):
    try:
        os.write(fd, quit_key)
    except OSError:
        pass
    for _ in range(50):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


def first_frames(argv, env, needle, quit_key, reps=7):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        pid, fd = spawn(argv, env)
        dt = read_until(fd, needle)
        if dt is None:
            stop(pid, fd, quit_key)
            return None
        times.append((time.perf_counter() - t0) * 1000)
        drain(fd)
        stop(pid, fd, quit_key)
    return statistics.median(times)


def session(argv, env, needle, quit_key, keys, idle_s):
    """One run: redraw latency over keys, idle CPU over idle_s, max RSS."""
    pid, fd = spawn(argv, env)
    if read_until(fd, needle) is None:
        stop(pid, fd, quit_key)
        return None
    drain(fd, 0.2)
    lat = []
    for k in keys:
        t0 = time.perf_counter()
        os.write(fd, k)
        r, _, _ = select.select([fd], [], [], 2.0)
        if r:
            lat.append((time.perf_counter() - t0) * 1000)
        drain(fd, 0.02)
    c0 = cpu_ticks(pid)
    # keep reading what it draws, like a terminal does
    t_end = time.time() + idle_s
    while time.time() < t_end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                os.read(fd, 65536)
            except OSError:
                break
    c1 = cpu_ticks(pid)
    rss = hwm_kib(pid)
    stop(pid, fd, quit_key)
    return (statistics.median(lat) if lat else float("nan"), max(lat) if lat else float("nan"),
            100.0 * (c1 - c0) / HZ / idle_s, rss)


def main():
    idle_s = float(os.environ.get("BENCH_IDLE_S", "10"))
    env = dict(os.environ, TERM="xterm-256color", LC_ALL="C.UTF-8")
    env.pop("NO_COLOR", None)
    env["NEURON_DEMO_SYSROOT"] = os.path.join(BUILD, "sysroots", "demo")
    down, up = b"\x1bOB", b"\x1bOA"       # the same keys (keypad mode) for both programs
    keys = [down, up] * 20
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "m1024")
        with open(big + ".yaml", "w") as f:
            yaml.safe_dump(machine(1024), f)
        subprocess.run([sys.executable, GEN, big + ".yaml", big], check=True)
        root = os.path.join(tmp, "root")
        os.mkdir(root)
        runs = [
            ("neuron-tui --demo", [TUI, "--demo"]),
            ("neuron-tui 1024 devices", [TUI, "--sysroot", big, "--root", root, "--connect", "test:///default"]),
        ]
        print("%-26s %12s %12s %12s %10s %10s" % ("program", "first frame", "redraw med", "redraw max",
                                                  "idle CPU", "max RSS"))
        results = {}
        for name, argv in runs:
            ff = first_frames(argv, env, b"Quit", b"q")
            s = session(argv, env, b"Quit", b"q", keys, idle_s)
            if ff is None or s is None:
                print("%-26s did not draw its first frame" % name)
                continue
            results[name] = (ff,) + s
            print("%-26s %9.1f ms %9.2f ms %9.2f ms %9.2f%% %7d KiB" % ((name,) + results[name]))
        htop = shutil.which("htop")
        if htop:
            henv = dict(env, HTOPRC=os.path.join(tmp, "htoprc"))
            ff = first_frames([htop], henv, b"Quit", b"q")
            s = session([htop], henv, b"Quit", b"q", keys, idle_s)
            if ff is not None and s is not None:
                results["htop"] = (ff,) + s
                print("%-26s %9.1f ms %9.2f ms %9.2f ms %9.2f%% %7d KiB" % (("htop",) + results["htop"]))
        else:
            print("htop is not installed (make deps): no peer figures")
        if "htop" in results:
            h = results["htop"]
            for name in (n for n, _ in runs if n in results):
                r = results[name]
                print("%s / htop: first frame %.2fx, redraw %.2fx, max RSS %.2fx" %
                      (name, r[0] / h[0], r[1] / h[1], r[4] / h[4]))
        print("goals: first frame < 50 ms, redraw < 5 ms, idle CPU 0%, max RSS < 16 MB (16384 KiB)")


if __name__ == "__main__":
    main()
