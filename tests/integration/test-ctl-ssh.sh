#!/bin/bash
# cgwatchctl over ssh. One run on a host at load ~20 failed with "Transport endpoint is not
# connected" while plain ssh worked; the diagnostics below (the bridge by hand, both ssh logs)
# are kept to say why if it comes back.
# The dynos as in test-ctl-dynos.sh, then a real sshd on the guest's loopback (throwaway host key
# and root key): `cgwatchctl -H root@127.0.0.1 status`, with --dyno, and events over the link.
set -u
BUILD=${CGWATCH_BUILD:?}
SRC=${CGWATCH_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/assert.sh"
. "$(dirname "$0")/ctl-lib.sh"
[ "$(cat /proc/1/comm)" = systemd ] || { say "SKIP: PID 1 is not systemd (run me with run-in-vm --systemd)"; exit 77; }
[ -x /usr/sbin/sshd ] || { say "SKIP: openssh-server is not installed (tools/install-deps)"; exit 77; }

ctl_install
ctl_start_dynos
check "cgwatchctl --dyno a set-budget web 100M --runtime" cgwatchctl --dyno a set-budget web 100M --runtime

# sshd on the guest's loopback, with keys made here and now.
S=/tmp/sshd
mkdir -p $S /run/sshd /root/.ssh
chmod 700 /root/.ssh
ssh-keygen -q -t ed25519 -N '' -f $S/host_key
ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
cp /root/.ssh/id_ed25519.pub $S/authorized_keys
cat >$S/sshd_config <<CONF
ListenAddress 127.0.0.1
HostKey $S/host_key
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $S/sshd.pid
CONF
# The client side, as an operator would set it: trust this throwaway host key on first use.
cat >/root/.ssh/config <<CONF
Host 127.0.0.1
        StrictHostKeyChecking accept-new
        UserKnownHostsFile $S/known_hosts
        BatchMode yes
CONF
check "sshd starts on 127.0.0.1" /usr/sbin/sshd -f $S/sshd_config -E $S/sshd.log
check "ssh root@127.0.0.1 works" within 120 ssh root@127.0.0.1 true
say "diagnostics: the bridge by hand:"
ssh -xT root@127.0.0.1 systemd-stdio-bridge </dev/null 2>&1 | head -5
say "  exit ${PIPESTATUS[0]}"
printf '#!/bin/sh\nexec ssh -v "$@" 2>>%s/ssh-client.log\n' $S >$S/ssh-debug
chmod +x $S/ssh-debug
SYSTEMD_SSH=$S/ssh-debug SYSTEMD_LOG_LEVEL=debug cgwatchctl -H root@127.0.0.1 list 2>&1 | tail -20
say "ssh client log:"; tail -n 15 $S/ssh-client.log
say "sshd log:"; tail -n 15 $S/sshd.log

out=$(cgwatchctl -H root@127.0.0.1 status)
say "$out" | sed 's/^/  | /'
check "cgwatchctl -H root@127.0.0.1 status" sh -c "cgwatchctl -H root@127.0.0.1 status | grep -q '^web  *running'"
check "-H with --dyno a sees a's budget" sh -c "cgwatchctl -H root@127.0.0.1 --dyno a list | grep -Eq '^web	running	[0-9]+	[0-9]+	104857600	0$'"
check "-H writes as the remote root" cgwatchctl -H root@127.0.0.1 --dyno b set-budget web 80M --runtime
check "  b's memory.high changed" test "$(cat $CG_B/memory.high)" = "$(tripwire $((80 * MiB)))"
cgwatchctl -H root@127.0.0.1 --dyno a events >/tmp/rev.txt 2>/tmp/rev.err &
rev=$!
check "events over ssh subscribed" within 120 grep -q '^Following the events of org.cgwatch1.dyno.a' /tmp/rev.err
check "recycle a's worker" cgwatchctl --dyno a recycle web
check "  events over ssh prints it" within 120 grep -Eq ' web recycled reason=manual memory=[0-9.]+[BKM] budget=100M$' /tmp/rev.txt
kill -INT $rev
wait $rev
expect_exit 69 "-H a host that does not answer" cgwatchctl -H root@127.0.0.2 status
kill "$(cat $S/sshd.pid)"

ctl_finish
