#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// tally STATE_DIR: counts the dam's messages exactly from the records its workers keep.
//   produced     distinct sequence ids the broker confirmed to the queuer (produced.log)
//   consumed     distinct ids recorded by the pusher or the retrier before their ack
//   lost         produced but never consumed (at-least-once: must be 0)
//   duplicated   deliveries beyond the first of an id (redeliveries; counted, not an error)
//   unconfirmed  consumed ids whose confirm the queuer never saw (it died before it came)
// Prints `key=value` lines; with --json one JSON object.
'use strict';

const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const json = args.includes('--json');
const dir = args.find((a) => !a.startsWith('--'));
if (!dir) {
  console.error('usage: tally.js STATE_DIR [--json]');
  process.exit(2);
}

function ids(name) {
  let text;
  try {
    text = fs.readFileSync(path.join(dir, name), 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  // A worker killed mid-write may leave a last line without its newline: it was not acked.
  const lines = text.split('\n');
  lines.pop();
  return lines.map(Number);
}

const produced = new Set(ids('produced.log'));
const seen = new Map();
let deliveries = 0;
for (const name of ['consumed-pusher.log', 'consumed-retrier.log']) {
  for (const id of ids(name)) {
    seen.set(id, (seen.get(id) || 0) + 1);
    deliveries++;
  }
}
let lost = 0;
for (const id of produced) if (!seen.has(id)) lost++;
let unconfirmed = 0;
for (const id of seen.keys()) if (!produced.has(id)) unconfirmed++;
const out = {
  produced: produced.size,
  consumed: seen.size,
  lost,
  duplicated: deliveries - seen.size,
  unconfirmed,
  retried: ids('consumed-retrier.log').length,
};
if (json) console.log(JSON.stringify(out));
else for (const [k, v] of Object.entries(out)) console.log(`${k}=${v}`);
