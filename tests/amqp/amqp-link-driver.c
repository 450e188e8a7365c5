/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The daemon's side of the AMQP sink (src/sink-amqp.c) on a real sd_event loop, without cgroups,
 * for tests/amqp/link-test: every 250 ms one sample of worker "pusher", every fourth time also
 * one RECYCLED event of worker "queuer", printing "tick N" on stdout after each, until SIGTERM; then the counters (see
 * below) and the link is freed (flush, final journal line). Its journal lines go to stderr as the
 * daemon's do.
 *
 *   amqp-link-driver URL HOST PASSWORD_FILE OUTBOX
 *
 * On SIGUSR1, and at the end, it prints the counters on stdout: "stats published P confirmed C
 * dropped_events E dropped_samples S connected 0|1 events N samples M". */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "log.h"
#include "sink-amqp.h"

typedef struct Driver {
        AmqpLink *link;
        unsigned ticks, events, samples;
} Driver;

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Driver *d = userdata;
        MemorySampleRecord rec = {
                .worker = "pusher",
                .realtime_usec = realtime_usec(),
                .incarnation = ++d->samples,
                .memory_current_bytes = 50 << 20,
                .budget_bytes = 64 << 20,
                .peak_bytes = UINT64_MAX,
                .state = "running",
        };

        amqp_link_sample(d->link, &rec);
        if (d->ticks % 4 == 0) {
                Event e = EVENT_INIT(EVENT_RECYCLED);

                e.worker = "queuer";
                e.reason = RECYCLE_BUDGET;
                e.incarnation = ++d->events;
                e.realtime_usec = realtime_usec();
                amqp_link_emit(d->link, &e);
        }
        printf("tick %u\n", ++d->ticks);
        fflush(stdout);
        (void) sd_event_source_set_time(s, usec + USEC_PER_SEC / 4);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_usr1(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Driver *d = userdata;
        AmqpStats st;

        amqp_link_stats(d->link, &st);
        printf("stats published %" PRIu64 " confirmed %" PRIu64 " dropped_events %" PRIu64 " dropped_samples %" PRIu64
               " connected %d events %u samples %u\n",
               st.published, st.confirmed, st.dropped_events, st.dropped_samples, st.connected, d->events, d->samples);
        fflush(stdout);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        AmqpConfig c = {
                .enabled = true,
                .exchange = (char *) "cgwatch",
                .sample_interval_usec = USEC_PER_SEC / 4,
        };
        Driver d = {};
        sigset_t ss;
        uint64_t now;

        if (argc != 5) {
                fprintf(stderr, "usage: %s URL HOST PASSWORD_FILE OUTBOX\n", argv[0]);
                return 2;
        }
        c.url = argv[1];
        c.host = argv[2];
        c.password_file = *argv[3] ? argv[3] : NULL;
        c.outbox_size = (unsigned) strtoul(argv[4], NULL, 10);
        log_open();
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGUSR1);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        if (sd_event_default(&e) < 0 || amqp_link_new(e, &c, "seed", NULL, NULL, &d.link) < 0)
                return 1;
        (void) sd_event_now(e, CLOCK_MONOTONIC, &now);
        if (sd_event_add_time(e, NULL, CLOCK_MONOTONIC, now, 0, on_tick, &d) < 0 ||
            sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL) < 0 ||
            sd_event_add_signal(e, NULL, SIGUSR1, on_usr1, &d) < 0)
                return 1;
        (void) sd_event_loop(e);
        on_usr1(NULL, NULL, &d);
        d.link = amqp_link_free(d.link);
        return 0;
}
