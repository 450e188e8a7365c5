/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Event / MemorySampleRecord -> CloudEvents 1.0 structured-mode JSON, and routing keys. Pure.
 *
 * Names reach here from the config (validated), from the hostname and from the kernel (cgroup
 * paths), but a body leaves the host, so nothing is trusted: every string is cut to
 * EVENT_JSON_STRING_MAX bytes on a character boundary and invalid UTF-8 becomes U+FFFD, so the
 * body is always valid JSON text (RFC 8259 requires UTF-8), whatever the bytes were. */

#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event-json.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if invalid (overlong forms,
 * surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_sequence_length(const unsigned char *s, size_t n) {
        size_t len;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* A copy of s in valid UTF-8, at most EVENT_JSON_STRING_MAX bytes. NULL on OOM. */
static char *utf8_sanitize(const char *s) {
        size_t n = strlen(s), o = 0;
        char *out = malloc(MIN(n * 3, (size_t) EVENT_JSON_STRING_MAX) + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_sequence_length((const unsigned char *) s + i, n - i);
                const char *piece = len > 0 ? s + i : "\xef\xbf\xbd"; /* U+FFFD */
                size_t piece_len = len > 0 ? len : 3;

                if (o + piece_len > EVENT_JSON_STRING_MAX)
                        break;
                memcpy(out + o, piece, piece_len);
                o += piece_len;
                i += len > 0 ? len : 1;
        }
        out[o] = 0;
        return out;
}

static int add_null(json_object *o, const char *key) {
        return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
}

/* Takes v (NULL: allocation failed). Returns 0 or -ENOMEM. */
static int add_value(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* Adds key: string (sanitized), or key: null for NULL. Returns 0 or -ENOMEM. */
static int add_string(json_object *o, const char *key, const char *value) {
        _cleanup_free_ char *clean = NULL;

        if (!value)
                return add_null(o, key);
        clean = utf8_sanitize(value);
        if (!clean)
                return -ENOMEM;
        return add_value(o, key, json_object_new_string(clean));
}

static int add_u64(json_object *o, const char *key, uint64_t value) {
        return add_value(o, key, json_object_new_uint64(value));
}

static int add_int(json_object *o, const char *key, int64_t value) {
        return add_value(o, key, json_object_new_int64(value));
}

static int add_bool(json_object *o, const char *key, bool value) {
        return add_value(o, key, json_object_new_boolean(value));
}

/* UINT64_MAX ("none", "unknown") -> null. */
static int add_bytes_or_null(json_object *o, const char *key, uint64_t value) {
        if (value == UINT64_MAX)
                return add_null(o, key);
        return add_u64(o, key, value);
}

/* 0 ("not applicable") -> null. */
static int add_u64_or_null(json_object *o, const char *key, uint64_t value) {
        if (value == 0)
                return add_null(o, key);
        return add_u64(o, key, value);
}

int event_json_format_time(usec_t realtime_usec, char *buf, size_t size) {
        time_t sec = (time_t) (realtime_usec / USEC_PER_SEC);
        struct tm tm;

        if (realtime_usec / USEC_PER_SEC > 253402300799ULL) /* 9999-12-31T23:59:59Z */
                return -ERANGE;
        if (!gmtime_r(&sec, &tm))
                return -ERANGE;
        if (snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRIu64 "Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, realtime_usec % USEC_PER_SEC) >= (int) size)
                return -ERANGE;
        return 0;
}

void event_json_escape_word(const char *s, char *buf) {
        size_t n = 0;

        for (; s && *s && n < EVENT_JSON_WORD_MAX; s++) {
                char c = *s;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          (c && strchr("_@:-", c));

                buf[n++] = ok ? c : '_';
        }
        if (n == 0)
                buf[n++] = '_';
        buf[n] = 0;
}

int event_json_routing_key(const char *host, const char *dyno, const char *subject, const char *event, char **ret) {
        char h[EVENT_JSON_WORD_MAX + 1], d[EVENT_JSON_WORD_MAX + 1], s[EVENT_JSON_WORD_MAX + 1],
                e[EVENT_JSON_WORD_MAX + 1];

        /* Four words of 63 bytes would make 264 and overflow a shortstr: the event word is one of
         * ours (at most 14 bytes) and cut to 20, so a key is at most 8 + 3 * 64 + 20 = 220. */
        event_json_escape_word(host, h);
        event_json_escape_word(dyno, d);
        event_json_escape_word(subject ?: "@dyno", s);
        event_json_escape_word(event, e);
        if (asprintf(ret, "cgwatch.%s.%s.%s.%.20s", h, d, s, e) < 0)
                return -ENOMEM;
        return 0;
}

int event_json_event_routing_key(const Event *e, const char *host, const char *dyno, char **ret) {
        const char *name = event_type_to_string(e->type);

        if (!name)
                return -EINVAL;
        return event_json_routing_key(host, dyno, e->worker ?: e->supervisor, name, ret);
}

int event_json_id(const EventJsonContext *ctx, char **ret) {
        if (asprintf(ret, "%s-%" PRIu64, ctx->instance, ctx->sequence) < 0)
                return -ENOMEM;
        return 0;
}

/* RFC 3986 unreserved characters stay, everything else is %XX. At most SOURCE_NAME_MAX bytes of
 * each name are encoded, so that a source always fits in EVENT_JSON_STRING_MAX. */
#define SOURCE_NAME_MAX 512
static int append_percent_encoded(char **p, size_t *left, const char *s) {
        for (size_t i = 0; i < SOURCE_NAME_MAX && s[i]; i++) {
                unsigned char c = (unsigned char) s[i];
                int n;

                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
                        n = snprintf(*p, *left, "%c", c);
                else
                        n = snprintf(*p, *left, "%%%02X", c);
                if (n < 0 || (size_t) n >= *left)
                        return -ENOBUFS;
                *p += n;
                *left -= (size_t) n;
        }
        return 0;
}

/* "cgwatch://<host>/<dyno>", both percent-encoded. */
static int format_source(const char *host, const char *dyno, char **ret) {
        size_t size = strlen("cgwatch:///") + 3 * 2 * SOURCE_NAME_MAX + 1;
        _cleanup_free_ char *buf = malloc(size);
        char *p = buf;
        size_t left = size;
        int r;

        if (!buf)
                return -ENOMEM;
        p = stpcpy(p, "cgwatch://");
        left -= strlen("cgwatch://");
        r = append_percent_encoded(&p, &left, host);
        if (r < 0)
                return r;
        *p++ = '/';
        left--;
        r = append_percent_encoded(&p, &left, dyno);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The CloudEvents envelope without data. */
static int envelope_new(const EventJsonContext *ctx, const char *kind, const char *event, const char *subject,
                        usec_t realtime_usec, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_free_ char *id = NULL, *source = NULL, *type = NULL;
        char when[EVENT_JSON_RFC3339_MAX];
        int r;

        if (!o)
                return -ENOMEM;
        r = event_json_id(ctx, &id);
        if (r < 0)
                return r;
        r = format_source(ctx->host, ctx->dyno, &source);
        if (r < 0)
                return r;
        if (asprintf(&type, "org.cgwatch.%s.%s", kind, event) < 0)
                return -ENOMEM;

        if ((r = add_string(o, "specversion", "1.0")) < 0 || (r = add_string(o, "id", id)) < 0 ||
            (r = add_string(o, "source", source)) < 0 || (r = add_string(o, "type", type)) < 0)
                return r;
        if (subject && (r = add_string(o, "subject", subject)) < 0)
                return r;
        /* time is optional in CloudEvents: left out rather than invented when the producer gave
         * none (or one past year 9999). */
        if (realtime_usec > 0 && event_json_format_time(realtime_usec, when, sizeof(when)) >= 0 &&
            (r = add_string(o, "time", when)) < 0)
                return r;
        if ((r = add_string(o, "datacontenttype", "application/json")) < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

/* Data fields every body carries. */
static int data_new(const EventJsonContext *ctx, const char *event, const char *worker, const char *supervisor,
                    json_object **ret) {
        _cleanup_(json_object_putp) json_object *d = json_object_new_object();
        int r;

        if (!d)
                return -ENOMEM;
        if ((r = add_int(d, "schema", EVENT_JSON_SCHEMA)) < 0 || (r = add_string(d, "event", event)) < 0 ||
            (r = add_string(d, "host", ctx->host)) < 0 || (r = add_string(d, "dyno", ctx->dyno)) < 0 ||
            (r = add_string(d, "worker", worker)) < 0 || (r = add_string(d, "supervisor", supervisor)) < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

static int to_string(json_object *o, char **ret) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *copy;

        if (!s)
                return -ENOMEM;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static bool context_is_valid(const EventJsonContext *ctx) {
        return ctx && ctx->host && ctx->dyno && ctx->instance;
}

static const char *exit_code_to_string(int code) {
        switch (code) {
        case CLD_EXITED:
                return "exited";
        case CLD_KILLED:
                return "killed";
        case CLD_DUMPED:
                return "dumped";
        default:
                return NULL;
        }
}

static int add_type_fields(json_object *d, const Event *e) {
        const char *s;
        int r = 0;

        switch (e->type) {
        case EVENT_RECYCLED:
                if ((r = add_u64(d, "memory_bytes", e->memory_bytes)) < 0 ||
                    (r = add_u64_or_null(d, "detect_usec", e->detect_usec)) < 0 ||
                    (r = add_bool(d, "replacement", e->replacement)) < 0 ||
                    (r = add_u64_or_null(d, "drain_high_bytes", e->drain_high)) < 0)
                        return r;
                break;
        case EVENT_EXITED:
                s = exit_code_to_string(e->exit_code);
                r = s ? add_string(d, "exit_code", s) : add_int(d, "exit_code", e->exit_code);
                if (r < 0 || (r = add_int(d, "exit_status", e->exit_status)) < 0)
                        return r;
                s = e->exit_code == CLD_KILLED || e->exit_code == CLD_DUMPED ? sigabbrev_np(e->exit_status) : NULL;
                if ((r = add_string(d, "signal", s)) < 0 || (r = add_bool(d, "planned", e->planned)) < 0 ||
                    (r = add_bool(d, "replaced", e->replaced)) < 0)
                        return r;
                break;
        case EVENT_STARTED:
                if ((r = add_bytes_or_null(d, "memory_high_bytes", e->memory_high)) < 0)
                        return r;
                break;
        case EVENT_LEAK_VERDICT:
                if ((r = add_int(d, "growth_bytes_per_sec", e->growth_bytes_per_sec)) < 0 ||
                    (r = add_int(d, "lifetimes", e->lifetimes)) < 0)
                        return r;
                break;
        case EVENT_OOM_KILL:
                if ((r = add_int(d, "oom_kills", e->oom_kills)) < 0)
                        return r;
                break;
        case EVENT_STOP_TIMEOUT:
                if ((r = add_u64(d, "timeout_usec", e->timeout_usec)) < 0)
                        return r;
                break;
        case EVENT_STATE_CHANGED:
                if ((r = add_string(d, "old_state", worker_state_to_string(e->old_state))) < 0 ||
                    (r = add_string(d, "new_state", worker_state_to_string(e->new_state))) < 0)
                        return r;
                break;
        case EVENT_GAVE_UP:
                if ((r = add_int(d, "max_restarts", e->max_restarts)) < 0 ||
                    (r = add_u64(d, "restart_window_usec", e->restart_window_usec)) < 0 ||
                    (e->supervisor && (r = add_string(d, "escalated_to", e->escalated_to ?: "dyno")) < 0))
                        return r;
                break;
        case EVENT_BUDGET_CHANGED:
                if ((r = add_bytes_or_null(d, "old_budget_bytes", e->old_budget_bytes)) < 0)
                        return r;
                break;
        case EVENT_START_FAILED:
                if ((r = add_string(d, "error", strerrorname_np(e->error < 0 ? -e->error : e->error))) < 0 ||
                    (r = add_int(d, "errno", e->error < 0 ? -e->error : e->error)) < 0 ||
                    (r = add_bool(d, "daemon_fault", e->daemon_fault)) < 0)
                        return r;
                break;
        default:
                break;
        }
        return 0;
}

int event_json_format_event(const Event *e, const EventJsonContext *ctx, char **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL, *d = NULL;
        const char *name = e ? event_type_to_string(e->type) : NULL;
        int r;

        if (!name || !context_is_valid(ctx))
                return -EINVAL;

        /* A worker's event, a supervisor's (worker NULL), or the dyno's (both NULL). */
        r = envelope_new(ctx,
                         e->worker       ? "worker"
                         : e->supervisor ? "supervisor"
                                         : "dyno",
                         name, e->worker ?: e->supervisor, e->realtime_usec, &o);
        if (r < 0)
                return r;
        r = data_new(ctx, name, e->worker, e->supervisor, &d);
        if (r < 0)
                return r;

        if ((r = add_string(d, "cgroup", e->cgroup)) < 0 || (r = add_int(d, "incarnation", e->incarnation)) < 0 ||
            (r = add_int(d, "pid", e->pid)) < 0 || (r = add_u64(d, "monotonic_usec", e->monotonic_usec)) < 0 ||
            (r = add_int(d, "restarts", e->restarts)) < 0 || (r = add_int(d, "recycles", e->recycles)) < 0 ||
            (r = add_string(d, "reason", e->reason == RECYCLE_NONE ? NULL : recycle_reason_to_string(e->reason))) < 0 ||
            (r = add_u64(d, "memory_current_bytes", e->memory_current_bytes)) < 0 ||
            (r = add_bytes_or_null(d, "budget_bytes", e->budget_bytes)) < 0 ||
            (r = add_u64(d, "dyno_current_bytes", e->dyno_current_bytes)) < 0 ||
            (r = add_bytes_or_null(d, "dyno_limit_bytes", e->dyno_limit_bytes)) < 0)
                return r;
        r = add_type_fields(d, e);
        if (r < 0)
                return r;

        r = add_value(o, "data", TAKE_PTR(d));
        if (r < 0)
                return r;
        return to_string(o, ret);
}

int event_json_format_sample(const MemorySampleRecord *rec, const EventJsonContext *ctx, char **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL, *d = NULL;
        int r;

        if (!rec || !rec->worker || !context_is_valid(ctx))
                return -EINVAL;

        r = envelope_new(ctx, "worker", "sample", rec->worker, rec->realtime_usec, &o);
        if (r < 0)
                return r;
        r = data_new(ctx, "sample", rec->worker, rec->supervisor, &d);
        if (r < 0)
                return r;
        if ((r = add_int(d, "incarnation", rec->incarnation)) < 0 || (r = add_int(d, "pid", rec->pid)) < 0 ||
            (r = add_u64(d, "memory_current_bytes", rec->memory_current_bytes)) < 0 ||
            (r = add_u64(d, "anon_bytes", rec->anon_bytes)) < 0 ||
            (r = add_u64(d, "file_bytes", rec->file_bytes)) < 0 ||
            (r = add_bytes_or_null(d, "budget_bytes", rec->budget_bytes)) < 0 ||
            (r = add_bytes_or_null(d, "peak_bytes", rec->peak_bytes)) < 0 ||
            (r = add_string(d, "state", rec->state)) < 0 || (r = add_int(d, "restarts", rec->restarts)) < 0 ||
            (r = add_int(d, "recycles", rec->recycles)) < 0 || (r = add_int(d, "lifetimes", rec->lifetimes)) < 0 ||
            (r = add_bool(d, "leaking", rec->leaking)) < 0 ||
            (r = add_int(d, "leak_rate_bytes_per_sec", rec->leak_rate_bytes_per_sec)) < 0)
                return r;

        r = add_value(o, "data", TAKE_PTR(d));
        if (r < 0)
                return r;
        return to_string(o, ret);
}
