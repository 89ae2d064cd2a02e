#!/usr/bin/python3
"""Make Looking Glass shared memory files for the tests, and be the guest's host app.

  shm.py make KIND PATH     write a file of one kind (see image())
  shm.py bump PATH [--every MS] [--restart-after MS] [--for MS] [--ready FILE]
        map PATH shared and move its heartbeat (the u64 timestamp) every MS like a
        running host application; after --restart-after MS, switch to a new session id
        as a restarted host application would. Touches FILE once it has bumped. The
        layout (b7 or lgmp10) is told by where the LGMP magic is.

The layouts, as gnif/LGMP lgmp/src/headers.h lays out struct LGMPHeader (offsets from
the start, little-endian):
  b7 (LGMP protocol 6, Looking Glass B7): magic 0x504d474c @0, version @4, session @8,
     timestamp @16, queue count @24, udata size @5752, udata @5756.
  lgmp10 (LGMP protocol 10 from commit c71a143, Looking Glass master): timestamp @0 in
     a 64-byte line, five 1600-byte queue headers from @64, magic @8064, version @8068,
     session @8072, queue count @8076, udata size @8080, udata @8084.
The udata starts with the KVMFR record (Looking Glass common/include/common/KVMFR.h):
"KVMFR---", version u32, host version char[32], feature flags u32."""
import mmap
import os
import random
import struct
import sys
import time

SIZE = 1 << 20          # 1 MiB: small for tests, large enough for every layout
MAGIC = 0x504D474C
# feature flags (KVMFR.h): set cursor pos 1, window size 2, frame schedule 4, input 8,
# clipboard 0x10
FEATURES_IDD = 0x1 | 0x2 | 0x4 | 0x8 | 0x10

LAYOUTS = {
    # name: (magic, version, session, timestamp, queues, udata size, udata)
    "b7": (0, 4, 8, 16, 24, 5752, 5756),
    "lgmp10": (8064, 8068, 8072, 0, 8076, 8080, 8084),
}


def kvmfr(version, hostver, features):
    return b"KVMFR---" + struct.pack("<I", version) + hostver.ljust(32, b"\0")[:32] + \
        struct.pack("<I", features)


def header(buf, layout, version, session, timestamp, udata, udata_size=None, queues=2):
    mg, ver, sess, ts, nq, usz, ud = LAYOUTS[layout]
    struct.pack_into("<I", buf, mg, MAGIC)
    struct.pack_into("<I", buf, ver, version)
    struct.pack_into("<I", buf, sess, session)
    struct.pack_into("<Q", buf, ts, timestamp)
    struct.pack_into("<I", buf, nq, queues)
    struct.pack_into("<I", buf, usz, len(udata) if udata_size is None else udata_size)
    buf[ud:ud + len(udata)] = udata


def image(kind):
    buf = bytearray(SIZE)
    b7 = kvmfr(20, b"B7", 0x1)
    master = kvmfr(34, b"B7-412-g8cb6a687", FEATURES_IDD)
    if kind == "empty":
        return b""
    if kind == "zeros":
        return bytes(buf)
    if kind in ("b7", "b7-stale"):
        header(buf, "b7", 6, 0x1234ABCD, 1_700_000_000_000, b7)
    elif kind == "b7-nokvmfr":
        header(buf, "b7", 6, 7, 5000, b"")
    elif kind == "b7-evil-hostver":
        header(buf, "b7", 6, 7, 5000, kvmfr(20, b"B7\x1b[2J\x07evil", 0))
    elif kind in ("lgmp10", "lgmp10-stale"):
        header(buf, "lgmp10", 10, 0x0BADCAFE, 42_000, master, queues=5)
    elif kind == "lgmp10-nokvmfr":
        header(buf, "lgmp10", 10, 3, 42_000, b"", queues=5)
    elif kind == "lgmp10-udata-lies":   # says 4 GiB of user data in a 1 MiB memory
        header(buf, "lgmp10", 10, 3, 42_000, master, udata_size=0xFFFFFFF0, queues=5)
    elif kind == "lgmp-v99":           # an LGMP magic at 0 with a version nothing knows
        struct.pack_into("<II", buf, 0, MAGIC, 99)
    elif kind == "truncated":          # a B7 header cut inside its fixed fields
        header(buf, "b7", 6, 0x1234ABCD, 99, b7)
        return bytes(buf[:12])
    elif kind == "lgmp10-truncated":   # cut inside the queue headers
        header(buf, "lgmp10", 10, 1, 99, master)
        return bytes(buf[:4000])
    elif kind == "tiny":               # shorter than any magic
        return b"\x4c\x47"
    elif kind == "garbage":
        rnd = random.Random(5)
        data = bytearray(rnd.getrandbits(8) for _ in range(8192))
        if data[0:4] == b"LGMP":
            data[0] = 0
        return bytes(data) + bytes(SIZE - 8192)
    else:
        raise SystemExit("unknown kind " + kind)
    return bytes(buf)


def bump(path, every_ms, restart_after_ms, for_ms, ready):
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    os.close(fd)
    layout = "b7" if struct.unpack_from("<I", m, 0)[0] == MAGIC else "lgmp10"
    _, _, sess_at, ts_at, _, _, _ = LAYOUTS[layout]
    start = time.monotonic()
    restarted = False
    told = False
    next_bump = 0.0
    while True:
        elapsed = (time.monotonic() - start) * 1000
        if for_ms and elapsed > for_ms:
            break
        if restart_after_ms and not restarted and elapsed > restart_after_ms:
            (session,) = struct.unpack_from("<I", m, sess_at)
            struct.pack_into("<I", m, sess_at, session + 1)
            restarted = True
        if elapsed >= next_bump:
            (ts,) = struct.unpack_from("<Q", m, ts_at)
            struct.pack_into("<Q", m, ts_at, ts + every_ms)
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
