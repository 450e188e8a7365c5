/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Events and memory samples as CloudEvents 1.0 in structured mode (one JSON object per message,
 * content type application/cloudevents+json), and their AMQP routing keys. Pure: no I/O, no
 * clock reads; the caller passes every time and name. The schema is documented in
 * cgwatch-events(7); EVENT_JSON_SCHEMA is the "schema" field of every body's data. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"

#define EVENT_JSON_SCHEMA          1
#define EVENT_JSON_CONTENT_TYPE    "application/cloudevents+json"
#define EVENT_JSON_ROUTING_KEY_MAX 255  /* an AMQP shortstr */
#define EVENT_JSON_WORD_MAX        63   /* bytes of one routing-key word after escaping */
#define EVENT_JSON_STRING_MAX      4096 /* bytes of one string in a body; longer ones are cut */
#define EVENT_JSON_RFC3339_MAX     sizeof("2026-12-02T01:02:03.456789Z")

/* One sample of one worker's memory, published every SampleIntervalSec. Strings are borrowed for
 * the duration of the call. */
typedef struct MemorySampleRecord {
        const char *worker;     /* "queuer@2" */
        const char *supervisor; /* its group; NULL = the dyno itself */
        usec_t realtime_usec;   /* CLOCK_REALTIME of the reading */
        unsigned incarnation;
        pid_t pid;                     /* 0 if none */
        uint64_t memory_current_bytes; /* memory.current */
        uint64_t anon_bytes;           /* memory.stat anon */
        uint64_t file_bytes;           /* memory.stat file */
        uint64_t budget_bytes;         /* UINT64_MAX = none */
        uint64_t peak_bytes;           /* memory.peak; UINT64_MAX = unknown (kernels before 5.19) */
        /* The worker's standing, so that a consumer that starts late (the fleet view) knows it
         * after one interval: */
        const char *state;               /* "running", ...; NULL = unknown */
        unsigned restarts, recycles;     /* the worker's counters */
        unsigned lifetimes;              /* incarnations ended */
        bool leaking;                    /* judged a leaker (the leak-verdict event) */
        int64_t leak_rate_bytes_per_sec; /* the verdict's rate; 0 if not leaking */
} MemorySampleRecord;

/* Where a message comes from, and which one it is. */
typedef struct EventJsonContext {
        const char *host;     /* [AMQP] Host=, or the hostname */
        const char *dyno;     /* the dyno's name */
        const char *instance; /* unique per publisher lifetime (the AMQP sink: 32 random hex digits) */
        uint64_t sequence;    /* 1, 2, ... per message of that publisher */
} EventJsonContext;

/* Formats realtime_usec (microseconds since the epoch, UTC) as "2026-12-02T01:02:03.456789Z"
 * into buf (at least EVENT_JSON_RFC3339_MAX bytes). Returns 0, or -ERANGE for a year past 9999. */
int event_json_format_time(usec_t realtime_usec, char *buf, size_t size);

/* Escapes one routing-key word: bytes outside [A-Za-z0-9_@:-] (the topic separator '.', the
 * binding wildcards '*' and '#', controls, non-ASCII) become '_', an empty word becomes "_", and
 * the result is cut to EVENT_JSON_WORD_MAX bytes. buf holds at least EVENT_JSON_WORD_MAX + 1. */
void event_json_escape_word(const char *s, char *buf);

/* The routing key "cgwatch.<host>.<dyno>.<subject>.<event>", each word escaped as above; subject
 * is the worker, else the supervisor, else "@dyno" (no worker or supervisor name can start with
 * '@'). Returns 0 and *ret (at most EVENT_JSON_ROUTING_KEY_MAX bytes), or -ENOMEM. */
int event_json_routing_key(const char *host, const char *dyno, const char *subject, const char *event, char **ret);

/* The routing key of an event: subject from e->worker / e->supervisor, word from
 * event_type_to_string(). Returns 0 and *ret, -EINVAL for an out-of-range type, -ENOMEM. */
int event_json_event_routing_key(const Event *e, const char *host, const char *dyno, char **ret);

/* The CloudEvents id "<instance>-<sequence>". Returns 0 and *ret, or -ENOMEM. */
int event_json_id(const EventJsonContext *ctx, char **ret);

/* The CloudEvents body of an event (see cgwatch-events(7)): a NUL-terminated JSON object in
 * valid UTF-8 (invalid bytes in names become U+FFFD). Returns 0 and *ret (free()), -EINVAL for an
 * out-of-range type or a missing host/dyno/instance, -ENOMEM. */
int event_json_format_event(const Event *e, const EventJsonContext *ctx, char **ret);

/* The CloudEvents body of a sample (type org.cgwatch.worker.sample). Returns as above; -EINVAL
 * also when r->worker is NULL. */
int event_json_format_sample(const MemorySampleRecord *r, const EventJsonContext *ctx, char **ret);
