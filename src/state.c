/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The daemon's state file (see state.h), with json-c. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "state.h"

static void worker_record_done(WorkerRecord *w) {
        free(w->name);
        free(w->cgroup_path);
}

void dyno_state_done(DynoState *s) {
        for (size_t i = 0; i < s->n_workers; i++)
                worker_record_done(&s->workers[i]);
        free(s->workers);
        for (size_t i = 0; i < s->n_groups; i++) {
                free(s->groups[i].name);
                free(s->groups[i].tally);
        }
        free(s->groups);
        free(s->boot_id);
        *s = (DynoState){};
}

static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

/* json-c returns 0 or -1 (only on OOM) from json_object_object_add(). */
static int add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* A string, or JSON null (which json-c spells NULL) for NULL. */
static int add_str(json_object *o, const char *key, const char *v) {
        json_object *s = NULL;
        if (v && !(s = json_object_new_string(v)))
                return -ENOMEM;
        if (json_object_object_add(o, key, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

static int add_u64(json_object *o, const char *key, uint64_t v) {
        return add(o, key, json_object_new_uint64(v));
}

static int format_lives(json_object *o, const WorkerRecord *w) {
        json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < w->lives.n && i < GROWTH_LIVES_MAX; i++) {
                json_object *v = json_object_new_int64(w->lives.rate[i]);
                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        json_object_put(a);
                        return -ENOMEM;
                }
        }
        if (add(o, "lives", a) < 0 || add(o, "leaking", json_object_new_boolean(w->leaking)) < 0 ||
            add(o, "leak_rate", json_object_new_int64(w->leak_rate)) < 0)
                return -ENOMEM;
        return 0;
}

static int format_worker(const WorkerRecord *w, json_object **ret) {
        json_object *o = json_object_new_object();
        const struct {
                const char *key;
                uint64_t v;
        } nums[] = {
                {"state", (uint64_t) w->state},
                {"intent", (uint64_t) w->intent},
                {"pid", (uint64_t) w->pid},
                {"incarnation", w->incarnation},
                {"restarts", w->restarts},
                {"recycles", w->recycles},
                {"consecutive_failures", w->consecutive_failures},
                {"generation", w->generation},
                {"lifetimes", w->lifetimes},
                {"recycle_reason", (uint64_t) w->recycle_reason},
                {"last_recycle_reason", (uint64_t) w->last_recycle_reason},
                {"budget_bytes", w->budget_bytes},
                {"growth_bytes_per_sec", w->growth_bytes_per_sec},
                {"drain_usec", w->drain_usec},
                {"stop_usec", w->stop_usec},
                {"started_usec", w->started_usec},
                {"started_realtime_usec", w->started_realtime_usec},
                {"timer_usec", w->timer_usec},
                {"drain_lifted", w->drain_lifted},
        };

        if (!o || add_str(o, "name", w->name) < 0 || add_str(o, "cgroup", w->cgroup_path) < 0 ||
            format_lives(o, w) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        for (size_t i = 0; i < ELEMENTSOF(nums); i++)
                if (add_u64(o, nums[i].key, nums[i].v) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
        *ret = o;
        return 0;
}

static int format_group(const GroupRecord *g, json_object **ret) {
        json_object *o = json_object_new_object(), *t = json_object_new_array();

        if (!o || !t || add_str(o, "name", g->name) < 0 || add(o, "failed", json_object_new_boolean(g->failed)) < 0) {
                json_object_put(o);
                json_object_put(t);
                return -ENOMEM;
        }
        for (size_t i = 0; i < g->n_tally; i++) {
                json_object *v = json_object_new_uint64(g->tally[i]);
                if (!v || json_object_array_add(t, v) < 0) {
                        json_object_put(v);
                        json_object_put(t);
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        if (add(o, "tally", t) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

int dyno_state_format(const DynoState *s, char **ret) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *ws = json_object_new_array(), *gs = json_object_new_array(), *o;

        if (!root || add(root, "workers", ws) < 0 || add(root, "groups", gs) < 0 ||
            add_u64(root, "version", s->version) < 0 || add_str(root, "boot_id", s->boot_id) < 0 ||
            add(root, "brake_released", json_object_new_boolean(s->brake_released)) < 0 ||
            add(root, "shutting_down", json_object_new_boolean(s->shutting_down)) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_workers; i++) {
                if (format_worker(&s->workers[i], &o) < 0 || json_object_array_add(ws, o) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < s->n_groups; i++) {
                if (format_group(&s->groups[i], &o) < 0 || json_object_array_add(gs, o) < 0)
                        return -ENOMEM;
        }
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;
        char *t = strdup(text);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

static int get_u64(json_object *o, const char *key, uint64_t max, uint64_t *ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) ||
            (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_boolean)))
                return -EBADMSG;
        if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) < 0)
                return -EBADMSG; /* json-c would clamp it to 0 */
        errno = 0;
        uint64_t x = json_object_is_type(v, json_type_boolean) ? (uint64_t) json_object_get_boolean(v)
                                                               : json_object_get_uint64(v);
        if (errno != 0 || x > max)
                return -EBADMSG;
        *ret = x;
        return 0;
}

/* A string or null; NULL for null. */
static int get_str(json_object *o, const char *key, bool nullable, char **ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return -EBADMSG;
        if (!v) { /* json null */
                if (!nullable)
                        return -EBADMSG;
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

/* "lives", "leaking", "leak_rate": absent in a file from before they were written (no lives
 * yet); present, of the right types, and at most GROWTH_LIVES_MAX lives. */
static int parse_lives(json_object *o, WorkerRecord *w) {
        json_object *a, *v;

        if (json_object_object_get_ex(o, "lives", &a)) {
                if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) > GROWTH_LIVES_MAX)
                        return -EBADMSG;
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        v = json_object_array_get_idx(a, i);
                        if (!json_object_is_type(v, json_type_int))
                                return -EBADMSG;
                        w->lives.rate[w->lives.n++] = json_object_get_int64(v);
                }
        }
        if (json_object_object_get_ex(o, "leaking", &v)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return -EBADMSG;
                w->leaking = json_object_get_boolean(v);
        }
        if (json_object_object_get_ex(o, "leak_rate", &v)) {
                if (!json_object_is_type(v, json_type_int))
                        return -EBADMSG;
                w->leak_rate = json_object_get_int64(v);
        }
        return 0;
}

static int parse_worker(json_object *o, WorkerRecord *w) {
        uint64_t v[19];
        static const char *const keys[] = {
                "state",
                "intent",
                "pid",
                "incarnation",
                "restarts",
                "recycles",
                "consecutive_failures",
                "generation",
                "lifetimes",
                "recycle_reason",
                "last_recycle_reason",
                "budget_bytes",
                "growth_bytes_per_sec",
                "drain_usec",
                "stop_usec",
                "started_usec",
                "started_realtime_usec",
                "timer_usec",
                "drain_lifted",
        };
        _Static_assert(ELEMENTSOF(keys) == ELEMENTSOF(v), "one value per key");
        int r;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                /* PIDs, enums and counters are small; the rest are 64-bit. */
                bool small = i < 11 || i == 18;
                r = get_u64(o, keys[i], small ? INT32_MAX : UINT64_MAX, &v[i]);
                if (r < 0)
                        return r;
        }
        if ((r = get_str(o, "name", false, &w->name)) < 0 || (r = get_str(o, "cgroup", false, &w->cgroup_path)) < 0 ||
            (r = parse_lives(o, w)) < 0)
                return r;
        w->state = (int) v[0];
        w->intent = (int) v[1];
        w->pid = (pid_t) v[2];
        w->incarnation = (unsigned) v[3];
        w->restarts = (unsigned) v[4];
        w->recycles = (unsigned) v[5];
        w->consecutive_failures = (unsigned) v[6];
        w->generation = (unsigned) v[7];
        w->lifetimes = (unsigned) v[8];
        w->recycle_reason = (int) v[9];
        w->last_recycle_reason = (int) v[10];
        w->budget_bytes = v[11];
        w->growth_bytes_per_sec = v[12];
        w->drain_usec = v[13];
        w->stop_usec = v[14];
        w->started_usec = v[15];
        w->started_realtime_usec = v[16];
        w->timer_usec = v[17];
        w->drain_lifted = v[18] != 0;
        return 0;
}

static int parse_group(json_object *o, GroupRecord *g) {
        json_object *t, *f;
        int r;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "tally", &t) ||
            !json_object_is_type(t, json_type_array) || !json_object_object_get_ex(o, "failed", &f) ||
            !json_object_is_type(f, json_type_boolean))
                return -EBADMSG;
        r = get_str(o, "name", true, &g->name);
        if (r < 0)
                return r;
        g->failed = json_object_get_boolean(f);
        size_t n = json_object_array_length(t);
        g->tally = calloc(n ?: 1, sizeof(usec_t));
        if (!g->tally)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(t, i);
                if (!json_object_is_type(v, json_type_int))
                        return -EBADMSG;
                g->tally[g->n_tally++] = json_object_get_uint64(v);
        }
        return 0;
}

