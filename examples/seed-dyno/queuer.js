#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// queuer: the dam's producer, the one that leaked in the story. It puts work on the work queue
// at QUEUER_RATE messages per second, each numbered with a sequence id that continues across
// incarnations (reserved in blocks in $SEED_STATE_DIR/queuer.next, so no id is ever reused),
// with publisher confirms: an id is written to produced.log only once the broker has confirmed
// it, and a nacked message is published again under the same id.
//
// The leak: with QUEUER_LEAK_BYTES > 0 it keeps that many bytes of every message it sent, and
// never lets go. On the stop signal it stops publishing, waits for every outstanding confirm,
// closes the channel and the connection, and exits 0; the leak goes with the process.
// While $SEED_STATE_DIR/queuer.pause exists it publishes nothing.
'use strict';

const fs = require('fs');
const path = require('path');
const { settings, num, log, sleep, onStop, connect, assertQueues, Record } = require('./lib/common');

const RATE = num('QUEUER_RATE', 200);
const LEAK_BYTES = num('QUEUER_LEAK_BYTES', 0);
const MAX_UNCONFIRMED = num('QUEUER_MAX_UNCONFIRMED', 500);
const RESERVE = 1000;
const nextFile = path.join(settings.stateDir, 'queuer.next');
const PAUSE_FILE = path.join(settings.stateDir, 'queuer.pause');

function readNext() {
  try {
    return Number(fs.readFileSync(nextFile, 'utf8').trim()) || 0;
  } catch (err) {
    if (err.code === 'ENOENT') return 0;
    throw err;
  }
}
function writeNext(n) {
  fs.writeFileSync(`${nextFile}.tmp`, `${n}\n`);
  fs.renameSync(`${nextFile}.tmp`, nextFile);
}

async function main() {
  const produced = new Record('produced.log');
  let next = readNext();
  let reserved = next;
  const firstSeq = next;
  const leaked = [];
  let unconfirmed = 0;
  let nacked = 0;
  let stopping = false;
  let waiters = [];
  const wake = () => {
    waiters.forEach((f) => f());
    waiters = [];
  };
  const waitFor = (cond) =>
    (async () => {
      while (!cond()) await new Promise((resolve) => waiters.push(resolve));
    })();

  const conn = await connect('queuer');
  const ch = await conn.createConfirmChannel();
  await assertQueues(ch);

  // Publishes seq; counted in `unconfirmed` until the broker confirms it (a nack publishes it
  // again under the same id, still counted, so the drain cannot finish before it is confirmed).
  const send = (seq) => {
    const body = Buffer.from(JSON.stringify({ seq, at: Date.now(), from: process.pid }));
    return ch.publish('', settings.workQueue, body, { persistent: true, messageId: String(seq) }, (err) => {
      if (err) {
        nacked++;
        setImmediate(() => send(seq));
        return;
      }
      unconfirmed--;
      produced.add(seq);
      wake();
    });
  };
  const publish = (seq) => {
    unconfirmed++;
    const ok = send(seq);
    if (LEAK_BYTES > 0) leaked.push(Buffer.alloc(LEAK_BYTES, seq & 0xff));
    return ok;
  };
  let closing = false;
  const lost = (what) => () => {
    if (closing) return;
    log(`${what} closed under us with ${unconfirmed} unconfirmed: exiting`);
    process.exit(1);
  };
  ch.on('close', lost('the channel'));
  conn.on('close', lost('the connection'));

  onStop(async () => {
    stopping = true;
    wake();
    await waitFor(() => unconfirmed === 0);
    writeNext(next);
    closing = true;
    await ch.close();
    await conn.close();
    produced.close();
    log(`produced ${produced.count} (seq ${firstSeq}..${next - 1}), nacked ${nacked}`);
  });

  log(`publishing ${RATE}/s to ${settings.workQueue} from seq ${next}` + (LEAK_BYTES ? `, leaking ${LEAK_BYTES} bytes per message` : ''));
  // Credit for RATE messages a second, at most one second's worth banked; none while the
  // pause file exists (the demo and the test use it to let the consumers drain at the end).
  let credit = 0;
  let lastTick = Date.now();
  let lastReport = lastTick;
  let paused = false;
  while (!stopping) {
    const now = Date.now();
    const pause = fs.existsSync(PAUSE_FILE);
    if (pause !== paused) log(pause ? `paused by ${PAUSE_FILE}` : 'resumed');
    paused = pause;
    credit = paused ? 0 : Math.min(RATE, credit + ((now - lastTick) * RATE) / 1000);
    lastTick = now;
    while (!stopping && credit >= 1 && unconfirmed < MAX_UNCONFIRMED) {
      if (next >= reserved) {
        reserved = next + RESERVE;
        writeNext(reserved);
      }
      credit--;
      if (!publish(next++)) await new Promise((resolve) => ch.once('drain', resolve));
    }
    if (Date.now() - lastReport >= 10000) {
      lastReport = Date.now();
      log(`produced ${produced.count}, unconfirmed ${unconfirmed}, leaked ${(leaked.length * LEAK_BYTES / 1048576).toFixed(1)} MiB`);
    }
    await sleep(20);
  }
}

main().catch((err) => {
  log(`fatal: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
