// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A leaking Node.js worker for the PM2 side of the benchmark: the node twin of cgwatch-leaker
// --rate, so both supervisors face the same kind of leak.
//
// Usage: node leak.js [RATE_MBPS]      (or LEAK_RATE_MBPS=20 node leak.js)
// Environment:
//   LEAK_RATE_MBPS    leak rate in MiB/s (argv[2] wins); default 20
//   LEAK_MAX_MB       stop leaking once this much is leaked (MiB), then hold: keeps a run
//                     inside a small VM from taking the whole machine down when the supervisor
//                     reacts late; default: no cap
//   LEAK_REPORT_MS    how often to print the RSS line; default 1000
//
// Output (stdout, one line each; PM2 sends it to its out log):
//   leak: start pid=N rate_mbps=R t_ms=EPOCH_MS
//   leak: report pid=N t_ms=EPOCH_MS rss_mb=... leaked_mb=...
//   leak: capped pid=N t_ms=EPOCH_MS rss_mb=... leaked_mb=...   once, if LEAK_MAX_MB is reached
//   leak: stop pid=N signal=SIGINT t_ms=EPOCH_MS rss_mb=... leaked_mb=...
// t_ms is wall-clock epoch milliseconds so the benchmark can line it up with its own samples.
// PM2 stops a fork-mode app with SIGINT (KILL_SIGNAL), then SIGKILL after 1600 ms
// (KILL_TIMEOUT); we exit at once on SIGINT or SIGTERM, like a well-behaved app.
'use strict';

const MIB = 1024 * 1024;
// Leak in steps of this many ms: small enough that RSS rises smoothly at 200 MiB/s (2 MiB a
// step), large enough that a 1 MiB/s leak is not all timer overhead.
const STEP_MS = 10;
const PAGE = 4096;
const CATCHUP_STEPS = 4;

const rateMbps = Number(process.argv[2] ?? process.env.LEAK_RATE_MBPS ?? 20);
const maxMb = process.env.LEAK_MAX_MB ? Number(process.env.LEAK_MAX_MB) : Infinity;
const reportMs = Number(process.env.LEAK_REPORT_MS ?? 1000);

if (!(rateMbps >= 0) || !(maxMb > 0) || !(reportMs > 0)) {
  console.error(`leak: bad rate/cap/report: ${rateMbps} ${maxMb} ${reportMs}`);
  process.exit(2);
}

const held = [];           // the leak: never released
let leakedBytes = 0;
let capped = false;        // LEAK_MAX_MB reached: holding, no longer leaking
const start = process.hrtime.bigint();

function rssMb() {
  return (process.memoryUsage.rss() / MIB).toFixed(1);
}

function leakStep() {
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  const target = Math.min(rateMbps * elapsedS, maxMb) * MIB;
  // At most CATCHUP_STEPS steps' worth at once: a leaker held back (a slow CPU, a throttled
  // cgroup) stays a steady leak at or below its rate instead of catching up in one synchronous
  // allocation of everything it missed, which would hold off its own signal handlers for as long
  // as that allocation takes (seen: a 200 MiB/s run in the VM never ran its SIGTERM handler).
  const n = Math.floor(Math.min(target - leakedBytes, rateMbps * MIB * STEP_MS * CATCHUP_STEPS / 1000) / PAGE) * PAGE;
  if (n <= 0) {
    if (target >= maxMb * MIB && !capped) {
      capped = true;
      console.log(`leak: capped pid=${process.pid} t_ms=${Date.now()} rss_mb=${rssMb()} ` +
                  `leaked_mb=${(leakedBytes / MIB).toFixed(1)}`);
    }
    return;
  }
  // allocUnsafeSlow: a buffer of its own, outside the shared pool. Not Buffer.alloc(): that
  // zero-fills with calloc, which for large sizes hands back untouched mmap pages that are not
  // resident. Writing one byte per page makes every page resident; the value is not zero so
  // nothing can fold the pages back into the zero page.
  const buf = Buffer.allocUnsafeSlow(n);
  for (let off = 0; off < n; off += PAGE)
    buf[off] = 0x5a;
  held.push(buf);
  leakedBytes += n;
}

function stop(signal) {
  console.log(`leak: stop pid=${process.pid} signal=${signal} t_ms=${Date.now()} rss_mb=${rssMb()} ` +
              `leaked_mb=${(leakedBytes / MIB).toFixed(1)}`);
  process.exit(0);
}

process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

console.log(`leak: start pid=${process.pid} rate_mbps=${rateMbps} t_ms=${Date.now()} rss_mb=${rssMb()}`);
if (rateMbps > 0)
  setInterval(leakStep, STEP_MS);
setInterval(() => {
  console.log(`leak: report pid=${process.pid} t_ms=${Date.now()} rss_mb=${rssMb()} ` +
              `leaked_mb=${(leakedBytes / MIB).toFixed(1)}`);
}, reportMs);