int dyno_state_parse(const char *text, size_t len, DynoState *ret) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(dyno_state_done) DynoState s = {};
        json_tokener *tok;
        json_object *ws, *gs, *b, *sd;
        uint64_t version;
        int r;

        if (len > INT32_MAX)
                return -EBADMSG;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, text, (int) len);
        bool complete = json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!root || !complete || !json_object_is_type(root, json_type_object))
                return -EBADMSG;
        r = get_u64(root, "version", UINT32_MAX, &version);
        if (r < 0)
                return r;
        if (version != STATE_VERSION)
                return -EPROTO;
        s.version = (unsigned) version;
        if ((r = get_str(root, "boot_id", true, &s.boot_id)) < 0)
                return r;
        if (!json_object_object_get_ex(root, "workers", &ws) || !json_object_is_type(ws, json_type_array) ||
            !json_object_object_get_ex(root, "groups", &gs) || !json_object_is_type(gs, json_type_array) ||
            !json_object_object_get_ex(root, "brake_released", &b) || !json_object_is_type(b, json_type_boolean) ||
            !json_object_object_get_ex(root, "shutting_down", &sd) || !json_object_is_type(sd, json_type_boolean))
                return -EBADMSG;
        s.brake_released = json_object_get_boolean(b);
        s.shutting_down = json_object_get_boolean(sd);

        size_t nw = json_object_array_length(ws), ng = json_object_array_length(gs);
        s.workers = calloc(nw ?: 1, sizeof(WorkerRecord));
        s.groups = calloc(ng ?: 1, sizeof(GroupRecord));
        if (!s.workers || !s.groups)
                return -ENOMEM;
        for (size_t i = 0; i < nw; i++) {
                s.n_workers++;
                r = parse_worker(json_object_array_get_idx(ws, i), &s.workers[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ng; i++) {
                s.n_groups++;
                r = parse_group(json_object_array_get_idx(gs, i), &s.groups[i]);
                if (r < 0)
                        return r;
        }
        *ret = s;
        s = (DynoState){};
        return 0;
}

const WorkerRecord *dyno_state_find_worker(const DynoState *s, const char *name) {
        for (size_t i = 0; i < s->n_workers; i++)
                if (strcmp(s->workers[i].name, name) == 0)
                        return &s->workers[i];
        return NULL;
}

const GroupRecord *dyno_state_find_group(const DynoState *s, const char *name) {
        for (size_t i = 0; i < s->n_groups; i++)
                if ((!name && !s->groups[i].name) ||
                    (name && s->groups[i].name && strcmp(s->groups[i].name, name) == 0))
                        return &s->groups[i];
        return NULL;
}

int dyno_state_write_at(int dirfd, const char *text) {
        static const char tmp[] = STATE_FILE ".tmp";
        size_t len = strlen(text), done = 0;
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return -errno;
        while (done < len) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = errno;
                        safe_close(fd);
                        (void) unlinkat(dirfd, tmp, 0);
                        return -e;
                }
                done += (size_t) n;
        }
        /* /run is a tmpfs: no fsync needed for a crash of the daemon (a crash of the machine
         * empties /run anyway). rename() is what makes it atomic. */
        safe_close(fd);
        if (renameat(dirfd, tmp, dirfd, STATE_FILE) < 0) {
                int e = errno;
                (void) unlinkat(dirfd, tmp, 0);
                return -e;
        }
        return 0;
}

int dyno_state_read_at(int dirfd, DynoState *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;
        int fd = openat(dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
                return -errno;
        for (;;) {
                if (len == size) {
                        if (size >= 64 * 1024 * 1024) {
                                safe_close(fd);
                                return -EFBIG;
                        }
                        size = size ? size * 2 : 16384;
                        char *nb = realloc(buf, size);
                        if (!nb) {
                                safe_close(fd);
                                return -ENOMEM;
                        }
                        buf = nb;
                }
                ssize_t n = read(fd, buf + len, size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        safe_close(fd);
                        return -e;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        safe_close(fd);
        return dyno_state_parse(buf ? buf : "", len, ret);
}
