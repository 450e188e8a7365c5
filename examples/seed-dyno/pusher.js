#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// pusher: the dam's main consumer. It takes work from the work queue (manual acks, a prefetch
// window), "pushes" it on, and records each sequence id in consumed-pusher.log before acking it.
// Every PUSHER_FAIL_EVERY-th message fails its first push: it goes to the retry queue (published
// with a confirm, and only then is the original acked) for the retrier.
//
// As in the story, it shuts itself down after PUSHER_IDLE_EXIT_SEC without a message, and its
// supervisor starts it again. The stop signal does the same: cancel the consumer, finish and ack
// what was delivered, close, exit 0.
'use strict';

const crypto = require('crypto');
const { settings, num, log, onStop, Record, consume } = require('./lib/common');

const PREFETCH = num('PUSHER_PREFETCH', 50);
const FAIL_EVERY = num('PUSHER_FAIL_EVERY', 10);
const IDLE_EXIT_SEC = num('PUSHER_IDLE_EXIT_SEC', 15);

async function main() {
  const consumed = new Record('consumed-pusher.log');
  let retried = 0;
  let stop;
  const c = await consume(
    'pusher',
    settings.workQueue,
    PREFETCH,
    (msg, ch) => {
      const { seq } = JSON.parse(msg.content.toString());
      // The push itself: a little work per message.
      crypto.createHash('sha256').update(msg.content).digest('hex');
      if (FAIL_EVERY > 0 && seq % FAIL_EVERY === 0) {
        return new Promise((resolve, reject) => {
          ch.publish('', settings.retryQueue, msg.content, { persistent: true, messageId: String(seq), headers: { 'x-first-failure': Date.now() } }, (err) => {
            if (err) return reject(err);
            retried++;
            resolve();
          });
        });
      }
      consumed.add(seq);
      return undefined;
    },
    { confirm: true },
  );
  stop = onStop(async () => {
    clearInterval(idleTimer);
    await c.stop();
    consumed.close();
    log(`consumed ${consumed.count}, sent ${retried} to the retrier`);
  });
  const idleTimer = setInterval(() => {
    if (IDLE_EXIT_SEC > 0 && Date.now() - c.lastMessageMs() > IDLE_EXIT_SEC * 1000) stop(`idle for ${IDLE_EXIT_SEC} s`);
  }, 1000);
}

main().catch((err) => {
  log(`fatal: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
