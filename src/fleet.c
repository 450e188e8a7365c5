/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The fleet view's table (see fleet.h). */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static json_object *field(json_object *o, const char *key) {
        json_object *v = NULL;

        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *field_string(json_object *o, const char *key) {
        json_object *v = field(o, key);

        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Whether o has the number `key`; *ret is set only then. */
static bool field_u64(json_object *o, const char *key, uint64_t *ret) {
        json_object *v = field(o, key);

        if (!v || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_uint64(v);
        return true;
}

static void copy(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ?: "");
}

static FleetWorker *fleet_find(Fleet *f, const char *host, const char *dyno, const char *worker) {
        FleetWorker **na, *w;

        for (size_t i = 0; i < f->n_workers; i++) {
                w = f->workers[i];
                if (streq(w->host, host) && streq(w->dyno, dyno) && streq(w->worker, worker))
                        return w;
        }
        w = calloc(1, sizeof *w);
        if (!w)
                return NULL;
        w->host = strdup(host);
        w->dyno = strdup(dyno);
        w->worker = strdup(worker);
        w->budget_bytes = UINT64_MAX;
        na = realloc(f->workers, sizeof(FleetWorker *) * (f->n_workers + 1));
        if (!w->host || !w->dyno || !w->worker || !na) {
                free(w->host);
                free(w->dyno);
                free(w->worker);
                free(w);
                if (na)
                        f->workers = na;
                return NULL;
        }
        f->workers = na;
        f->workers[f->n_workers++] = w;
        return w;
}

static void count_reason(FleetWorker *w, const char *reason) {
        size_t i;

        for (i = 0; i < w->n_reasons; i++)
                if (streq(w->reasons[i].name, reason))
                        break;
        if (i == w->n_reasons) {
                if (w->n_reasons == FLEET_REASONS_MAX)
                        return;
                copy(w->reasons[i].name, sizeof w->reasons[i].name, reason);
                w->n_reasons++;
        }
        w->reasons[i].count++;
}

int fleet_add(Fleet *f, const char *body, size_t len) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_tokener *tok = json_tokener_new();
        const char *host, *dyno, *worker, *event, *s;
        json_object *d, *v;
        FleetWorker *w;
        uint64_t u;

        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, body, (int) MIN(len, (size_t) INT32_MAX));
        json_tokener_free(tok);
        d = field(o, "data");
        host = field_string(d, "host");
        dyno = field_string(d, "dyno");
        worker = field_string(d, "worker");
        event = field_string(d, "event");
        if (!host || !dyno || !event || !field_string(o, "specversion")) {
                f->ignored++;
                return 0;
        }
        f->messages++;
        if (!worker)
                return 0; /* an event of a supervisor or of the dyno */

        w = fleet_find(f, host, dyno, worker);
        if (!w)
                return -ENOMEM;
        w->messages++;
        copy(w->last_event, sizeof w->last_event, event);
        copy(w->last_time, sizeof w->last_time, field_string(o, "time"));

        if (field_u64(d, "memory_current_bytes", &u)) {
                w->memory_current_bytes = u;
                w->have_memory = true;
        }
        v = field(d, "budget_bytes");
        if (v)
                w->budget_bytes = json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : UINT64_MAX;
        if (field_u64(d, "incarnation", &u))
                w->incarnation = (unsigned) u;
        if (field_u64(d, "restarts", &u))
                w->restarts = (unsigned) u;
        if (field_u64(d, "recycles", &u))
                w->recycles = (unsigned) u;
        if ((s = field_string(d, "state")))
                copy(w->state, sizeof w->state, s);
        if ((s = field_string(d, "new_state")))
                copy(w->state, sizeof w->state, s);
        if ((v = field(d, "leaking")))
                w->leaking = json_object_get_boolean(v);

        if (streq(event, "recycled")) {
                s = field_string(d, "reason");
                count_reason(w, s ?: "unknown");
                copy(w->last_reason, sizeof w->last_reason, s);
        } else if (streq(event, "leak-verdict"))
                w->leaking = true;
        if ((v = field(d, "leak_rate_bytes_per_sec")) && json_object_get_int64(v) != 0)
                w->leak_rate_bytes_per_sec = json_object_get_int64(v);
        if (streq(event, "leak-verdict") && (v = field(d, "growth_bytes_per_sec")))
                w->leak_rate_bytes_per_sec = json_object_get_int64(v);
        return 1;
}

static int compare(const void *a, const void *b) {
        const FleetWorker *x = *(FleetWorker *const *) a, *y = *(FleetWorker *const *) b;
        int r = strcmp(x->host, y->host);

        if (r == 0)
                r = strcmp(x->dyno, y->dyno);
        return r != 0 ? r : strcmp(x->worker, y->worker);
}

void fleet_sort(Fleet *f) {
        if (f->n_workers > 1)
                qsort(f->workers, f->n_workers, sizeof(FleetWorker *), compare);
}

static double per_hour(unsigned count, double sec) {
        return sec > 0 ? count * 3600.0 / sec : 0;
}

/* "30.1M"; "-" for none. */
static const char *fmt_size(char buf[static 16], uint64_t v) {
        static const char units[] = "BKMGT";
        double d = (double) v;
        size_t i = 0;

        if (v == UINT64_MAX)
                return "-";
        while (d >= 1024 && i < sizeof units - 2) {
                d /= 1024;
                i++;
        }
        snprintf(buf, 16, i == 0 ? "%.0f%c" : "%.1f%c", d, units[i]);
        return buf;
}

