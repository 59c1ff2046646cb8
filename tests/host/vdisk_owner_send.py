#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Send one release request to a disk server's owner listener, as an
attacker or a peer would, and print the answer line (or "no answer").

  vdisk_owner_send.py ADDR KEYFILE MODE DISK GENERATION [SAVE|REPLAY FILE]

MODE: valid (signed with KEYFILE), forged (signed with another key),
stale (signed an hour ago), raw (GENERATION is sent as the raw line),
replay (send FILE's bytes again).  --save FILE keeps the bytes sent.
The HMAC is computed independently of keel's C code: HMAC-SHA256 over the
message without "mac", compact JSON with sorted keys.
"""
import hashlib
import hmac
import json
import os
import socket
import sys
import time


def sign(key, msg, when_ms):
    msg = dict(msg, nonce=os.urandom(16).hex(), time=when_ms)
    text = json.dumps(msg, sort_keys=True, separators=(",", ":"))
    msg["mac"] = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    return (json.dumps(msg, separators=(",", ":")) + "\n").encode()


def connect(addr):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(addr[5:])
    else:
        host, port = addr[4:].rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=5)
    s.settimeout(5)
    return s


def main():
    addr, keyfile, mode, disk, gen = sys.argv[1:6]
    extra = sys.argv[6:]
    key = open(keyfile, "rb").read()
    now = int(time.time() * 1000)
    req = {"op": "release", "disk": disk, "generation": int(gen) if mode != "raw" else 0,
           "from": "attacker", "addr": "tcp:127.0.0.1:1"}
    if mode == "valid":
        line = sign(key, req, now)
    elif mode == "forged":
        line = sign(b"not the cluster key, 32 bytes...", req, now)
    elif mode == "stale":
        line = sign(key, req, now - 3600 * 1000)
    elif mode == "raw":
        line = gen.encode() + b"\n"
    elif mode == "replay":
        line = open(extra[1], "rb").read()
    else:
        sys.exit("unknown mode " + mode)
    if extra and extra[0] == "--save":
        open(extra[1], "wb").write(line)
    s = connect(addr)
    s.sendall(line)
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    print(data.decode().strip() or "no answer")


main()
