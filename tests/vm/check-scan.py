#!/usr/bin/python3
"""Compare `neuronctl scan --json` taken inside a guest with what that guest's kernel says.

usage: check-scan.py SCAN.JSON SYSFS.TXT PASSTHROUGH-GPU BOOT-GPU
SYSFS.TXT has one line per PCI device: addr class vendor device iommu_group driver boot_vga,
read by the guest straight from sysfs. Prints one "ok - " / "not ok - " line per check and
exits 1 when one failed."""
import json
import sys

scan_path, sysfs_path, gpu, boot = sys.argv[1:5]
failed = 0


def check(what, cond, detail=""):
    global failed
    print("  %s - %s%s" % ("ok" if cond else "not ok", what, "" if cond else ": " + detail))
    failed += 0 if cond else 1


scan = json.load(open(scan_path))
kernel = {}
for line in open(sysfs_path):
    addr, cls, vendor, device, group, driver, boot_vga = line.split()
    kernel[addr] = {"class": cls[2:6], "vendor": vendor[2:], "device": device[2:],
                    "iommu_group": None if group == "null" else int(group),
                    "driver": None if driver == "none" else driver,
                    "boot_vga": boot_vga == "1"}

check("scan says the IOMMU is on", scan.get("iommu") is True, repr(scan.get("iommu")))
found = {d["addr"]: d for d in scan.get("devices", [])}
check("scan lists exactly the kernel's PCI devices", sorted(found) == sorted(kernel),
      "scan %s, kernel %s" % (sorted(found), sorted(kernel)))
for addr, k in sorted(kernel.items()):
    d = found.get(addr, {})
    diff = {f: (d.get(f), v) for f, v in k.items() if d.get(f) != v}
    check("%s: class, ids, group, driver, boot_vga as the kernel says" % addr, not diff,
          "scan vs kernel: %r" % diff)

groups = {}
for addr, k in kernel.items():
    if k["iommu_group"] is not None:
        groups.setdefault(k["iommu_group"], []).append(addr)
scan_groups = {g["id"]: sorted(g["devices"]) for g in scan.get("groups", [])}
check("scan's IOMMU groups are the kernel's", scan_groups == {g: sorted(a) for g, a in groups.items()},
      "scan %r, kernel %r" % (scan_groups, groups))

gpus = {g["addr"]: g for g in scan.get("gpus", [])}
vgas = sorted(a for a, k in kernel.items() if k["class"].startswith("03"))
check("scan finds every display controller as a GPU", sorted(gpus) == vgas,
      "gpus %s, kernel 03xx %s" % (sorted(gpus), vgas))
b, g = gpus.get(boot, {}), gpus.get(gpu, {})
check("%s is the boot GPU" % boot, b.get("boot_vga") is True and kernel[boot]["boot_vga"], repr(b))
check("%s is not the boot GPU" % gpu, g.get("boot_vga") is False, repr(g))
check("%s is isolated, alone in its group, no blockers" % gpu,
      g.get("isolated") is True and g.get("blockers") == [] and g.get("functions") == [gpu]
      and g.get("iommu_group") == kernel[gpu]["iommu_group"], repr(g))
ids = "%s:%s" % (kernel[gpu]["vendor"], kernel[gpu]["device"])
check("%s has vfio_ids [%s]" % (gpu, ids), g.get("vfio_ids") == [ids], repr(g.get("vfio_ids")))
# Both VGAs are 1234:1111: binding by id would take the host's boot GPU too.
check("%s must be bound by address (its id is also the boot GPU's)" % gpu,
      g.get("bind_by_address") is True, repr(g.get("bind_by_address")))
sys.exit(1 if failed else 0)
