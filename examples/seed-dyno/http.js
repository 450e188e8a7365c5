#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// http: the front end (express.js in the story; node's own http module here). It answers on
// 127.0.0.1:$HTTP_PORT: `/` with who it is, `/stats` with the dam's message counts read from the
// records in $SEED_STATE_DIR. The stop signal closes the listener, lets open requests finish,
// and exits 0.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const { settings, num, log, onStop } = require('./lib/common');

const PORT = num('HTTP_PORT', 8080);
const started = Date.now();
let served = 0;

function lines(name) {
  try {
    const buf = fs.readFileSync(path.join(settings.stateDir, name));
    let n = 0;
    for (const b of buf) if (b === 10) n++;
    return n;
  } catch (err) {
    return 0;
  }
}

const server = http.createServer((req, res) => {
  served++;
  let body;
  if (req.url === '/stats') {
    body = {
      produced: lines('produced.log'),
      consumed: lines('consumed-pusher.log') + lines('consumed-retrier.log'),
    };
  } else if (req.url === '/') {
    body = { name: 'http', pid: process.pid, uptime_ms: Date.now() - started, served };
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
});
server.listen(PORT, '127.0.0.1', () => log(`listening on 127.0.0.1:${PORT}`));
onStop(
  () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      log(`served ${served} requests`);
    }),
);
