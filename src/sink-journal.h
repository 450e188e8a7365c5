/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The journal sink: one structured entry per event, with a MESSAGE_ID (documented in
 * units/cgwatch.catalog) and CGWATCH_* fields on every message about a worker. Without journald
 * (the foreground) the same text goes to stderr. */

#include <stddef.h>

#include "event.h"

#define JOURNAL_FIELDS_MAX 20

typedef struct JournalRecord {
        int priority;           /* LOG_* */
        const char *message_id; /* 32 hex digits */
        char message[640];
        char fields[JOURNAL_FIELDS_MAX][160]; /* "CGWATCH_WORKER=queuer", ... */
        size_t n_fields;
} JournalRecord;

/* Pure: the entry for `e`. Returns 0, or -EINVAL for an event of unknown type. */
int journal_record_format(const Event *e, JournalRecord *ret);

/* The event sink (announce.h's EventSinkFn); userdata is unused. Entries above the log level
 * (state changes and READY at debug) are skipped. */
void journal_sink_emit(void *userdata, const Event *e);
