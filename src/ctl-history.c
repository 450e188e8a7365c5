/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl history [WORKER...] [--since T] [--json|--csv], the fetch shared with plot, and the
 * entry of the memory commands (see ctl-history.h). */

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgwatch/cgwatch.h"
#include "ctl-history.h"
#include "parse-util.h"

#define DYNO_LABEL "@dyno" /* no worker name can start with '@' */

static void series_done(CtlHistorySeries *s) {
        for (size_t i = 0; i < s->n_strings; i++)
                free(s->strings[i]);
        free(s->strings);
        free(s->samples);
        free(s->events);
        free(s->name);
}

void ctl_history_done(CtlHistory *h) {
        for (size_t i = 0; i < h->n; i++)
                series_done(&h->series[i]);
        free(h->series);
        *h = (CtlHistory){};
}

const char *ctl_keep_string(char ***strings, size_t *n, const char *s) {
        char **l = realloc(*strings, (*n + 1) * sizeof *l);
        if (!l)
                return NULL;
        *strings = l;
        if (!(l[*n] = strdup(s)))
                return NULL;
        return l[(*n)++];
}

static int read_history(sd_bus_message *reply, CtlHistorySeries *s) {
        size_t cap = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', CGWATCH_HISTORY_SAMPLE_TYPE);
        if (r < 0)
                return r;
        for (;;) {
                HistorySample x;
                uint64_t t;
                r = sd_bus_message_read(reply, CGWATCH_HISTORY_SAMPLE_TYPE, &t, &x.memory_current_bytes, &x.anon_bytes,
                                        &x.file_bytes, &x.peak_bytes, &x.budget_bytes);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                x.realtime_usec = t;
                if (s->view.n_samples == cap) {
                        cap = cap ? cap * 2 : 64;
                        HistorySample *n = realloc(s->samples, cap * sizeof *n);
                        if (!n)
                                return -ENOMEM;
                        s->samples = n;
                }
                s->samples[s->view.n_samples++] = x;
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;

        cap = 0;
        r = sd_bus_message_enter_container(reply, 'a', CGWATCH_HISTORY_EVENT_TYPE);
        if (r < 0)
                return r;
        for (;;) {
                HistoryViewEvent x;
                const char *type, *reason;
                uint64_t t;
                r = sd_bus_message_read(reply, CGWATCH_HISTORY_EVENT_TYPE, &t, &type, &reason, &x.memory_bytes,
                                        &x.budget_bytes);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                x.realtime_usec = t;
                x.type = ctl_keep_string(&s->strings, &s->n_strings, type);
                x.reason = ctl_keep_string(&s->strings, &s->n_strings, reason);
                if (!x.type || !x.reason)
                        return -ENOMEM;
                if (s->view.n_events == cap) {
                        cap = cap ? cap * 2 : 16;
                        HistoryViewEvent *n = realloc(s->events, cap * sizeof *n);
                        if (!n)
                                return -ENOMEM;
                        s->events = n;
                }
                s->events[s->view.n_events++] = x;
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        s->view.samples = s->samples;
        s->view.events = s->events;
        s->view.name = s->name;
        return 0;
}

static int fetch_one(Ctl *ctl, const char *name, usec_t since, CtlHistory *h) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        CtlHistorySeries *n;
        int r;

        r = ctl_call(ctl, "GetHistory", &reply, "st", name, (uint64_t) since);
        if (r != 0)
                return r;
        n = realloc(h->series, (h->n + 1) * sizeof *n);
        if (!n)
                return ctl_fail(-ENOMEM, NULL, "get the history");
        h->series = n;
        h->series[h->n] = (CtlHistorySeries){.name = strdup(name)};
        h->n++;
        if (!h->series[h->n - 1].name)
                return ctl_fail(-ENOMEM, NULL, "get the history");
        r = read_history(reply, &h->series[h->n - 1]);
        if (r < 0) {
                (void) ctl_fail(r, NULL, "parse the history");
                return CTL_EXIT_PROTOCOL;
        }
        return 0;
}

int ctl_history_fetch(Ctl *ctl, char *const *names, size_t n_names, bool with_dyno, usec_t since_usec,
                      CtlHistory *ret) {
        CtlWorker *workers = NULL;
        size_t n_workers = 0;
        CtlHistory h = {};
        int r = 0;

        if (n_names == 0) {
                r = ctl_list_workers(ctl, &workers, &n_workers);
                if (r != 0)
                        return r;
        }
        for (size_t i = 0; r == 0 && i < (n_names ?: n_workers); i++)
                r = fetch_one(ctl,
                              !n_names                      ? workers[i].name
                              : streq(names[i], DYNO_LABEL) ? CGWATCH_HISTORY_DYNO /* "history @dyno" */
                                                            : names[i],
                              since_usec, &h);
        ctl_workers_free(workers, n_workers);
        if (r == 0 && with_dyno)
                r = fetch_one(ctl, CGWATCH_HISTORY_DYNO, since_usec, &h);
        if (r != 0) {
                ctl_history_done(&h);
                return r;
        }
        *ret = h;
        return 0;
}

static const char *label(const CtlHistorySeries *s) {
        return s->name[0] ? s->name : DYNO_LABEL;
}

static void format_time(usec_t t, char *buf, size_t size) {
        time_t sec = (time_t) (t / USEC_PER_SEC);
        struct tm tm;
        size_t l;

        if (!localtime_r(&sec, &tm) || (l = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm)) == 0) {
                snprintf(buf, size, "@%" PRIu64, t);
                return;
        }
        snprintf(buf + l, size - l, ".%03u", (unsigned) (t % USEC_PER_SEC / USEC_PER_MSEC));
}

