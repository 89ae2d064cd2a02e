#!/usr/bin/env python3
"""A host that sends its request late: resync, TLS 1.3 (Python's ssl, an OpenSSL), ping,
then DELAY seconds idle (the agent meanwhile starts a change poll), then OP with ARGS.
Prints the reply, or says that none came within the host's default 5 s request timeout
(exit 1), as neuronctl would. Usage: late-request.py SOCKET CERT_DIR DELAY OP [ARGS_JSON]"""
import json
import os
import socket
import ssl
import sys
import time

TIMEOUT = 5.0  # the host's default per-request timeout (docs/PROTOCOL.md 5)


def frames(sock, want):
    """Read until a whole frame holding want came; returns it."""
    buf = b""
    deadline = time.monotonic() + TIMEOUT
    while True:
        start = buf.find(b"\x02")
        end = buf.find(b"\x03", start + 1) if start >= 0 else -1
        if end > 0:
            frame, buf = buf[start + 1:end], buf[end + 1:]
            if want in frame:
                return frame
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return None
        if not data:
            return None
        buf += data


def main():
    path, certs, delay, op = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    args = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    raw = socket.socket(socket.AF_UNIX)
    raw.connect(path)
    nonce = os.urandom(16).hex()
    raw.sendall(b'\x02{"sync":"%s"}\x03' % nonce.encode())
    if frames(raw, nonce.encode()) is None:
        print("no sync-ack")
        return 2
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(os.path.join(certs, "ca.pem"))
    ctx.load_cert_chain(os.path.join(certs, "host.pem"), os.path.join(certs, "host.key"))
    tls = ctx.wrap_socket(raw)
    for rid, name, body, wait in ((1, "ping", {}, 0), (2, op, args, delay)):
        if wait:
            time.sleep(wait)
        t0 = time.monotonic()
        tls.sendall(b"\x02" + json.dumps({"id": rid, "op": name, "args": body}).encode() + b"\x03")
        reply = frames(tls, b'"id":%d,' % rid)
        if reply is None:
            print("%s: no answer within %.0f s" % (name, TIMEOUT))
            return 1
        if rid == 1:
            print("ping answered after %.1f s" % (time.monotonic() - t0))
    print("%s answered after %.1f s: %s" % (op, time.monotonic() - t0, reply.decode(errors="replace")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
