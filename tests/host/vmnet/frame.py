#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Send test frames on an interface (raw AF_PACKET; run as root in the
interface's network namespace), or write them into a macvtap character
device as its guest would: IFACE a path (/dev/tapN), each frame behind a
10-byte virtio-net header, all zero (macvtap's default: IFF_VNET_HDR).

  frame.py IFACE rarp MAC              QEMU-style RARP announcement
  frame.py IFACE garp MAC IP           gratuitous ARP request
  frame.py IFACE ipsrc MAC IP          one UDP datagram from IP
  frame.py IFACE ipsrcs MAC IP COUNT   COUNT datagrams, from IP and the COUNT-1
                                       IPv4 addresses after it (a pause of 1 ms
                                       every 100, so the receiving side's
                                       backlog does not drop them)
  frame.py IFACE arp MAC IP TARGET     ARP request for TARGET (not gratuitous)
  frame.py IFACE ip6src MAC IP6        one UDP datagram from IP6 (to ff02::1)
  frame.py IFACE na MAC IP6            unsolicited neighbour advertisement for
                                       IP6, from the MAC's link-local address
  frame.py IFACE dhcpack SRV_IP CLIENT_MAC YIADDR
                                       a DHCP server's DHCPACK giving YIADDR
                                       to CLIENT_MAC, from the interface's MAC
  frame.py IFACE udp SRC_IP DST_MAC DST_IP COUNT INTERVAL_MS
                                       COUNT UDP datagrams to DST_IP, with
                                       the interface's own MAC as source
                                       (dhcpack, udp: not for a character device)
"""
import os
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


def ipv4_udp(src, dst, payload, sport=40000, dport=40000):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + udp


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


def dhcpack(chaddr, yiaddr):
    """A BOOTREPLY with the magic cookie and option 53 = 5 (DHCPACK)."""
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 2, 1, 6, 0, 0x6b65656c, 0, 0,
                        b"\0" * 4, ip4(yiaddr), b"\0" * 4, b"\0" * 4, chaddr, b"", b"")
    return bootp + struct.pack("!I", 0x63825363) + bytes([53, 1, 5, 255])


class TapDev:
    """A macvtap character device, written like a socket is sent on."""

    VNET_HDR = b"\0" * 10

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY)

    def send(self, frame):
        os.write(self.fd, self.VNET_HDR + frame)


def main():
    ifname, kind = sys.argv[1], sys.argv[2]
    if ifname.startswith("/"):
        s, own = TapDev(ifname), None
    else:
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
    elif kind == "ipsrcs":
        m, first, count = mac(sys.argv[3]), struct.unpack("!I", ip4(sys.argv[4]))[0], int(sys.argv[5])
        for i in range(count):
            src = socket.inet_ntoa(struct.pack("!I", first + i))
            frame = bcast + m + struct.pack("!H", 0x0800) + ipv4_udp(src, "255.255.255.255", b"keel")
            s.send(frame.ljust(60, b"\0"))
            if i % 100 == 99:
                time.sleep(0.001)
    elif kind == "arp":
        m, a, t = mac(sys.argv[3]), ip4(sys.argv[4]), ip4(sys.argv[5])
        frame = bcast + m + struct.pack("!H", 0x0806) + arp(1, m, a, b"\0" * 6, t)
        s.send(frame.ljust(60, b"\0"))
    elif kind in ("ip6src", "na"):
        m, a = mac(sys.argv[3]), socket.inet_pton(socket.AF_INET6, sys.argv[4])
        dst = socket.inet_pton(socket.AF_INET6, "ff02::1")
        if kind == "ip6src":
            nh, hl, body = 17, 64, struct.pack("!HHHH", 40000, 40000, 12, 0) + b"keel"
            src = a
        else:
            lladdr = bytes([m[0] ^ 2]) + m[1:3] + b"\xff\xfe" + m[3:]
            src = b"\xfe\x80" + b"\0" * 6 + lladdr
            nh, hl = 58, 255
            body = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + a + bytes([2, 1]) + m
            pseudo = src + dst + struct.pack("!I", len(body)) + b"\0\0\0" + bytes([58])
            body = body[:2] + struct.pack("!H", csum(pseudo + body)) + body[4:]
        ip6 = struct.pack("!IHBB", 0x60000000, len(body), nh, hl) + src + dst
        frame = b"\x33\x33\0\0\0\x01" + m + struct.pack("!H", 0x86DD) + ip6 + body
        s.send(frame.ljust(60, b"\0"))
    elif kind in ("udp", "dhcpack") and own is None:
        sys.exit(kind + " frames take the interface's MAC: give an interface, not " + ifname)
    elif kind == "dhcpack":
        src, cmac, yi = sys.argv[3], mac(sys.argv[4]), sys.argv[5]
        frame = cmac + own + struct.pack("!H", 0x0800) + ipv4_udp(src, yi, dhcpack(cmac, yi), 67, 68)
        s.send(frame)
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
