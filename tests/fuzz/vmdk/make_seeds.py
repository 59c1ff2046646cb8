#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""make_seeds.py DIR: write small VMDK images into DIR: the fuzz seeds of
tests/fuzz/vmdk_fuzz.c (tests/host/test_vmdk_fuzz.sh makes them under build/
at each run; they are not kept in the tree), also read by
tests/unit/test_vmdk_qemu.c.

  tiny-sparse.vmdk    monolithicSparse, 32 KiB, 4 KiB grains, grains 0 and 3 written
  stream-footer.vmdk  streamOptimized the way VMware writes it: gdOffset "at the
                      end" in the header, the real one in a footer, markers, zlib
  flat.vmdk, zero.vmdk, twogb.vmdk, delta-loop.vmdk, delta-base.vmdk
                      text descriptors over the fuzzer's fixed files f.raw and
                      base.vmdk (or over themselves)
The data of grain g is bytes (g * 7 + i) & 0xff for i in the grain."""
import struct
import sys
import zlib
import os

SECTOR = 512


def header(capacity, grain, desc_off, desc_size, rgd, gd, overhead, flags=0x3,
           version=1, compress=0):
    h = struct.pack("<IIIQQQQIQQQB4sH", 0x564D444B, version, flags, capacity, grain,
                    desc_off, desc_size, 512, rgd, gd, overhead, 0, b"\n \r\n", compress)
    return h + bytes(SECTOR - len(h))


def grain_data(g, size):
    return bytes(((g * 7 + i) & 0xFF) for i in range(size))


def descriptor(ctype, extents, extra=""):
    text = ("# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\n"
            "createType=\"%s\"\n%s\n# Extent description\n%s\n\n# The Disk Data Base\n"
            "#DDB\n\nddb.adapterType = \"ide\"\n" % (ctype, extra, extents))
    return text.encode()


def pad(b):
    return b + bytes(-len(b) % SECTOR)


def tiny_sparse():
    grain, cap = 8, 64
    desc = pad(descriptor("monolithicSparse", 'RW 64 SPARSE "tiny-sparse.vmdk"'))
    ds = len(desc) // SECTOR
    rgd = 1 + ds
    rgt = rgd + 1
    gd = rgt + 4
    gt = gd + 1
    overhead = 16 if gt + 4 <= 16 else 24
    img = bytearray(header(cap, grain, 1, ds, rgd, gd, overhead))
    img += desc
    table = [0] * 512
    table[0] = overhead
    table[3] = overhead + grain
    img += struct.pack("<I", rgt) + bytes(SECTOR - 4)
    img += struct.pack("<512I", *table)
    img += struct.pack("<I", gt) + bytes(SECTOR - 4)
    img += struct.pack("<512I", *table)
    img += bytes(overhead * SECTOR - len(img))
    img += grain_data(0, grain * SECTOR) + grain_data(3, grain * SECTOR)
    return bytes(img)


def marker(val, mtype):
    return struct.pack("<QII", val, 0, mtype) + bytes(SECTOR - 16)


def stream_footer():
    grain, cap = 8, 64
    flags = 0x1 | 0x10000 | 0x20000
    desc = pad(descriptor("streamOptimized", 'RDONLY 64 SPARSE "stream-footer.vmdk"'))
    ds = len(desc) // SECTOR
    overhead = 1 + ds
    img = bytearray(header(cap, grain, 1, ds, 0, 0xFFFFFFFFFFFFFFFF, overhead, flags, 3, 1))
    img += desc
    table = [0] * 512
    for g in (1, 5):
        table[g] = len(img) // SECTOR
        data = zlib.compress(grain_data(g, grain * SECTOR))
        img += pad(struct.pack("<QI", g * grain, len(data)) + data)
    img += marker(4, 1)
    gt = len(img) // SECTOR
    img += struct.pack("<512I", *table)
    img += marker(1, 2)
    gd = len(img) // SECTOR
    img += struct.pack("<I", gt) + bytes(SECTOR - 4)
    img += marker(1, 3)
    img += header(cap, grain, 1, ds, 0, gd, overhead, flags, 3, 1)
    img += bytes(SECTOR)  # end of stream
    return bytes(img)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_seeds.py DIR (the seeds are made under build/, not in the tree)")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    files = {
        "tiny-sparse.vmdk": tiny_sparse(),
        "stream-footer.vmdk": stream_footer(),
        "flat.vmdk": descriptor("monolithicFlat", 'RW 2048 FLAT "f.raw" 0'),
        "zero.vmdk": descriptor("monolithicFlat", 'RW 1024 FLAT "f.raw" 1024\nRW 4096 ZERO'),
        "twogb.vmdk": descriptor("twoGbMaxExtentSparse", 'RW 2048 SPARSE "base.vmdk"\n'
                                 'RDONLY 1024 FLAT "f.raw" 0'),
        "delta-loop.vmdk": descriptor("monolithicSparse", 'RW 2048 SPARSE "base.vmdk"',
                                      'parentFileNameHint="delta-loop.vmdk"\n').replace(
                                          b"parentCID=ffffffff", b"parentCID=1234abcd"),
        "delta-base.vmdk": descriptor("monolithicSparse", 'RW 2048 SPARSE "base.vmdk"',
                                      'parentFileNameHint="base.vmdk"\n').replace(
                                          b"parentCID=ffffffff", b"parentCID=0000abcd"),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


main()