void fleet_print(const Fleet *f, double listened_sec, FILE *out) {
        fprintf(out, "%-14s %-10s %-12s %-8s %-13s %-24s %-16s %s\n", "HOST", "DYNO", "WORKER", "STATE",
                "MEMORY/BUDGET", "RECYCLES/H BY REASON", "LEAK", "LAST EVENT");
        for (size_t i = 0; i < f->n_workers; i++) {
                const FleetWorker *w = f->workers[i];
                char mem[40], a[16], b[16], rec[64] = "-", leak[32] = "no", last[96];
                size_t n = 0;

                if (w->have_memory)
                        snprintf(mem, sizeof mem, "%s/%s", fmt_size(a, w->memory_current_bytes),
                                 fmt_size(b, w->budget_bytes));
                else
                        copy(mem, sizeof mem, "-");
                for (size_t k = 0; k < w->n_reasons && n < sizeof rec; k++)
                        n += (size_t) snprintf(rec + n, sizeof rec - n, "%s%s %.0f", k ? ", " : "", w->reasons[k].name,
                                               per_hour(w->reasons[k].count, listened_sec));
                if (w->leaking)
                        snprintf(leak, sizeof leak, "yes, %s/s",
                                 fmt_size(a, (uint64_t) MAX(w->leak_rate_bytes_per_sec, (int64_t) 0)));
                bool why = streq(w->last_event, "recycled") && *w->last_reason;
                snprintf(last, sizeof last, "%s%s%s%s %s", w->last_event, why ? " (" : "", why ? w->last_reason : "",
                         why ? ")" : "", w->last_time);
                fprintf(out, "%-14s %-10s %-12s %-8s %-13s %-24s %-16s %s\n", w->host, w->dyno, w->worker,
                        *w->state ? w->state : "-", mem, rec, leak, last);
        }
        fprintf(out, "\n%zu workers, %" PRIu64 " messages in %.0f s.\n", f->n_workers, f->messages, listened_sec);
}

/* o[key], created as an object when missing. */
static json_object *child(json_object *o, const char *key) {
        json_object *c = field(o, key);

        if (c)
                return c;
        c = json_object_new_object();
        if (c && json_object_object_add(o, key, c) < 0) {
                json_object_put(c);
                return NULL;
        }
        return c;
}

static json_object *worker_to_json(const FleetWorker *w, double sec) {
        json_object *o = json_object_new_object(), *r = json_object_new_object(), *t = json_object_new_object();

        if (!o || !r || !t) {
                json_object_put(o);
                json_object_put(r);
                json_object_put(t);
                return NULL;
        }
        for (size_t k = 0; k < w->n_reasons; k++) {
                json_object_object_add(r, w->reasons[k].name,
                                       json_object_new_double(per_hour(w->reasons[k].count, sec)));
                json_object_object_add(t, w->reasons[k].name, json_object_new_int(w->reasons[k].count));
        }
        json_object_object_add(o, "state", *w->state ? json_object_new_string(w->state) : NULL);
        json_object_object_add(o, "memory_current_bytes",
                               w->have_memory ? json_object_new_uint64(w->memory_current_bytes) : NULL);
        json_object_object_add(o, "budget_bytes",
                               w->budget_bytes == UINT64_MAX ? NULL : json_object_new_uint64(w->budget_bytes));
        json_object_object_add(o, "incarnation", json_object_new_int(w->incarnation));
        json_object_object_add(o, "restarts", json_object_new_int(w->restarts));
        json_object_object_add(o, "recycles", json_object_new_int(w->recycles));
        json_object_object_add(o, "recycles_seen", t);
        json_object_object_add(o, "recycles_per_hour", r);
        json_object_object_add(o, "leaking", json_object_new_boolean(w->leaking));
        json_object_object_add(o, "leak_rate_bytes_per_sec", json_object_new_int64(w->leak_rate_bytes_per_sec));
        json_object_object_add(o, "last_event", json_object_new_string(w->last_event));
        json_object_object_add(o, "last_reason", *w->last_reason ? json_object_new_string(w->last_reason) : NULL);
        json_object_object_add(o, "last_time", *w->last_time ? json_object_new_string(w->last_time) : NULL);
        json_object_object_add(o, "messages", json_object_new_int(w->messages));
        return o;
}

json_object *fleet_to_json(const Fleet *f, double listened_sec) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *hosts;

        if (!root)
                return NULL;
        json_object_object_add(root, "listened_sec", json_object_new_double(listened_sec));
        json_object_object_add(root, "messages", json_object_new_uint64(f->messages));
        hosts = child(root, "hosts");
        if (!hosts)
                return NULL;
        for (size_t i = 0; i < f->n_workers; i++) {
                const FleetWorker *w = f->workers[i];
                json_object *h = child(hosts, w->host), *ds = h ? child(h, "dynos") : NULL,
                            *d = ds ? child(ds, w->dyno) : NULL, *ws = d ? child(d, "workers") : NULL,
                            *o = ws ? worker_to_json(w, listened_sec) : NULL;

                if (!o || json_object_object_add(ws, w->worker, o) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        }
        return TAKE_PTR(root);
}

void fleet_done(Fleet *f) {
        for (size_t i = 0; i < f->n_workers; i++) {
                free(f->workers[i]->host);
                free(f->workers[i]->dyno);
                free(f->workers[i]->worker);
                free(f->workers[i]);
        }
        free(f->workers);
        *f = (Fleet){};
}
