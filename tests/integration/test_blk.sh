#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# blk in the VM (Debian kernel): the virtio scratch disk's reads are all
# counted (synchronous and io_uring), the in-kernel cgroup filter keeps only
# reads issued under the configured cgroup, and the loop-device checks of tests/host/test_blk.sh
# pass on this kernel too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
need_root
need_vm
need_cmd jq fio

DISK=${KEEL_VM_SCRATCH:-/dev/vda}
NAME=$(basename "$DISK")
[ -b "$DISK" ] || skip "no scratch disk $DISK"
CG=/sys/fs/cgroup/keel-blk-$$
mkdir "$CG" || skip "cannot create a cgroup v2 group under /sys/fs/cgroup"
on_exit "rmdir $CG"

keeld_conf "devices = $NAME" "cgroups = /keel-blk-$$" "cache_mib = 1"
keeld_start || die "keeld did not start"
check_eq "blk runs" running "$(subsys_state blk)"
sys_reads() { awk '{print $1}' "/sys/block/$NAME/stat"; }
disk_reads() { "$KEELCTL" blk stats --json | jq "[.disks[] | select(.name == \"$NAME\") | .total.reads] | add // 0"; }

s0=$(sys_reads)
# inside the cgroup: counted
sh -c "echo \$\$ > $CG/cgroup.procs; exec fio --name=in --filename=$DISK --rw=randread --bs=4k --direct=1 --ioengine=psync --size=32M --io_size=4M --output-format=json" >"$KEEL_TMP/in.json"
# outside: filtered in the kernel
fio --name=out --filename="$DISK" --rw=randread --bs=4k --direct=1 --ioengine=psync --size=32M --io_size=2M --output-format=json >"$KEEL_TMP/out.json"
s1=$(sys_reads)
sleep 0.5
in=$(jq '.jobs[0].read.total_ios' "$KEEL_TMP/in.json")
out=$(jq '.jobs[0].read.total_ios' "$KEEL_TMP/out.json")
note "fio in the cgroup: $in reads, outside: $out; /sys/block/$NAME/stat +$((s1 - s0))"
check_eq "every read issued under the cgroup is modelled" "$in" "$(disk_reads)"
check "reads outside it are counted as filtered" \
	sh -c "'$KEELCTL' blk stats --json | jq -e '.kernel.filtered >= $out'"
check_eq "the device saw both" "$((in + out))" "$((s1 - s0))"
# io_uring: the requests are issued by io_uring_enter or by the process's
# io-wq threads (in its cgroup), and reach the same block tracepoints on
# 6.1 and 6.12 (docs/testing.md, "Kernels")
sh -c "echo \$\$ > $CG/cgroup.procs; exec fio --name=uring --filename=$DISK --rw=randread --bs=4k --direct=1 --ioengine=io_uring --iodepth=16 --size=32M --io_size=2M --output-format=json" >"$KEEL_TMP/uring.json"
sleep 0.5
uring=$(jq '.jobs[0].read.total_ios' "$KEEL_TMP/uring.json")
note "fio io_uring in the cgroup: $uring reads"
check_eq "every io_uring read issued under the cgroup is modelled too" "$((in + uring))" "$(disk_reads)"
id=$("$KEELCTL" blk stats --json | jq -r ".disks[] | select(.name == \"$NAME\") | .disk + \" (\" + .source + \")\"")
note "$NAME is $id"
check "the scratch disk has an ID" test -n "$id"
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"

# the loop-device checks, on this kernel
check "tests/host/test_blk.sh passes in the VM" bash "$KEEL_TOP/tests/host/test_blk.sh"
