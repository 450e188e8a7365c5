/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between config.c (lifecycle, validation, loading, dump) and config-parse.c (keys and
 * sections). Not for other modules. */

#include "config.h"

#define CONFIG_AMQP_DEFAULT_URL      "amqp://guest:guest@127.0.0.1:5672/"
#define CONFIG_AMQP_DEFAULT_EXCHANGE "cgwatch"
#define CONFIG_AMQP_DEFAULT_OUTBOX   4096    /* messages; amqp.h's AMQP_SINK_DEFAULT_OUTBOX */
#define CONFIG_AMQP_OUTBOX_MAX       1048576 /* messages */
#define CONFIG_INSTANCES_MAX         1000

/* Every default in one place: config_new() starts from these, and an empty assignment ("Key=")
 * resets a field to its value here. String defaults point to literals: strdup() them. */
extern const DynoConfig config_dyno_defaults;
extern const SupervisorConfig config_supervisor_defaults;
extern const WorkerConfig config_worker_defaults;
extern const AmqpConfig config_amqp_defaults;

/* Sets *l to a copy of file and line. Returns 0 or -ENOMEM (*l unchanged). */
int config_location_set(ConfigLocation *l, const char *file, unsigned line);
void config_location_done(ConfigLocation *l);
