#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keeld's memh read service without keel.ko (fallback: pidfd and
# process_vm_writev): clients read file ranges through keeld into their
# own buffers; refusals (outside allowed_dirs, symlink and '..' escapes,
# limits, read-only handle, bad handle offset, too many clients); keeld
# keeps serving when clients vanish mid-request.  Body in
# tests/integration/memh/read_service.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
. "$(dirname "$0")/../integration/memh/read_service.sh"
need_root
need_cmd jq socat
[ -c /dev/keel ] && skip "keel.ko is loaded: this test is for the fallback (tests/integration/test_memh_keeld.sh covers the module)"

memh_read_service fallback
