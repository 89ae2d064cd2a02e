#!/usr/bin/python3
"""OpenSSL's TLS 1.3 transfer over a unix socket, for bench-agent.sh: Python's ssl module
(OpenSSL) with the agent's certificates moves SIZE bytes each way in one connection, in
large writes, a child process on the other end, 5 rounds. Prints the cipher and the best
MB/s each way (as agent_bench's clipboard figures: best of 5).

    tls_peer.py BUNDLE_DIR HOST_CERT_DIR SIZE_MIB

The cipher suite comes from OPENSSL_CONF (bench-agent.sh asks for TLS_AES_128_GCM_SHA256,
the agent's with the assembly build; Python cannot choose TLS 1.3 suites itself)."""
import os
import socket
import ssl
import sys
import time

ROUNDS = 5


def recv_exact(s, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = s.recv_into(view[got:], min(n - got, 1 << 20))
        if r == 0:
            raise SystemExit("tls_peer: connection closed early")
        got += r
    return buf


def main():
    bundle, host, size = sys.argv[1], sys.argv[2], int(sys.argv[3]) << 20
    data = bytes(size)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # the guest's end: echo back what it receives
        a.close()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(os.path.join(bundle, "guest.pem"), os.path.join(bundle, "guest.key"))
        ctx.load_verify_locations(os.path.join(bundle, "ca.pem"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        s = ctx.wrap_socket(b, server_side=True)
        for _ in range(ROUNDS):
            got = recv_exact(s, size)
            s.sendall(got)
        s.close()
        os._exit(0)
    b.close()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_cert_chain(os.path.join(host, "host.pem"), os.path.join(host, "host.key"))
    ctx.load_verify_locations(os.path.join(host, "ca.pem"))
    s = ctx.wrap_socket(a)
    up = down = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        s.sendall(data)
        t1 = time.perf_counter()
        recv_exact(s, size)     # the echo: all of the first leg arrived, then this one
        t2 = time.perf_counter()
        up, down = min(up, t1 - t0), min(down, t2 - t1)
    cipher = s.cipher()[0]
    s.close()
    os.waitpid(pid, 0)
    print("%s %.1f %.1f" % (cipher, size / 1e6 / up, size / 1e6 / down))


if __name__ == "__main__":
    main()