static void print_mib(uint64_t v) {
        if (v == UINT64_MAX)
                printf(" %10s", "-");
        else
                printf(" %10.1f", (double) v / (1024.0 * 1024.0));
}

/* Text: per series, samples and events merged in time order. */
static void print_text(const CtlHistory *h) {
        printf("%-20s %-23s %10s %10s %10s %10s %10s  %s\n", "WORKER", "TIME", "MEM(MiB)", "ANON", "FILE", "PEAK",
               "BUDGET", "EVENT");
        for (size_t k = 0; k < h->n; k++) {
                const HistoryView *v = &h->series[k].view;
                size_t i = 0, j = 0;
                char t[64];

                while (i < v->n_samples || j < v->n_events) {
                        bool sample = j >= v->n_events ||
                                      (i < v->n_samples && v->samples[i].realtime_usec <= v->events[j].realtime_usec);
                        if (sample) {
                                const HistorySample *s = &v->samples[i++];
                                format_time(s->realtime_usec, t, sizeof t);
                                printf("%-20s %-23s", label(&h->series[k]), t);
                                print_mib(s->memory_current_bytes);
                                print_mib(s->anon_bytes);
                                print_mib(s->file_bytes);
                                print_mib(s->peak_bytes);
                                print_mib(s->budget_bytes);
                                printf("\n");
                        } else {
                                const HistoryViewEvent *e = &v->events[j++];
                                format_time(e->realtime_usec, t, sizeof t);
                                printf("%-20s %-23s", label(&h->series[k]), t);
                                print_mib(e->memory_bytes);
                                printf(" %10s %10s %10s", "", "", "");
                                print_mib(e->budget_bytes);
                                printf("  %s%s%s%s\n", e->type, e->reason[0] ? " (" : "", e->reason,
                                       e->reason[0] ? ")" : "");
                        }
                }
        }
}

static void csv_u64(uint64_t v) {
        if (v == UINT64_MAX)
                fputs(",", stdout);
        else
                printf(",%" PRIu64, v);
}

/* CSV: one row per sample and per event; "none" (no budget) is an empty field. */
static void print_csv(const CtlHistory *h) {
        printf("worker,record,time_usec,memory_current_bytes,anon_bytes,file_bytes,peak_bytes,budget_bytes,event,"
               "reason\n");
        for (size_t k = 0; k < h->n; k++) {
                const HistoryView *v = &h->series[k].view;
                for (size_t i = 0; i < v->n_samples; i++) {
                        const HistorySample *s = &v->samples[i];
                        printf("%s,sample,%" PRIu64, label(&h->series[k]), (uint64_t) s->realtime_usec);
                        csv_u64(s->memory_current_bytes);
                        csv_u64(s->anon_bytes);
                        csv_u64(s->file_bytes);
                        csv_u64(s->peak_bytes);
                        csv_u64(s->budget_bytes);
                        printf(",,\n");
                }
                for (size_t i = 0; i < v->n_events; i++) {
                        const HistoryViewEvent *e = &v->events[i];
                        printf("%s,event,%" PRIu64, label(&h->series[k]), (uint64_t) e->realtime_usec);
                        csv_u64(e->memory_bytes);
                        printf(",,,");
                        csv_u64(e->budget_bytes);
                        printf(",%s,%s\n", e->type, e->reason);
                }
        }
}

static json_object *json_u64(uint64_t v) {
        return v == UINT64_MAX ? NULL : json_object_new_uint64(v);
}

