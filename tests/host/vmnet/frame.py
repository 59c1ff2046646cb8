#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Send test frames on an interface (raw AF_PACKET; run as root in the
interface's network namespace).

  frame.py IFACE rarp MAC              QEMU-style RARP announcement
  frame.py IFACE garp MAC IP           gratuitous ARP request
  frame.py IFACE ipsrc MAC IP          one UDP datagram from IP
  frame.py IFACE udp SRC_IP DST_MAC DST_IP COUNT INTERVAL_MS
                                       COUNT UDP datagrams to DST_IP, with
                                       the interface's own MAC as source
"""
import socket
import struct
import sys
import time


def mac(s):
    return bytes(int(b, 16) for b in s.split(":"))


def ip4(s):
    return socket.inet_aton(s)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4_udp(src, dst, payload):
    udp = struct.pack("!HHHH", 40000, 40000, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + udp


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


def main():
    ifname, kind = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    own = s.getsockname()[4]
    bcast = b"\xff" * 6
    if kind == "rarp":
        m = mac(sys.argv[3])
        body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 3, m, b"\0" * 4, m, b"\0" * 4)
        frame = bcast + m + struct.pack("!H", 0x8035) + body
        s.send(frame.ljust(60, b"\0"))
    elif kind == "garp":
        m, a = mac(sys.argv[3]), ip4(sys.argv[4])
        frame = bcast + m + struct.pack("!H", 0x0806) + arp(1, m, a, b"\0" * 6, a)
        s.send(frame.ljust(60, b"\0"))
    elif kind == "ipsrc":
        m = mac(sys.argv[3])
        frame = bcast + m + struct.pack("!H", 0x0800) + ipv4_udp(sys.argv[4], "255.255.255.255", b"keel")
        s.send(frame.ljust(60, b"\0"))
    elif kind == "udp":
        src, dmac, dst = sys.argv[3], mac(sys.argv[4]), sys.argv[5]
        count, interval = int(sys.argv[6]), float(sys.argv[7]) / 1000.0
        for i in range(count):
            frame = dmac + own + struct.pack("!H", 0x0800) + ipv4_udp(src, dst, struct.pack("!I", i))
            s.send(frame.ljust(60, b"\0"))
            if interval:
                time.sleep(interval)
    else:
        sys.exit("unknown frame kind " + kind)


if __name__ == "__main__":
    main()
