#!/usr/bin/python3
"""make bench, names part: `neuronctl vfio plan`, `vm xml` and `check` on a fixture machine,
each beside `neuronctl --version` (start-up, nothing read) in the same run, alternating:
medians of wall time and, when valgrind is present, instruction counts (callgrind:
repeatable on a noisy machine). The goal is 2x --version: a command pays for the names
it prints (pci.ids is indexed on the first one, and read no further than the block a
name is in), not for all of pci.ids."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))


def instructions(cmd, tmp):
    out = os.path.join(tmp, "cg.out")
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                       capture_output=True, text=True, cwd=TOP)
    for line in r.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[1].strip())
    return None


def main():
    nc = os.environ["NEURONCTL"]
    sysroot = os.path.join(os.environ["BUILD"], "sysroots", "intel-nvidia")
    if not os.path.isdir(sysroot):
        print("bench-names: build the sysroots first (make check)")
        return
    with tempfile.TemporaryDirectory(prefix="neuron-bench-names-") as tmp:
        root = os.path.join(tmp, "root")
        subprocess.run(["sh", os.path.join(TOP, "tests", "vfio", "make-root.sh"), "arch-grub-mkinitcpio", root],
                       check=True, stdout=subprocess.DEVNULL)
        cmds = [
            ("--version", [nc, "--version"]),
            ("vfio plan", [nc, "--sysroot", sysroot, "--root", root, "--param",
                           "run.standins=" + os.path.join(TOP, "tests", "vfio", "standins"), "vfio", "plan"]),
            ("vm xml", [nc, "--sysroot", sysroot, "vm", "xml", "--profile", "config/profiles/windows11.yaml"]),
            ("check", [nc, "--sysroot", sysroot, "check"]),
        ]
        times = {name: [] for name, _ in cmds}
        for _ in range(31):
            for name, cmd in cmds:
                t0 = time.perf_counter()
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=TOP)
                times[name].append((time.perf_counter() - t0) * 1000)
        have_vg = shutil.which("valgrind") is not None
        base_t = statistics.median(times["--version"])
        base_i = instructions(cmds[0][1], tmp) if have_vg else None
        print("%-12s %10s %8s %14s %8s" % ("command", "median ms", "ratio", "instructions", "ratio"))
        for name, cmd in cmds:
            t = statistics.median(times[name])
            i = instructions(cmd, tmp) if have_vg else None
            print("%-12s %10.2f %7.2fx %14s %8s" % (name, t, t / base_t, i if i else "-",
                                                    "%.2fx" % (i / base_i) if i and base_i else "-"))
        print("goal: each within 2x of neuronctl --version (ratio <= 2.00)")


if __name__ == "__main__":
    main()
