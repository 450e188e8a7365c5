// SPDX-License-Identifier: LGPL-2.1-or-later
// What the seed dyno's programs share: settings from the environment, the graceful stop, the
// connection slot from connection_lock, the AMQP connection, and the append-only records of
// message sequence ids that make loss and duplicates countable exactly.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const amqp = require('amqplib');

const env = (name, dflt) => (process.env[name] === undefined || process.env[name] === '' ? dflt : process.env[name]);
const num = (name, dflt) => {
  const v = Number(env(name, dflt));
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name}=${process.env[name]} is not a number >= 0`);
  return v;
};

const STATE_DIR = env('SEED_STATE_DIR', '/tmp/seed-dyno');
const settings = {
  stateDir: STATE_DIR,
  amqpUrl: env('SEED_AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/'),
  lockSocket: env('SEED_LOCK_SOCKET', path.join(STATE_DIR, 'connection_lock.sock')),
  workQueue: env('SEED_WORK_QUEUE', 'seed.work'),
  retryQueue: env('SEED_RETRY_QUEUE', 'seed.retry'),
};
fs.mkdirSync(STATE_DIR, { recursive: true });

function log(...args) {
  // cgwatchd prefixes every line with the worker's name.
  console.log(`[pid ${process.pid}]`, ...args);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The stop signal (SIGTERM from cgwatchd, SIGINT by hand) runs `handler` once; the handler
// finishes what is in flight and resolves; then the process exits 0. A second signal while
// draining is ignored: cgwatchd's StopTimeoutSec and cgroup.kill bound the drain.
// Until then, a stop signal finds nothing in flight and exits at once.
const earlyStop = () => process.exit(0);
process.on('SIGTERM', earlyStop);
process.on('SIGINT', earlyStop);

function onStop(handler) {
  process.removeListener('SIGTERM', earlyStop);
  process.removeListener('SIGINT', earlyStop);
  let stopping = false;
  const stop = (why) => {
    if (stopping) return;
    stopping = true;
    log(`${why}: draining`);
    Promise.resolve()
      .then(() => handler(why))
      .then(
        () => {
          log('drained, exiting');
          process.exit(0);
        },
        (err) => {
          log(`drain failed: ${err && err.stack ? err.stack : err}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return stop;
}

// One AMQP connection slot from connection_lock (the seed's semaphores). The slot is held as
// long as the socket stays open: connection_lock frees it when the socket closes, however this
// process ends. Retries while connection_lock is not (yet, or again) listening.
async function acquireSlot(name) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const sock = net.createConnection(settings.lockSocket);
        let buf = '';
        sock.setEncoding('utf8');
        sock.once('error', reject);
        sock.on('data', (d) => {
          buf += d;
          const nl = buf.indexOf('\n');
          if (nl < 0) return;
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.startsWith('OK')) return reject(new Error(`connection_lock said '${line}'`));
          sock.removeListener('error', reject);
          sock.on('error', () => {});
          resolve(sock);
        });
        sock.write(`ACQUIRE ${name}\n`);
      });
    } catch (err) {
      if (attempt % 25 === 0) log(`waiting for connection_lock (${err.code || err.message})`);
      await sleep(200);
    }
  }
}

// An AMQP connection once connection_lock grants a slot; retried while the broker is away.
async function connect(role) {
  const slot = await acquireSlot('amqp');
  for (let attempt = 0; ; attempt++) {
    try {
      const conn = await amqp.connect(settings.amqpUrl, { clientProperties: { connection_name: `seed-${role}` } });
      conn.on('error', (err) => log(`connection error: ${err.message}`));
      conn.on('close', () => slot.destroy());
      return conn;
    } catch (err) {
      if (attempt % 10 === 0) log(`waiting for the broker (${err.code || err.message})`);
      await sleep(500);
    }
  }
}

async function assertQueues(ch) {
  await ch.assertQueue(settings.workQueue, { durable: true });
  await ch.assertQueue(settings.retryQueue, { durable: true });
}

// An append-only record of sequence ids, one per line, written before the ack that follows it
// (so a crash between the two can only duplicate, never lose).
class Record {
  constructor(name) {
    this.fd = fs.openSync(path.join(STATE_DIR, name), 'a');
    this.count = 0;
  }
  add(seq) {
    fs.writeSync(this.fd, `${seq}\n`);
    this.count++;
  }
  close() {
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}

// A consumer with manual acks and a prefetch window. `handle(msg, ch)` does the work and
// resolves once the message may be acked. stop() cancels the consumer, waits for the messages
// already delivered to be handled and acked, then closes the channel and the connection.
async function consume(role, queue, prefetch, handle, { confirm = false } = {}) {
  const conn = await connect(role);
  const ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
  await assertQueues(ch);
  await ch.prefetch(prefetch);
  let inFlight = 0;
  let idleWaiters = [];
  let lastMessageMs = Date.now();
  const settle = () => {
    if (--inFlight === 0) {
      idleWaiters.forEach((f) => f());
      idleWaiters = [];
    }
  };
  const { consumerTag } = await ch.consume(
    queue,
    (msg) => {
      if (msg === null) return; // cancelled by the broker
      inFlight++;
      lastMessageMs = Date.now();
      Promise.resolve()
        .then(() => handle(msg, ch))
        .then(
          () => ch.ack(msg),
          (err) => {
            log(`handling failed, requeueing: ${err.message}`);
            ch.nack(msg, false, true);
          },
        )
        .finally(settle);
    },
    { noAck: false },
  );
  log(`consuming ${queue} (prefetch ${prefetch})`);
  return {
    ch,
    lastMessageMs: () => lastMessageMs,
    async stop() {
      await ch.cancel(consumerTag);
      if (inFlight > 0) await new Promise((resolve) => idleWaiters.push(resolve));
      await ch.close();
      await conn.close();
    },
  };
}

module.exports = { settings, env, num, log, sleep, onStop, connect, assertQueues, Record, consume };
