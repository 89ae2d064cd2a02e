#!/usr/bin/python3
"""Two independent checks on every machine description:

1. The generator is honest: pciutils' own lspci, reading the generated tree through
   -A linux-sysfs -O sysfs.path=..., sees the devices, ids, classes, revisions,
   drivers and IOMMU groups the YAML describes.
2. Each device line of `neuronctl scan` is the line lspci -nn prints for it.
3. neuronctl scan --json gives DESIGN.md's verdicts, computed here from the YAML alone
   (a second implementation of the rules, in Python, so one cannot drift silently).

usage: check.py NEURONCTL SYSROOTS MACHINE.yaml...
Prints one line per failure and a closing "N passed, N failed".
"""
import json
import os
import subprocess
import sys

import yaml


def norm_addr(a):
    a = str(a).lower()
    if a.count(":") == 1:
        a = "0000:" + a
    d, b, rest = a.split(":")
    dev, fn = rest.split(".")
    return "%04x:%02x:%02x.%x" % (int(d, 16), int(b, 16), int(dev, 16), int(fn, 16))


def h(v, w):
    return ("%0*x" % (w, v)) if isinstance(v, int) else str(v).lower().replace("0x", "").zfill(w)


def lspci_view(sysroot):
    out = subprocess.run(["lspci", "-A", "linux-sysfs", "-O", "sysfs.path=%s/sys/bus/pci" % sysroot,
                          "-vmm", "-nn", "-D", "-k", "-v"], capture_output=True, text=True, check=True).stdout
    devs = {}
    for block in out.strip().split("\n\n"):
        rec = {}
        for line in block.splitlines():
            k, _, v = line.partition(":\t")
            rec[k] = v
        devs[rec["Slot"]] = rec
    return devs


def bracket(v):
    return v.rsplit("[", 1)[1].rstrip("]")


def expected_devices(machine):
    exp = {}
    for d in machine.get("devices") or []:
        exp[norm_addr(d["addr"])] = {
            "class": h(d.get("class", "0000"), 4), "vendor": h(d["vendor"], 4), "device": h(d["device"], 4),
            "rev": h(d.get("revision", "00"), 2), "progif": h(d.get("prog_if", "00"), 2),
            "driver": d.get("driver"), "group": d.get("group"),
        }
    return exp


def check_lspci(name, machine, sysroot, fails):
    exp = expected_devices(machine)
    got = lspci_view(sysroot)
    if sorted(exp) != sorted(got):
        fails.append("%s: lspci sees %s, the YAML describes %s" % (name, sorted(got), sorted(exp)))
        return
    for addr, e in exp.items():
        g = got[addr]
        seen = {"class": bracket(g["Class"]), "vendor": bracket(g["Vendor"]), "device": bracket(g["Device"]),
                "rev": g.get("Rev", "00"), "progif": g.get("ProgIf", "00"), "driver": g.get("Driver"),
                "group": int(g["IOMMUGroup"]) if "IOMMUGroup" in g else None}
        for k in e:
            if seen[k] != e[k]:
                fails.append("%s %s: lspci reads %s=%r, the YAML says %r" % (name, addr, k, seen[k], e[k]))


def oracle(machine):
    """DESIGN.md's verdict rules, from the description alone."""
    devs = {norm_addr(d["addr"]): d for d in machine.get("devices") or []}
    cls = {a: h(d.get("class", "0000"), 4) for a, d in devs.items()}
    ident = {a: "%s:%s" % (h(d["vendor"], 4), h(d["device"], 4)) for a, d in devs.items()}
    group = {a: d.get("group") for a, d in devs.items()}
    bridge = {a: cls[a] in ("0600", "0604") for a in devs}
    boot = machine.get("boot_vga")
    if boot is None:
        vgas = sorted(a for a in devs if cls[a] == "0300")
        onboard = [a for a in vgas if a.split(":")[1] == "00"]
        boot = (onboard or vgas or [None])[0]
    else:
        boot = norm_addr(boot)
    groups = {}
    for a in sorted(devs):
        if group[a] is not None:
            groups.setdefault(int(group[a]), []).append(a)
    gpus = []
    for a in sorted(devs):
        if not cls[a].startswith("03"):
            continue
        funcs = [b for b in sorted(devs) if b.rsplit(".", 1)[0] == a.rsplit(".", 1)[0]]
        gids = []
        for f in funcs:
            if group[f] is not None and int(group[f]) not in gids:
                gids.append(int(group[f]))
        pset = sorted(set(sum((groups[g] for g in gids), [])) | set(funcs))
        blockers = [b for b in pset if not bridge[b] and b not in funcs]
        ids = []
        for b in pset:
            if not bridge[b] and ident[b] not in ids:
                ids.append(ident[b])
        grouped = all(group[f] is not None for f in funcs) and gids
        coll = [b for b in sorted(devs) if b not in pset and not bridge[b] and ident[b] in ids]
        gpus.append({"addr": a, "boot_vga": a == boot, "iommu_group": group[a], "functions": funcs,
                     "isolated": bool(grouped) and not blockers, "vfio_ids": ids, "blockers": blockers,
                     "host_collisions": coll})
    return {"iommu": bool(groups), "groups": [{"id": g, "devices": groups[g]} for g in sorted(groups)],
            "gpus": gpus}


