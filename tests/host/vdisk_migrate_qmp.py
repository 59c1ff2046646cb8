#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Drive a QEMU live migration over QMP, as a management layer would,
running a command at the switchover; or run one QMP command.

  vdisk_migrate_qmp.py migrate SRC_QMP URI [--pause] [--hook CMD...]
  vdisk_migrate_qmp.py execute QMP COMMAND

migrate: SRC_QMP is the source QEMU's QMP Unix socket, URI where the
destination listens (QEMU's -incoming).  With --pause or --hook, the
capability pause-before-switchover is set: QEMU stops the guest, drains and
flushes its disks and waits in state "pre-switchover"; CMD runs then (e.g.
keelctl vdisk handoff on the destination host) and the migration goes on
only if CMD exits 0 (else it is cancelled).  Prints one JSON line: status,
QEMU's downtime_ms (guest stopped to running again on the destination,
the pause and CMD included) and total_ms, hook_ms, hook_rc, hook_output.
Exits 0 if the migration completed.

execute: prints the command's "return" as JSON (e.g. stop, cont,
query-status).
"""
import json
import socket
import subprocess
import sys
import time


class QMP:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rw")
        self.recv()  # greeting
        self.cmd("qmp_capabilities")

    def recv(self):
        line = self.f.readline()
        if not line:
            raise EOFError("QMP closed")
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            m = self.recv()
            if "event" in m:
                continue
            if "error" in m:
                raise RuntimeError(f"{name}: {m['error']}")
            return m.get("return")


def migrate(src, uri, pause, hook):
    q = QMP(src)
    caps = [{"capability": "events", "state": True},
            {"capability": "pause-before-switchover", "state": pause}]
    q.cmd("migrate-set-capabilities", capabilities=caps)
    q.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 30, "downtime-limit": 300})
    q.cmd("migrate", uri=uri)
    out = {"hook_ms": None, "hook_rc": None}
    deadline = time.time() + 120
    while time.time() < deadline:
        st = q.cmd("query-migrate").get("status", "none")
        if st == "pre-switchover" and out["hook_rc"] is None:
            t0 = time.time()
            rc, text = 0, ""
            if hook:
                p = subprocess.run(hook, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
                rc, text = p.returncode, p.stdout.strip()[-500:]
            out["hook_ms"] = round((time.time() - t0) * 1000)
            out["hook_rc"] = rc
            out["hook_output"] = text
            if rc:
                q.cmd("migrate_cancel")
            else:
                q.cmd("migrate-continue", state="pre-switchover")
        elif st in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.01)
    info = q.cmd("query-migrate")
    out.update(status=info.get("status"), downtime_ms=info.get("downtime"),
               total_ms=info.get("total-time"), error=info.get("error-desc"))
    print(json.dumps(out))
    return 0 if out["status"] == "completed" else 1


def main():
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "execute":
        print(json.dumps(QMP(a[1]).cmd(a[2])))
        return 0
    if len(a) >= 3 and a[0] == "migrate":
        hook = a[a.index("--hook") + 1:] if "--hook" in a else None
        return migrate(a[1], a[2], "--pause" in a or hook is not None, hook)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
