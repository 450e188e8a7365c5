// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The one instrument of the leak benchmark, the same for every side: follows the first process
// found (a pid file, or the first pid in a cgroup.procs file), and every INTERVAL_MS reads its
// VmRSS and VmHWM (/proc/PID/status) and its own node's memory.current (/proc/PID/cgroup). When it
// has exited, reads the node's memory.peak and prints one JSON object:
//   pid, node, t_first_ms, t_cross_ms (first sample with RSS above the budget; null = never),
//   t_exit_ms, rss_peak_kib (sampled), hwm_kib (the kernel's), node_peak_bytes, samples
// With --series FILE it also writes "t_ms rss_kib current_bytes" lines (t from the first sample).
//
// Usage: node sample.js (--pidfile F | --procs F) --budget-mb B [--interval MS] [--timeout S]
//        [--series FILE]
'use strict';
const fs = require('fs');

const args = {interval: 50, timeout: 300};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '').replace('-', '_')] = process.argv[i + 1];
const budgetKib = Number(args.budget_mb) * 1024;
const interval = Number(args.interval);
const now = () => performance.timeOrigin + performance.now();

function read(p) {
  try { return fs.readFileSync(p, 'utf8'); } catch { return null; }
}
function findPid() {
  const t = read(args.pidfile ?? args.procs);
  const pid = t === null ? NaN : parseInt(t, 10);
  return pid > 0 ? pid : null;
}
function mem(pid) {
  const t = read(`/proc/${pid}/status`);
  const rss = t && /^VmRSS:\s+(\d+)/m.exec(t);
  if (!rss)
    return null; // gone, or a zombie
  return {rss: Number(rss[1]), hwm: Number(/^VmHWM:\s+(\d+)/m.exec(t)[1])};
}

const r = {pid: null, node: null, t_first_ms: null, t_cross_ms: null, t_exit_ms: null, rss_peak_kib: 0,
           hwm_kib: 0, node_peak_bytes: null, samples: 0};
const series = [];
const start = now();

function finish() {
  clearInterval(timer);
  if (r.node) {
    const p = read(`/sys/fs/cgroup/${r.node}/memory.peak`);
    if (p !== null)
      r.node_peak_bytes = Number(p);
  }
  if (args.series)
    fs.writeFileSync(args.series, series.join('\n') + '\n');
  process.stdout.write(JSON.stringify(r) + '\n');
}

function tick() {
  const t = now();
  // The timeout runs from the first pid (a supervisor may take a while to start under TCG).
  if (t - (r.t_first_ms ?? start) > args.timeout * 1000)
    return finish();
  if (r.pid === null) {
    r.pid = findPid();
    if (r.pid === null)
      return;
    r.t_first_ms = t;
    const cg = read(`/proc/${r.pid}/cgroup`);
    r.node = cg ? cg.trim().replace(/^0::\//, '') : null;
  }
  const m = mem(r.pid);
  if (m === null) {
    r.t_exit_ms = t;
    return finish();
  }
  // Re-read every time: bench/lib/in-cgroup moves itself into its node only after the
  // supervisor started it (a cgroup mkdir took up to 0.8 s on a loaded TCG host).
  const cg = read(`/proc/${r.pid}/cgroup`);
  if (cg)
    r.node = cg.trim().replace(/^0::\//, '');
  r.samples++;
  r.rss_peak_kib = Math.max(r.rss_peak_kib, m.rss);
  r.hwm_kib = Math.max(r.hwm_kib, m.hwm);
  if (r.t_cross_ms === null && m.rss > budgetKib)
    r.t_cross_ms = t;
  const cur = read(`/sys/fs/cgroup/${r.node}/memory.current`);
  series.push(`${Math.round(t - r.t_first_ms)} ${m.rss} ${cur === null ? '' : cur.trim()}`);
}
const timer = setInterval(tick, interval);
tick();
