#!/usr/bin/env python3
"""A virtio-serial port made of two ptys, as QEMU's -chardev pty makes one for a guest port:
ptypair.py GUEST_LINK HOST_LINK relays bytes between the masters of two ptys whose
slaves GUEST_LINK (the guest agent's port: a Linux agent's --port, or Wine's
dosdevices/global/org.neuronos.agent.0) and HOST_LINK (what neuronctl opens, like a
<channel type='pty'> path) link to. Both slaves are raw and held open here, so that a
side that closes and opens again (a host that reconnects) finds the same line, with what
the other side wrote meanwhile waiting in it (up to 64 MiB), as on a real port. Runs
until SIGTERM; removes its links."""
import os
import select
import signal
import sys
import tty

CAP = 64 << 20


def main():
    guest_link, host_link = sys.argv[1], sys.argv[2]
    ends = []
    for link in (guest_link, host_link):
        m, s = os.openpty()
        tty.setraw(s)
        os.set_blocking(m, False)
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass
        os.symlink(os.ttyname(s), link)
        ends.append({"master": m, "slave": s, "out": bytearray()})

    def stop(*_):
        for link in (guest_link, host_link):
            try:
                os.unlink(link)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    while True:
        rl = [e["master"] for e in ends if len(e["out"]) < CAP]
        wl = [e["master"] for e in ends if e["out"]]
        r, w, _ = select.select(rl, wl, [])
        for i, e in enumerate(ends):
            peer = ends[1 - i]
            if e["master"] in r:
                try:
                    data = os.read(e["master"], 1 << 16)
                except (BlockingIOError, InterruptedError):
                    data = b""
                peer["out"] += data
            if e["master"] in w and e["out"]:
                try:
                    n = os.write(e["master"], e["out"])
                    del e["out"][:n]
                except (BlockingIOError, InterruptedError):
                    pass


if __name__ == "__main__":
    main()
