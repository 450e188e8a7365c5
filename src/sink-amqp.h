/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The AMQP sink as the daemon uses it: amqp.c's publisher set up from [AMQP], hung off the event
 * loop, and reporting on itself. It registers nothing by itself: the manager hands
 * amqp_link_emit() to announce_add_sink() and calls amqp_link_sample() on its sampling pass.
 *
 * The journal hears of the connection once per change, never per retry: "connected", then one
 * warning when the broker is lost or cannot be reached (with rabbitmq-c's reason, never the
 * password), one warning when the outbox first drops during that outage, and one line on the
 * reconnect that says how long it lasted and what it cost (events and samples dropped). */

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "amqp.h"
#include "config.h"

typedef struct AmqpLink AmqpLink;

/* Called on the loop when the connection went up or down (for D-Bus PropertiesChanged). */
typedef void (*AmqpLinkChangedFn)(void *userdata);

/* Starts the publisher for `c` (c->enabled) and watches its state on `event`. `dyno` is the
 * routing keys' dyno word. Returns 0 and *ret; or -EINVAL, -ENXIO, -ENOENT, -EACCES, -EBADMSG,
 * ... of amqp_sink_new() (logged here, with the key that caused them and never the password),
 * -ENOMEM. */
int amqp_link_new(sd_event *event, const AmqpConfig *c, const char *dyno, AmqpLinkChangedFn changed, void *userdata,
                  AmqpLink **ret);

/* Flushes (amqp_sink_free(): at most ~2 s while connected), logs the final counters once, frees.
 * Accepts NULL; returns NULL. */
AmqpLink *amqp_link_free(AmqpLink *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(AmqpLink *, amqp_link_free);

/* The event sink (announce.h's EventSinkFn); userdata is the AmqpLink. */
void amqp_link_emit(void *userdata, const Event *e);

/* Queues one memory sample. */
void amqp_link_sample(AmqpLink *l, const MemorySampleRecord *r);

/* The counters now. */
void amqp_link_stats(AmqpLink *l, AmqpStats *ret);

/* The dyno word of the routing keys for a config file: its file name without ".conf"
 * ("/etc/cgwatch/web.conf" -> "web", as cgwatch@web.service reads it), "default" for
 * cgwatch.conf (cgwatch.service's dyno). Returns a new string, or NULL on OOM. */
char *amqp_link_dyno_name(const char *config_path);
