#!/usr/bin/env python3
"""Writes the small hive seeds of fuzz/seeds/hive_open/ (run from that folder's parent).

A minimal regf file built by hand: base block, one 4 KiB hbin with a root key, one sk
cell, subkeys in an lh list (one of them nested) and values of several types (an inline
DWORD, a REG_SZ, a REG_BINARY, a UTF-16 value name). libhivex and regfinfo read it."""
import struct, sys, os

def pad8(b):
    return b + b"\0" * (-len(b) % 8)

class Bin:
    def __init__(self):
        self.data = bytearray()
    def cell(self, payload):
        off = 0x20 + len(self.data)
        body = pad8(struct.pack("<i", 0) + payload)
        body = struct.pack("<i", -len(body)) + body[4:]
        self.data += body
        return off
    def patch(self, off, fmt, *v):  # off relative to the hbin data start (0x1000)
        struct.pack_into(fmt, self.data, off - 0x20, *v)

def nk(name, flags, parent, sk):
    n = name.encode("latin-1")
    return (b"nk" + struct.pack("<H", flags | 0x20) + struct.pack("<Q", 0x01D0000000000000)
            + struct.pack("<IIIIIIIIIIIIIIIHH", 0, parent, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0,
                          0xFFFFFFFF, sk, 0xFFFFFFFF, 0, 0, 0, 0, 0, len(n), 0) + n)

def lh_hash(name):
    h = 0
    for c in name.upper():
        h = (h * 37 + ord(c)) & 0xFFFFFFFF
    return h

def vk(name, typ, data_off, size, utf16=False):
    n = name.encode("utf-16-le") if utf16 else name.encode("latin-1")
    return b"vk" + struct.pack("<HIIIHH", len(n), size, data_off, typ, 0 if utf16 else 1, 0) + n

def build(nested=True):
    b = Bin()
    NK_SUBCOUNT, NK_SUBLIST, NK_VALCOUNT, NK_VALLIST = 0x18, 0x20, 0x28, 0x2C  # from cell start
    root = b.cell(nk("ROOT", 0x0C, 0, 0))
    sd = struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 0)
    sk = b.cell(b"sk" + struct.pack("<HIIII", 0, 0, 0, 3, len(sd)) + sd)
    b.patch(sk + 8, "<II", sk, sk)
    for key in (root,):
        b.patch(key + 4 + 0x2C, "<I", sk)
    subs = []
    for name in ("Software", "Zoë"):
        k = b.cell(nk(name, 0, root, sk))
        subs.append((name, k))
    lh = b.cell(b"lh" + struct.pack("<H", len(subs))
                + b"".join(struct.pack("<II", k, lh_hash(n)) for n, k in subs))
    b.patch(root + 4 + 0x14, "<I", len(subs))
    b.patch(root + 4 + 0x1C, "<I", lh)
    sw = subs[0][1]
    if nested:
        app = b.cell(nk("Vendor", 0, sw, sk))
        l2 = b.cell(b"lh" + struct.pack("<H", 1) + struct.pack("<II", app, lh_hash("Vendor")))
        b.patch(sw + 4 + 0x14, "<I", 1)
        b.patch(sw + 4 + 0x1C, "<I", l2)
        target = app
    else:
        target = sw
    s = "C:\\Users\\Zoë".encode("utf-16-le") + b"\0\0"
    sdat = b.cell(s)
    bdat = b.cell(bytes(range(16)))
    vals = [vk("Count", 4, 42, 0x80000004), vk("Path", 1, sdat, len(s)),
            vk("Blob", 3, bdat, 16), vk("Ωmega", 4, 7, 0x80000004, utf16=True), vk("", 1, sdat, len(s))]
    offs = [b.cell(v) for v in vals]
    vl = b.cell(b"".join(struct.pack("<I", o) for o in offs))
    b.patch(target + 4 + 0x24, "<I", len(offs))
    b.patch(target + 4 + 0x28, "<I", vl)
    for _, k in subs:
        b.patch(k + 4 + 0x2C, "<I", sk)
    free = 0x1000 - 0x20 - len(b.data)
    b.data += struct.pack("<i", free) + b"\0" * (free - 4)
    hbin = b"hbin" + struct.pack("<IIII", 0, 0x1000, 0, 0) + struct.pack("<QI", 0, 0) + bytes(b.data)
    base = bytearray(4096)
    struct.pack_into("<4sIIQIIIIIII", base, 0, b"regf", 1, 1, 0, 1, 5, 0, 1, root, 0x1000, 1)
    base[0x30:0x30 + 64] = "\\??\\C:\\Users\\x\\ntuser.dat".encode("utf-16-le").ljust(64, b"\0")
    x = 0
    for i in range(0, 508, 4):
        x ^= struct.unpack_from("<I", base, i)[0]
    struct.pack_into("<I", base, 508, x)
    return bytes(base) + hbin

os.makedirs("hive_open", exist_ok=True)
full = build()
open("hive_open/minimal.hiv", "wb").write(full)
open("hive_open/flat.hiv", "wb").write(build(nested=False))
open("hive_open/truncated.hiv", "wb").write(full[:4096 + 512])
