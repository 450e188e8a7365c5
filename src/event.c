/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Names of event types. Pure. */

#include "event.h"

static const char *const event_type_table[_EVENT_TYPE_MAX] = {
        [EVENT_STARTED] = "started",
        [EVENT_READY] = "ready",
        [EVENT_RECYCLED] = "recycled",
        [EVENT_EXITED] = "exited",
        [EVENT_STOP_TIMEOUT] = "stop-timeout",
        [EVENT_OOM_KILL] = "oom-kill",
        [EVENT_STATE_CHANGED] = "state-changed",
        [EVENT_FAILED] = "failed",
        [EVENT_GAVE_UP] = "gave-up",
        [EVENT_BUDGET_CHANGED] = "budget-changed",
        [EVENT_START_FAILED] = "start-failed",
};

const char *event_type_to_string(EventType t) {
        return (int) t >= 0 && t < _EVENT_TYPE_MAX ? event_type_table[t] : NULL;
}
