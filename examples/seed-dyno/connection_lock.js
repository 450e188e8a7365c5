#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// connection_lock: the seed's semaphores. The dam's workers ask it for a slot before they open
// an AMQP connection, so that no more than CONNECTION_LOCK_SLOTS connections exist at once.
// Protocol on the unix socket $SEED_LOCK_SOCKET, one line each way:
//   ACQUIRE <name>   -> "OK <held>/<slots>" once a slot of <name> is free (waiters are FIFO)
//   STATUS           -> one JSON line
// A slot is held until the client's socket closes, however the client ends: a recycled worker
// cannot leak one. The stop signal stops accepting, and exits 0 when the last holder has gone
// or after CONNECTION_LOCK_DRAIN_SEC.
'use strict';

const fs = require('fs');
const net = require('net');
const { settings, num, log, onStop } = require('./lib/common');

const SLOTS = num('CONNECTION_LOCK_SLOTS', 8);
const DRAIN_SEC = num('CONNECTION_LOCK_DRAIN_SEC', 2);
const sems = new Map(); // name -> { holders: Set<socket>, waiters: [socket] }
let granted = 0;

function sem(name) {
  if (!sems.has(name)) sems.set(name, { holders: new Set(), waiters: [] });
  return sems.get(name);
}

function grant(s) {
  while (s.holders.size < SLOTS && s.waiters.length > 0) {
    const sock = s.waiters.shift();
    if (sock.destroyed) continue;
    s.holders.add(sock);
    granted++;
    sock.write(`OK ${s.holders.size}/${SLOTS}\n`);
  }
}

const server = net.createServer((sock) => {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const [cmd, name] = buf.slice(0, nl).trim().split(/\s+/);
      buf = buf.slice(nl + 1);
      if (cmd === 'ACQUIRE' && name) {
        const s = sem(name);
        s.waiters.push(sock);
        grant(s);
      } else if (cmd === 'STATUS') {
        const out = { slots: SLOTS, granted };
        for (const [n, s] of sems) out[n] = { held: s.holders.size, waiting: s.waiters.length };
        sock.write(`${JSON.stringify(out)}\n`);
      } else {
        sock.write('ERR\n');
      }
    }
  });
  const release = () => {
    for (const s of sems.values()) {
      if (s.holders.delete(sock)) grant(s);
      s.waiters = s.waiters.filter((w) => w !== sock);
    }
  };
  sock.on('close', release);
  sock.on('error', release);
});

try {
  fs.unlinkSync(settings.lockSocket);
} catch (err) {
  if (err.code !== 'ENOENT') throw err;
}
server.listen(settings.lockSocket, () => log(`serving ${SLOTS} slots per name on ${settings.lockSocket}`));
onStop(async () => {
  server.close();
  const deadline = Date.now() + DRAIN_SEC * 1000;
  const held = () => [...sems.values()].reduce((n, s) => n + s.holders.size, 0);
  while (held() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  log(`granted ${granted} slots, ${held()} still held at exit`);
});
