/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "announce.h"

int announce_add_sink(Announcer *a, const char *name, EventSinkFn emit, void *userdata) {
        if (!emit)
                return -EINVAL;
        if (a->n_sinks >= ANNOUNCE_SINKS_MAX)
                return -ENOSPC;
        a->sinks[a->n_sinks++] = (EventSink){.name = name, .emit = emit, .userdata = userdata};
        return 0;
}

void announce_event(Announcer *a, const Event *e) {
        if (!e || (int) e->type < 0 || e->type >= _EVENT_TYPE_MAX)
                return;
        a->n_events[e->type]++;
        for (size_t i = 0; i < a->n_sinks; i++)
                a->sinks[i].emit(a->sinks[i].userdata, e);
}
