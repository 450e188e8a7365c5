# SPDX-License-Identifier: LGPL-2.1-or-later
# Assertions shared by every real-kernel scenario (sourced by lib.sh and test-bus.sh). Each check
# prints "ok - ..." or "FAIL - ..." and counts; the scenario ends with "N passed, M failed".
PASSED=${PASSED:-0}
FAILED=${FAILED:-0}

say() { printf '%s\n' "$*"; }

ok() {
        PASSED=$((PASSED + 1))
        say "ok - $*"
}

not_ok() {
        FAILED=$((FAILED + 1))
        say "FAIL - $*"
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
        local d=$1
        shift
        if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms (this is the test observing, not the
# daemon) and returns its status at the end.
wait_for() {
        local limit=$1 i=0
        shift
        while ! "$@"; do
                i=$((i + 1))
                [ $i -ge $((limit * 20)) ] && return 1
                sleep 0.05
        done
        return 0
}
