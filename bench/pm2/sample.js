// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The sampler behind bench/pm2/measure: watches whatever pid PM2 currently runs for the app (its
// pid file), reads that pid's VmRSS every INTERVAL_MS from /proc, and records when the RSS first
// exceeds the limit and when PM2 replaced the process (a new pid in the pid file). It reads the
// kernel's numbers itself rather than asking PM2, so PM2's own 30 s polling cannot blur them.
//
// Usage: node sample.js PIDFILE LIMIT_MB DURATION_S [INTERVAL_MS]
// Starts before the app does (it waits for the pid file) so that a fast leak cannot cross the
// limit before the first sample. Stops at the first restart or after DURATION_S from the first
// pid, whichever comes first. Prints one JSON object on stdout; measure formats it.
// Times are epoch milliseconds (performance.timeOrigin + now(): monotonic within the run, and
// comparable to the Date.now() stamps that leak.js logs).
'use strict';

const fs = require('fs');

const [pidfile, limitArg, durationArg, intervalArg] = process.argv.slice(2);
const limitMb = Number(limitArg);
const durationMs = Number(durationArg) * 1000;
const intervalMs = Number(intervalArg ?? 50);
if (!pidfile || !(limitMb > 0) || !(durationMs > 0) || !(intervalMs > 0)) {
  console.error('usage: sample.js PIDFILE LIMIT_MB DURATION_S [INTERVAL_MS]');
  process.exit(2);
}
// The limit as PM2 applies it: "100M" is 100 * 1024 * 1024 bytes, exceeded when strictly above.
const limitKib = limitMb * 1024;
const FIRST_PID_TIMEOUT_MS = 30000;

const nowMs = () => performance.timeOrigin + performance.now();

function readPid() {
  try {
    const pid = parseInt(fs.readFileSync(pidfile, 'utf8'), 10);
    return pid > 0 ? pid : null;
  } catch {
    return null; // not written yet, or unlinked while PM2 restarts the app
  }
}

// VmRSS and VmHWM (the kernel's own peak RSS of the process) in KiB, or null if the process is
// gone or a zombie (a zombie has no mm, so no Vm* lines).
function readMem(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(text);
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(text);
  return rss ? { rss: Number(rss[1]), hwm: hwm ? Number(hwm[1]) : Number(rss[1]) } : null;
}

const r = {
  interval_ms: intervalMs, samples: 0,
  old_pid: null, new_pid: null,
  t_first_ms: null,      // first sample of the app
  t_cross_ms: null,      // first sample above the limit
  t_old_gone_ms: null,   // first sample where the old process had no memory left (exited)
  t_restart_ms: null,    // first sample showing a new pid
  t_last_ms: null,       // the last sample
  peak_kib: 0,           // highest VmRSS sampled for the old pid
  hwm_kib: 0,            // highest VmHWM read for the old pid
  timed_out: false,
};

const waitStart = nowMs();

function finish() {
  clearInterval(timer);
  r.t_last_ms = nowMs();
  process.stdout.write(JSON.stringify(r) + '\n');
}

function tick() {
  const t = nowMs();
  const pid = readPid();

  if (r.old_pid === null) {
    if (pid === null) {
      if (t - waitStart > FIRST_PID_TIMEOUT_MS) {
        r.timed_out = true;
        finish();
      }
      return;
    }
    r.old_pid = pid;
    r.t_first_ms = t;
  }

  if (pid !== null && pid !== r.old_pid && readMem(pid) !== null) {
    r.new_pid = pid;
    r.t_restart_ms = t;
    if (r.t_old_gone_ms === null)
      r.t_old_gone_ms = t;
    return finish();
  }

  const m = readMem(r.old_pid);
  r.samples++;
  if (m === null) {
    if (r.t_old_gone_ms === null)
      r.t_old_gone_ms = t;
  } else {
    r.peak_kib = Math.max(r.peak_kib, m.rss);
    r.hwm_kib = Math.max(r.hwm_kib, m.hwm);
    if (r.t_cross_ms === null && m.rss > limitKib)
      r.t_cross_ms = t;
  }

  if (t - r.t_first_ms > durationMs) {
    r.timed_out = true;
    finish();
  }
}

const timer = setInterval(tick, intervalMs);
tick();
