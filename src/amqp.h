/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The AMQP sink: publishes events and memory samples to a RabbitMQ topic exchange.
 *
 * Two sides. The daemon's event loop calls amqp_sink_emit() / amqp_sink_sample(): they serialise
 * the record (event-json.c) and append it to a bounded outbox under a mutex, then wake the I/O
 * thread through an eventfd. They never touch the network and never wait for it: a few
 * microseconds, with the broker up or down. One I/O thread owns the rabbitmq-c connection (which
 * is not thread-safe): it connects, declares the exchange, turns on publisher confirms, publishes
 * the outbox in order, reads acks, nacks and returns, answers heartbeats, and reconnects with
 * backoff when the connection is lost.
 *
 * Delivery is at-least-once for what reaches the outbox: a message leaves the sink only when the
 * broker has acked (or nacked) it; messages published but not yet acked when a connection is
 * lost are published again on the next one (so a consumer may see a message twice: the AMQP
 * message-id and the CloudEvents id are the same, and unique). What is dropped, and counted:
 *   - when the outbox is full: the oldest queued sample, else (no sample queued) an incoming
 *     sample itself, else the oldest queued event;
 *   - whatever is still queued when amqp_sink_free()'s flush time runs out.
 * Unroutable messages (no queue bound) are returned by the broker (mandatory flag) and counted as
 * returned; nacked ones are counted and not published again. Samples are transient (delivery
 * mode 1), events persistent (2). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event-json.h"
#include "event.h"

#define AMQP_SINK_DEFAULT_OUTBOX        4096 /* messages */
#define AMQP_SINK_DEFAULT_HEARTBEAT_SEC 30
#define AMQP_SINK_WINDOW                256 /* published, not yet acked */
#define AMQP_SINK_FLUSH_USEC            (2 * USEC_PER_SEC)
#define AMQP_SINK_BACKOFF_MIN_USEC      (100 * USEC_PER_MSEC)
#define AMQP_SINK_BACKOFF_MAX_USEC      (30 * USEC_PER_SEC)

typedef struct AmqpSinkOptions {
        /* amqp://[user[:password]@]host[:port][/vhost] or amqps://...; the rabbitmq-c syntax
         * (percent-encoded parts; the vhost defaults to "/"). */
        const char *url;
        const char *exchange; /* a topic exchange, declared durable when missing */
        const char *host;     /* the routing key's host word and the source; NULL: gethostname() */
        const char *dyno;     /* the dyno's name; NULL: "default" */
        /* The password, read once in amqp_sink_new(), instead of the URL's: a file (first line, one
         * trailing newline stripped), or a systemd credential: $CREDENTIALS_DIRECTORY/<name>.
         * At most one of the two. */
        const char *password_file;
        const char *credential;
        const char *ca_file;    /* amqps: the CA bundle; NULL: /etc/ssl/certs/ca-certificates.crt */
        size_t outbox_capacity; /* messages; 0: AMQP_SINK_DEFAULT_OUTBOX */
        unsigned heartbeat_sec; /* asked of the broker; 0: AMQP_SINK_DEFAULT_HEARTBEAT_SEC */
} AmqpSinkOptions;

typedef struct AmqpStats {
        uint64_t published;       /* basic.publish calls, resends included */
        uint64_t confirmed;       /* basic.ack received (returned messages are acked too) */
        uint64_t nacked;          /* basic.nack received */
        uint64_t returned;        /* basic.return received: no queue was bound for the key */
        uint64_t resent;          /* published again after a connection was lost unacked */
        uint64_t dropped_samples; /* by the outbox policy or at the end of the flush */
        uint64_t dropped_events;
        uint64_t connects;   /* connections set up (exchange declared, confirms on) */
        uint64_t reconnects; /* connects after the first */
        uint64_t queued;     /* now in the outbox */
        uint64_t in_flight;  /* now published and not acked (on this or a lost connection) */
        bool connected;
        char last_error[160]; /* why the last connection failed or ended; "" if none. Never a secret. */
} AmqpStats;

typedef struct AmqpSink AmqpSink;

/* Checks the options, reads the password (password_file or credential), and starts the I/O
 * thread, which connects in the background: a broker that is down is not an error here.
 * Returns 0 and *ret, or: -EINVAL for a URL rabbitmq-c cannot parse, an empty exchange, both
 * password_file and credential; -ENXIO for credential without $CREDENTIALS_DIRECTORY; errors of
 * open()/read() of the password (-ENOENT, -EACCES, ...), -EBADMSG for a password containing a NUL
 * byte or a second line; -ENOMEM; errors of eventfd() and pthread_create(). */
int amqp_sink_new(const AmqpSinkOptions *o, AmqpSink **ret);

/* Queues one event (persistent, routing key cgwatch.<host>.<dyno>.<worker>.<event>). Called on
 * the event loop's thread; never blocks on the network. Returns 0 when queued (another message
 * may have been dropped to make room, see above), -ENOMEM, -EINVAL for an out-of-range type. The
 * daemon may ignore the result: drops and failures are counted. */
int amqp_sink_emit(AmqpSink *s, const Event *e);

/* Queues one sample (transient, routing key cgwatch.<host>.<dyno>.<worker>.sample). Returns 0
 * when queued, 1 when the sample itself was dropped (the outbox is full of events), -ENOMEM,
 * -EINVAL (no worker). */
int amqp_sink_sample(AmqpSink *s, const MemorySampleRecord *r);

/* An eventfd (EFD_NONBLOCK) that the I/O thread increments when a connection is set up, and once
 * when the sink is found disconnected (the first failed attempt, or a lost connection): once per
 * outage, not per retry. The loop watches it for POLLIN, reads it and looks at amqp_sink_stats().
 * Owned by the sink. */
int amqp_sink_state_fd(AmqpSink *s);

/* A snapshot of the counters (taken under the outbox lock: cheap, callable from the loop). */
void amqp_sink_stats(AmqpSink *s, AmqpStats *ret);

/* Publishes what is queued for up to AMQP_SINK_FLUSH_USEC while connected (no reconnect is tried
 * once stopping), counts what is left as dropped, closes the connection and joins the thread.
 * Blocks the caller for at most that long plus one connect/handshake timeout (5 s) in the worst
 * case. Afterwards amqp_sink_stats() gives the final counters; a message emitted after it is
 * accepted and never sent. A second call does nothing. */
void amqp_sink_stop(AmqpSink *s);

/* amqp_sink_stop(), then frees. Accepts NULL; returns NULL. */
AmqpSink *amqp_sink_free(AmqpSink *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(AmqpSink *, amqp_sink_free);
