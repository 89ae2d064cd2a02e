#!/usr/bin/python3
"""make bench, scan part: neuronctl scan beside lspci -nn and the well-known shell loop over
sys/kernel/iommu_groups that calls lspci per device, on generated machines of 256, 1024,
4096 and 16384 devices (a quarter as many IOMMU groups, 16 GPUs). Prints medians, ratios,
max RSS, system calls per device (strace -c -f, when strace is present) and, when valgrind
is present, instruction counts (repeatable on a noisy machine)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "fixtures", "gen-sysroot.py")
SHELL_LOOP = r'''
sys=$1/sys
for g in $(find "$sys/kernel/iommu_groups/"* -maxdepth 0 -type d | sort -V); do
    echo "IOMMU Group ${g##*/}:"
    for d in "$g"/devices/*; do
        echo "	$(lspci -A linux-sysfs -O sysfs.path="$sys/bus/pci" -nns "${d##*/}")"
    done
done
'''
DEVICE_KINDS = [  # (class, vendor, device, driver) for the non-GPU devices
    ("0108", "144d", "a808", "nvme"), ("0200", "8086", "1563", "ixgbe"),
    ("0c03", "1022", "149c", "xhci_hcd"), ("0106", "8086", "a352", "ahci"),
]


def machine(n_devices):
    groups = n_devices // 4
    devs = []
    for g in range(groups):
        bus = g + 1
        dom = bus // 256
        bus %= 256
        if g % (groups // 16) == 0 and sum(1 for d in devs if d["class"] == "0300") < 16:
            fns = [("0300", "10de", "2684", "nvidia"), ("0403", "10de", "22ba", "snd_hda_intel"),
                   ("0c03", "10de", "1ada", "xhci_hcd"), ("0c80", "10de", "1adb", "nvidia-gpu")]
        else:
            fns = [DEVICE_KINDS[(g + k) % len(DEVICE_KINDS)] for k in range(4)]
        for fn, (cls, ven, dev, drv) in enumerate(fns):
            devs.append({"addr": "%04x:%02x:00.%d" % (dom, bus, fn), "class": cls, "vendor": ven,
                         "device": dev, "group": g, "driver": drv})
    return {"cpu_vendor": "AuthenticAMD", "devices": devs}


def run(cmd, reps):
    """Median wall time (ms) over reps runs, and the max RSS (KiB) of one more run under
    /usr/bin/time (a forked Python's own pages would otherwise count as the child's)."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1000)
        if r.returncode != 0:
            raise SystemExit("bench: %s failed" % " ".join(cmd))
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    rss = int(r.stderr.strip().splitlines()[-1])
    return statistics.median(times), rss


def instructions(cmd, tmp):
    out = os.path.join(tmp, "cg.out")
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                       capture_output=True, text=True)
    for line in r.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[1].strip())
    return None


def syscalls(cmd, tmp):
    """System calls of one run (strace -c -f), the process's start-up included."""
    out = os.path.join(tmp, "strace.out")
    subprocess.run(["strace", "-c", "-f", "-o", out] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        for line in f:
            if line.rstrip().endswith(" total"):
                return int(line.split()[3])
    return None


def main():
    neuronctl = os.environ["NEURONCTL"]
    have_valgrind = subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode == 0
    have_strace = subprocess.run(["sh", "-c", "command -v strace"], capture_output=True).returncode == 0
    with tempfile.TemporaryDirectory() as tmp:
        print("%-6s %-26s %10s %10s %9s" % ("devs", "command", "median ms", "max RSS KiB", "time/scan"))
        per_device = []
        for n in (256, 1024, 4096, 16384):
            root = os.path.join(tmp, "m%d" % n)
            with open(root + ".yaml", "w") as f:
                yaml.safe_dump(machine(n), f)
            subprocess.run([sys.executable, GEN, root + ".yaml", root], check=True)
            ours = [neuronctl, "--sysroot", root, "scan"]
            lspci = ["lspci", "-A", "linux-sysfs", "-O", "sysfs.path=%s/sys/bus/pci" % root, "-nn"]
            reps = 9 if n <= 4096 else 3
            t_ours, rss_ours = run(ours, reps)
            t_lspci, rss_lspci = run(lspci, reps)
            print("%-6d %-26s %10.1f %10d %9s" % (n, "neuronctl scan", t_ours, rss_ours, "1.00"))
            print("%-6d %-26s %10.1f %10d %8.2fx   scan/lspci -nn = %.2f" %
                  (n, "lspci -nn", t_lspci, rss_lspci, t_lspci / t_ours, t_ours / t_lspci))
            if have_strace and n == 1024:
                s_ours, s_lspci = syscalls(ours, tmp), syscalls(lspci, tmp)
                if s_ours and s_lspci:
                    print("%-6d system calls per device: neuronctl scan %.1f, lspci -nn %.1f" %
                          (n, s_ours / n, s_lspci / n))
            if n <= 1024:
                t_loop, _ = run(["sh", "-c", SHELL_LOOP, "loop", root], 1 if n == 1024 else 3)
                print("%-6d %-26s %10.1f %10s %8.1fx" % (n, "shell loop + lspci -nns", t_loop, "-", t_loop / t_ours))
            per_device.append((n, t_ours / n))
            if n == 1024 and have_valgrind:
                i_ours, i_lspci = instructions(ours, tmp), instructions(lspci, tmp)
                if i_ours and i_lspci:
                    print("%-6d instructions: neuronctl scan %d, lspci -nn %d: scan/lspci = %.2f" %
                          (n, i_ours, i_lspci, i_ours / i_lspci))
        print("scan cost per device (ms): " + ", ".join("%d: %.4f" % p for p in per_device))
        print("goals: scan/lspci -nn <= 1.00, <= 10 system calls per device, "
              ">= 20x faster than the shell loop, per-device cost flat (linear growth to 16384)")


if __name__ == "__main__":
    main()
