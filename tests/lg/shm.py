#!/usr/bin/python3
"""Make Looking Glass shared memory files for the tests, and be the guest's host app.

  shm.py make KIND PATH     write a file of one kind (see KINDS)
  shm.py bump PATH [--every MS] [--restart-after MS] [--for MS] [--ready FILE]
        map PATH shared and move the B7 timestamp (u64 at 16) every MS like a running
        host application; after --restart-after MS, switch to a new session id (u32 at 8)
        as a restarted host application would. Touches FILE once it has bumped.

B7 layout (DESIGN.md): "LGMP" magic 0x504d474c @0, version 6 @4, session id @8,
timestamp in ms @16; a KVMFR record ("KVMFR---", version u32, host version string)
after the header. "newer" is the layout this project assumes for later releases: the
same header at offset 4096, version 7 (see core/lg/lg_status.c)."""
import mmap
import os
import random
import struct
import sys
import time

SIZE = 1 << 20          # 1 MiB: small for tests, large enough for every layout
MAGIC = 0x504D474C


def header(version, session, timestamp):
    return struct.pack("<IIIIQ", MAGIC, version, session, 0, timestamp)


def kvmfr(version=20, hostver=b"B7"):
    return b"KVMFR---" + struct.pack("<I", version) + hostver.ljust(32, b"\0")


def image(kind):
    buf = bytearray(SIZE)
    if kind == "empty":
        return b""
    if kind == "zeros":
        return bytes(buf)
    if kind in ("b7", "b7-stale"):
        buf[0:24] = header(6, 0x1234ABCD, 1_700_000_000_000)
        buf[0x100:0x100 + 44] = kvmfr()
        return bytes(buf)
    if kind == "b7-nokvmfr":
        buf[0:24] = header(6, 7, 5000)
        return bytes(buf)
    if kind == "b7-evil-hostver":
        buf[0:24] = header(6, 7, 5000)
        buf[0x100:0x100 + 44] = kvmfr(20, b"B7\x1b[2J\x07evil")
        return bytes(buf)
    if kind == "newer":
        buf[4096:4096 + 24] = header(7, 0x0BADCAFE, 42_000)
        buf[4096 + 0x200:4096 + 0x200 + 44] = kvmfr(21, b"B8-rc1")
        return bytes(buf)
    if kind == "lgmp-v9":      # LGMP at 0 with a version no known layout puts there
        buf[0:24] = header(9, 1, 1)
        return bytes(buf)
    if kind == "truncated":    # a B7 header cut inside its fixed fields
        return header(6, 0x1234ABCD, 99)[:12]
    if kind == "tiny":         # shorter than any magic
        return b"\x4c\x47"
    if kind == "garbage":
        rnd = random.Random(5)
        data = bytearray(rnd.getrandbits(8) for _ in range(8192))
        if data[0:4] == b"LGMP":
            data[0] = 0
        return bytes(data) + bytes(SIZE - 8192)
    raise SystemExit("unknown kind " + kind)


def bump(path, every_ms, restart_after_ms, for_ms, ready):
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    os.close(fd)
    start = time.monotonic()
    restarted = False
    told = False
    next_bump = 0.0
    while True:
        elapsed = (time.monotonic() - start) * 1000
        if for_ms and elapsed > for_ms:
            break
        if restart_after_ms and not restarted and elapsed > restart_after_ms:
            (session,) = struct.unpack_from("<I", m, 8)
            struct.pack_into("<I", m, 8, session + 1)
            restarted = True
        if elapsed >= next_bump:
            (ts,) = struct.unpack_from("<Q", m, 16)
            struct.pack_into("<Q", m, 16, ts + every_ms)
            next_bump = elapsed + every_ms
        if ready and not told:
            open(ready, "w").close()
            told = True
        time.sleep(min(every_ms, 10) / 1000)
    m.close()


def main(argv):
    if len(argv) == 4 and argv[1] == "make":
        with open(argv[3], "wb") as f:
            f.write(image(argv[2]))
        return 0
    if len(argv) >= 3 and argv[1] == "bump":
        opts = {"--every": "10", "--restart-after": "0", "--for": "0", "--ready": ""}
        rest = argv[3:]
        while rest:
            opts[rest[0]] = rest[1]
            rest = rest[2:]
        bump(argv[2], int(opts["--every"]), int(opts["--restart-after"]), int(opts["--for"]),
             opts["--ready"])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
