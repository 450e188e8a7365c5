#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// retrier: the dam's second consumer, for the messages whose first push failed. Manual acks, a
// prefetch window; each sequence id is recorded in consumed-retrier.log before its ack. The stop
// signal cancels the consumer, finishes and acks what was delivered, closes, exits 0.
'use strict';

const crypto = require('crypto');
const { settings, num, log, onStop, Record, consume } = require('./lib/common');

const PREFETCH = num('RETRIER_PREFETCH', 20);

async function main() {
  const consumed = new Record('consumed-retrier.log');
  const c = await consume('retrier', settings.retryQueue, PREFETCH, (msg) => {
    const { seq } = JSON.parse(msg.content.toString());
    crypto.createHash('sha256').update(msg.content).digest('hex');
    consumed.add(seq);
  });
  onStop(async () => {
    await c.stop();
    consumed.close();
    log(`consumed ${consumed.count}`);
  });
}

main().catch((err) => {
  log(`fatal: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