static json_object *series_json(const HistoryView *v) {
        json_object *o = json_object_new_object(), *samples = json_object_new_array(),
                    *events = json_object_new_array();

        for (size_t i = 0; i < v->n_samples; i++) {
                const HistorySample *s = &v->samples[i];
                json_object *x = json_object_new_object();
                json_object_object_add(x, "time_usec", json_object_new_uint64(s->realtime_usec));
                json_object_object_add(x, "memory_current_bytes", json_u64(s->memory_current_bytes));
                json_object_object_add(x, "anon_bytes", json_u64(s->anon_bytes));
                json_object_object_add(x, "file_bytes", json_u64(s->file_bytes));
                json_object_object_add(x, "peak_bytes", json_u64(s->peak_bytes));
                json_object_object_add(x, "budget_bytes", json_u64(s->budget_bytes));
                json_object_array_add(samples, x);
        }
        for (size_t i = 0; i < v->n_events; i++) {
                const HistoryViewEvent *e = &v->events[i];
                json_object *x = json_object_new_object();
                json_object_object_add(x, "time_usec", json_object_new_uint64(e->realtime_usec));
                json_object_object_add(x, "event", json_object_new_string(e->type));
                json_object_object_add(x, "reason", e->reason[0] ? json_object_new_string(e->reason) : NULL);
                json_object_object_add(x, "memory_bytes", json_u64(e->memory_bytes));
                json_object_object_add(x, "budget_bytes", json_u64(e->budget_bytes));
                json_object_array_add(events, x);
        }
        if (v->name[0])
                json_object_object_add(o, "name", json_object_new_string(v->name));
        json_object_object_add(o, "samples", samples);
        json_object_object_add(o, "events", events);
        return o;
}

/* JSON: {"workers": [{"name", "samples", "events"}...], "dyno": {"samples", "events"}}. */
static void print_json(const CtlHistory *h) {
        json_object *root = json_object_new_object(), *workers = json_object_new_array();

        for (size_t k = 0; k < h->n; k++) {
                if (h->series[k].name[0])
                        json_object_array_add(workers, series_json(&h->series[k].view));
                else
                        json_object_object_add(root, "dyno", series_json(&h->series[k].view));
        }
        json_object_object_add(root, "workers", workers);
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
        json_object_put(root);
}

static bool arg_csv;
static usec_t arg_since;

static int run_history(Ctl *ctl, int argc, char *argv[]) {
        CtlHistory h = {};
        int r;

        if (arg_csv && ctl_arg.json) {
                fprintf(stderr, "--csv and --json exclude each other.\n");
                return CTL_EXIT_USAGE;
        }
        /* The dyno's own series when every worker is asked for. */
        r = ctl_history_fetch(ctl, argv, (size_t) argc, /* with_dyno= */ argc == 0, arg_since, &h);
        if (r != 0)
                return r;
        if (ctl_arg.json)
                print_json(&h);
        else if (arg_csv)
                print_csv(&h);
        else
                print_text(&h);
        ctl_history_done(&h);
        return fflush(stdout) == 0 ? 0 : CTL_EXIT_FAILURE;
}

int ctl_parse_since(const char *s, usec_t *ret) {
        struct timespec ts;
        usec_t d;

        if (s[0] == '@') {
                uint64_t sec;
                if (parse_uint64(s + 1, &sec) < 0 || sec > UINT64_MAX / USEC_PER_SEC)
                        goto bad;
                *ret = sec * USEC_PER_SEC;
                return 0;
        }
        if (parse_duration(s, &d) < 0)
                goto bad;
        clock_gettime(CLOCK_REALTIME, &ts);
        usec_t now = (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
        *ret = d >= now ? 0 : now - d;
        return 0;
bad:
        fprintf(stderr, "Invalid --since '%s' (expected e.g. 10min or @1700000000).\n", s);
        return CTL_EXIT_USAGE;
}

enum { ARG_SINCE = 0x200, ARG_CSV };
static const struct option history_options[] = {
        {"since", required_argument, NULL, ARG_SINCE},
        {"csv", no_argument, NULL, ARG_CSV},
        {},
};

static int parse_history_option(int c, const char *arg) {
        if (c == ARG_SINCE)
                return ctl_parse_since(arg, &arg_since);
        if (c == ARG_CSV) {
                arg_csv = true;
                return 0;
        }
        return CTL_EXIT_USAGE;
}

const CtlCommand ctl_command_history = {
        .name = "history",
        .args = "[WORKER...]",
        .help = "Memory samples and events (--since T, --csv)",
        .min_args = 0,
        .max_args = UINT_MAX,
        .flags = CTL_READ,
        .options = history_options,
        .parse_option = parse_history_option,
        .run = run_history,
};
