/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The AMQP sink's daemon side (see sink-amqp.h). Everything here runs on the event loop. */

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>

#include "log.h"
#include "sink-amqp.h"

struct AmqpLink {
        sd_event *event;
        AmqpSink *sink;
        sd_event_source *state_source;
        AmqpLinkChangedFn changed;
        void *userdata;
        char *url; /* redacted */
        char *exchange;
        bool connected;        /* as last logged */
        bool outage;           /* a down state was logged and no connect since */
        bool drop_logged;      /* this outage's first drop was logged */
        usec_t outage_usec;    /* CLOCK_MONOTONIC when the outage was logged */
        AmqpStats outage_base; /* the counters then */
};

static usec_t link_now(AmqpLink *l) {
        uint64_t t = 0;

        (void) sd_event_now(l->event, CLOCK_MONOTONIC, &t);
        return t;
}

static void log_drops_once(AmqpLink *l) {
        AmqpStats st;

        if (l->drop_logged)
                return;
        amqp_sink_stats(l->sink, &st);
        if (st.dropped_events == l->outage_base.dropped_events && st.dropped_samples == l->outage_base.dropped_samples)
                return;
        l->drop_logged = true;
        log_warning("AMQP: the outbox is full (%" PRIu64 " queued): dropping the oldest samples first, then events; "
                    "counted in AmqpDroppedSamples/AmqpDroppedEvents.",
                    st.queued);
}

void amqp_link_emit(void *userdata, const Event *e) {
        AmqpLink *l = userdata;

        (void) amqp_sink_emit(l->sink, e);
        log_drops_once(l);
}

void amqp_link_sample(AmqpLink *l, const MemorySampleRecord *r) {
        (void) amqp_sink_sample(l->sink, r);
        log_drops_once(l);
}

void amqp_link_stats(AmqpLink *l, AmqpStats *ret) {
        amqp_sink_stats(l->sink, ret);
}

static int on_state(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        AmqpLink *l = userdata;
        eventfd_t v;
        AmqpStats st;

        (void) eventfd_read(fd, &v);
        amqp_sink_stats(l->sink, &st);
        if (st.connected == l->connected && (st.connected || l->outage))
                return 0;

        if (st.connected) {
                if (l->outage)
                        log_info("AMQP: reconnected to %s after %.1f s; %" PRIu64 " events and %" PRIu64
                                 " samples were dropped during the outage (%" PRIu64 " and %" PRIu64
                                 " in all), %" PRIu64 " queued messages are being published.",
                                 l->url, (double) (link_now(l) - l->outage_usec) / USEC_PER_SEC,
                                 st.dropped_events - l->outage_base.dropped_events,
                                 st.dropped_samples - l->outage_base.dropped_samples, st.dropped_events,
                                 st.dropped_samples, st.queued + st.in_flight);
                else
                        log_info("AMQP: connected to %s, publishing to exchange %s.", l->url, l->exchange);
                l->outage = false;
        } else {
                log_warning("AMQP: %s %s: %s. Events and samples wait in the outbox; retrying with backoff.", l->url,
                            l->connected ? "lost" : "unreachable", st.last_error[0] ? st.last_error : "unknown error");
                l->outage = true;
                l->drop_logged = false;
                l->outage_usec = link_now(l);
                l->outage_base = st;
        }
        l->connected = st.connected;
        if (l->changed)
                l->changed(l->userdata);
        return 0;
}

char *amqp_link_dyno_name(const char *config_path) {
        const char *b = strrchr(config_path, '/');
        size_t n;

        b = b ? b + 1 : config_path;
        n = strlen(b);
        if (n > 5 && streq(b + n - 5, ".conf"))
                n -= 5;
        if (n == 0 || (n == 7 && strncmp(b, "cgwatch", 7) == 0))
                return strdup("default");
        return strndup(b, n);
}

int amqp_link_new(sd_event *event, const AmqpConfig *c, const char *dyno, AmqpLinkChangedFn changed, void *userdata,
                  AmqpLink **ret) {
        _cleanup_(amqp_link_freep) AmqpLink *l = NULL;
        AmqpSinkOptions o = {
                .url = c->url,
                .exchange = c->exchange,
                .host = c->host,
                .dyno = dyno,
                .password_file = c->password_file,
                .credential = c->credential,
                .outbox_capacity = c->outbox_size,
        };
        int r;

        l = calloc(1, sizeof *l);
        if (!l)
                return log_oom();
        l->event = event;
        l->changed = changed;
        l->userdata = userdata;
        l->url = config_amqp_url_redact(c->url);
        l->exchange = strdup(c->exchange);
        if (!l->url || !l->exchange)
                return log_oom();

        r = amqp_sink_new(&o, &l->sink);
        if (r == -ENXIO)
                return log_error_errno(r,
                                       "[AMQP] Credential=%s: $CREDENTIALS_DIRECTORY is not set (use LoadCredential= "
                                       "in the unit, or PasswordFile=).",
                                       c->credential);
        if (r < 0 && c->credential)
                return log_error_errno(r, "[AMQP] Credential=%s: cannot read $CREDENTIALS_DIRECTORY/%s: %m",
                                       c->credential, c->credential);
        if (r < 0 && c->password_file)
                return log_error_errno(r, "[AMQP] PasswordFile=%s: cannot read the password: %m", c->password_file);
        if (r == -EINVAL)
                return log_error_errno(r, "[AMQP] URL=%s: rabbitmq-c cannot parse it.", l->url);
        if (r < 0)
                return log_error_errno(r, "Failed to start the AMQP publisher: %m");

        r = sd_event_add_io(event, &l->state_source, amqp_sink_state_fd(l->sink), EPOLLIN, on_state, l);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the AMQP publisher: %m");
        (void) sd_event_source_set_description(l->state_source, "amqp-state");
        *ret = TAKE_PTR(l);
        return 0;
}

AmqpLink *amqp_link_free(AmqpLink *l) {
        AmqpStats st;

        if (!l)
                return NULL;
        l->state_source = sd_event_source_disable_unref(l->state_source);
        if (l->sink) {
                /* The counters after the flush: it counts what it could not send. */
                amqp_sink_stop(l->sink);
                amqp_sink_stats(l->sink, &st);
                l->sink = amqp_sink_free(l->sink);
                log_info("AMQP: stopped; %" PRIu64 " messages confirmed, %" PRIu64 " returned unroutable, %" PRIu64
                         " nacked, %" PRIu64 " events and %" PRIu64 " samples dropped.",
                         st.confirmed, st.returned, st.nacked, st.dropped_events, st.dropped_samples);
        }
        free(l->url);
        free(l->exchange);
        free(l);
        return NULL;
}