def check_scan(name, machine, sysroot, neuronctl, fails):
    out = subprocess.run([neuronctl, "--sysroot", sysroot, "scan", "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        fails.append("%s: scan --json exited %d: %s" % (name, out.returncode, out.stderr.strip()))
        return
    got = json.loads(out.stdout)
    want = oracle(machine)
    if got["iommu"] != want["iommu"]:
        fails.append("%s: iommu %r, expected %r" % (name, got["iommu"], want["iommu"]))
    if got["groups"] != want["groups"]:
        fails.append("%s: groups %r, expected %r" % (name, got["groups"], want["groups"]))
    exp = expected_devices(machine)
    for d in got["devices"]:
        e = exp.get(d["addr"])
        if e is None or (d["class"], d["vendor"], d["device"], d["driver"], d["iommu_group"]) != \
                (e["class"], e["vendor"], e["device"], e["driver"], e["group"]):
            fails.append("%s: device %r does not match the YAML %r" % (name, d, e))
    if len(got["devices"]) != len(exp):
        fails.append("%s: %d devices, expected %d" % (name, len(got["devices"]), len(exp)))
    gg = {g["addr"]: g for g in got["gpus"]}
    if sorted(gg) != [g["addr"] for g in want["gpus"]]:
        fails.append("%s: GPUs %s, expected %s" % (name, sorted(gg), [g["addr"] for g in want["gpus"]]))
        return
    for w in want["gpus"]:
        g = gg[w["addr"]]
        for k, v in w.items():
            if g.get(k) != v:
                fails.append("%s GPU %s: %s is %r, DESIGN.md's rules give %r" % (name, w["addr"], k, g.get(k), v))


def check_listing(name, sysroot, neuronctl, fails):
    """Each device line of `neuronctl scan` is lspci -nn's line for that device."""
    ours = subprocess.run([neuronctl, "--sysroot", sysroot, "scan"], capture_output=True, text=True).stdout
    lines = []
    for line in ours.split("\n\n")[0].splitlines():
        if line.startswith("IOMMU is off"):
            continue
        if line.startswith("IOMMU Group ") or line.startswith("No IOMMU group: "):
            line = line.split(": ", 1)[1]
        lines.append(line)
    # names come from pci.ids alone (no udev hwdb), on both sides
    theirs = subprocess.run(["lspci", "-A", "linux-sysfs", "-O", "sysfs.path=%s/sys/bus/pci" % sysroot,
                             "-O", "hwdb.disable=1", "-nn"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for line in sorted(set(lines) ^ set(theirs)):
        fails.append("%s: listing differs from lspci -nn: %s %s" % (name, "ours  " if line in lines else "lspci", line))


def main():
    neuronctl, sysroots, machines = sys.argv[1], sys.argv[2], sys.argv[3:]
    passed = failed = 0
    for path in machines:
        name = os.path.basename(path)[:-5]
        with open(path) as f:
            machine = yaml.safe_load(f)
        sysroot = os.path.join(sysroots, name)
        for check in (lambda fl: check_lspci(name, machine, sysroot, fl),
                      lambda fl: check_listing(name, sysroot, neuronctl, fl),
                      lambda fl: check_scan(name, machine, sysroot, neuronctl, fl)):
            fails = []
            try:
                check(fails)
            except Exception as e:  # a crash of a check is a failure, with its reason
                fails.append("%s: %s: %s" % (name, type(e).__name__, e))
            for line in fails:
                print("FAIL " + line)
            if fails:
                failed += 1
            else:
                passed += 1
    print("generator: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
