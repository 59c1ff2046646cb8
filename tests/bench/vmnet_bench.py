#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Figures for tests/bench/vmnet_bench.sh (reported, never asserted).

  vmnet_bench.py detect SEND_LOG PEER_LOG WL_JSON INVENTORY
      detection latency per arrival, keel (its whitelist map, dumped with
      bpftool -j) and the peer (its log), both from the sender's timestamp
  vmnet_bench.py provider EVENTS FLOOR_NS_FILE IP_PREFIX
      eni.add -> eni.provider_ok per address, and the hook run on its own
  vmnet_bench.py migrate STREAM_LOG WL_JSON DENIED_BEFORE DENIED_AFTER PEER_LOG IP
      frames the destination's uplink dropped after the VM's first RARP
"""
import datetime
import json
import sys


def pct(v, p):
    v = sorted(v)
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def us(ns):
    return ns / 1000.0


def row(name, v):
    return "%-42s n=%-4d p50 %8.1f us  p99 %8.1f us  max %8.1f us" % (
        name, len(v), us(pct(v, 50)), us(pct(v, 99)), us(max(v) if v else float("nan")))


def ip_of(addr):
    return ".".join(str(b) for b in addr[-4:])


def wl_entries(path):
    out = {}
    for e in json.load(open(path)):
        out[ip_of(e["formatted"]["key"]["addr"])] = e["formatted"]["value"]
    return out


def detect(send_log, peer_log, wl_json, inventory):
    sent = {}
    for line in open(send_log):
        mac, t = line.split()
        sent[mac] = int(t)
    ip_mac = {}
    for line in open(inventory):
        f = line.split()
        if len(f) >= 3 and not f[0].startswith("#"):
            ip_mac[f[2]] = f[1]
    keel, keel_k, peer, peer_k = [], [], [], []
    wl = wl_entries(wl_json)
    for ip, v in wl.items():
        mac = ip_mac.get(ip)
        if mac in sent:
            keel.append(v["added_ns"] - sent[mac])
            if v["trigger_ns"]:
                keel_k.append(v["added_ns"] - v["trigger_ns"])
    for line in open(peer_log):
        mac, ip, rx, added = line.split()
        if mac in sent:
            peer.append(int(added) - sent[mac])
            peer_k.append(int(added) - int(rx))
    print("arrivals sent: %d; whitelisted by keel: %d, by the peer: %d"
          % (len(sent), len(keel), len(peer)))
    print(row("peer (AF_PACKET + map write), from send", peer))
    print(row("keel (TC + ring buffer + keeld), from send", keel))
    print(row("peer, from the kernel's RX timestamp", peer_k))
    print(row("keel, from the TC program's timestamp", keel_k))
    if keel and peer:
        for p in (50, 99):
            print("ratio peer/keel at p%d (from send): %.2f" % (p, pct(peer, p) / pct(keel, p)))
        print("ratio peer/keel at max (from send): %.2f" % (max(peer) / max(keel)))


def ts(s):
    # RFC 3339 with nanoseconds, UTC
    base, frac = s.rstrip("Z").split(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1000000000 + int(frac.ljust(9, "0")[:9])


def provider(events, floor_file, prefix):
    add, ok, dur = {}, {}, []
    for line in open(events):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        ip = e.get("ip", "")
        if not ip.startswith(prefix):
            continue
        if e["type"] == "eni.add" and ip not in add:
            add[ip] = ts(e["time"])
        elif e["type"] == "eni.provider_ok" and e.get("action") == "add" and ip not in ok:
            ok[ip] = ts(e["time"])
            dur.append(int(e["duration_ms"] * 1e6))
    lat = [ok[ip] - add[ip] for ip in ok if ip in add]
    floor = [int(x) for x in open(floor_file).read().split()]
    print("provider hook confirmed %d of %d adds" % (len(lat), len(add)))
    print(row("peer: the hook run alone, back to back", floor))
    print(row("keel: eni.add to eni.provider_ok", lat))
    print(row("keel: the hook's own run (duration_ms)", dur))
    if lat and floor:
        print("ratio keel/peer at p50: %.2f, at p99: %.2f"
              % (pct(lat, 50) / pct(floor, 50), pct(lat, 99) / pct(floor, 99)))


def migrate(stream_log, wl_json, d0, d1, peer_log, ip):
    v = wl_entries(wl_json).get(ip)
    sends = [int(line.split()[1]) for line in open(stream_log) if len(line.split()) == 2]
    if not v or not v["trigger_ns"]:
        print("no RARP-triggered whitelist entry for %s: nothing measured" % ip)
        return
    trig, added = v["trigger_ns"], v["added_ns"]
    denied = int(d1) - int(d0)
    before = sum(1 for t in sends if t < trig)
    lost = denied - before
    keel_gap = sum(1 for t in sends if trig <= t < added)
    peer_added = None
    for line in open(peer_log):
        f = line.split()
        if len(f) == 4 and f[1] == ip:
            peer_added = int(f[3])
    peer_gap = sum(1 for t in sends if trig <= t < peer_added) if peer_added else None
    rate = (len(sends) - 1) * 1e9 / (sends[-1] - sends[0]) if len(sends) > 1 else 0
    print("stream %d frames at %.0f/s; first RARP to keel's entry %.1f us%s"
          % (len(sends), rate, us(added - trig),
             "; to the peer's %.1f us" % us(peer_added - trig) if peer_added else ""))
    print("dropped by the destination's uplink: %d, of which sent before the first RARP: %d"
          % (denied, before))
    print("LOST after the VM's first RARP (keel, measured): %d  (sent in keel's gap: %d;"
          " in the peer's gap: %s)" % (lost, keel_gap,
                                     peer_gap if peer_gap is not None else "n/a"))


def main():
    cmd = sys.argv[1]
    if cmd == "detect":
        detect(*sys.argv[2:6])
    elif cmd == "provider":
        provider(*sys.argv[2:5])
    elif cmd == "migrate":
        migrate(*sys.argv[2:8])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
