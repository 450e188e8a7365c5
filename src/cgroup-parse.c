/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Parsers for cgroup v2 text files. Every parser here takes (buf, len) and never assumes a NUL
 * terminator: the reader hands us exactly what read() returned, which may be cut short, may
 * contain NUL bytes, and may not end in '\n'.
 *
 * Conventions shared by all of them:
 *  - Lines are split on '\n' only. Spaces, tabs, '\r', '\v' and '\f' count as blanks, so CRLF
 *    line ends (a file copied through some other tool) parse as if they were plain LF.
 *  - A key matches only as a whole word: "file" never matches the line "file_mapped 123", and
 *    "anon" never matches "anon_thp 0". We compare the full token, length included.
 *  - Unknown keys are ignored without looking at their values: a future kernel may add keys with
 *    formats we do not know.
 *  - A known key with a malformed value (no digits, a sign, trailing junk other than blanks) is
 *    -EINVAL; a value that does not fit in uint64_t is -ERANGE. We do not skip such lines,
 *    because silently keeping an older duplicate or a default would hide a broken reader.
 *  - A key given twice: the last one wins (the kernel never does this; a concatenated or
 *    re-read buffer might).
 *  - Extremely long lines cost nothing: we never copy a line.
 *  - Truncation in the middle of a number ("anon 12" from "anon 12345") cannot be detected from
 *    the text and parses as the shorter number; truncation that loses a required key is -EINVAL.
 */

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cgroup-parse.h"
#include "shared/macro.h"

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* One line of the buffer, without its '\n'. */
typedef struct Span {
        const char *p;
        size_t n;
} Span;

/* Takes the next line off *rest. Returns false when the buffer is exhausted. */
static bool next_line(Span *rest, Span *ret_line) {
        const char *nl;

        if (rest->n == 0)
                return false;

        nl = memchr(rest->p, '\n', rest->n);
        if (nl) {
                *ret_line = (Span){rest->p, (size_t) (nl - rest->p)};
                rest->n -= (size_t) (nl - rest->p) + 1;
                rest->p = nl + 1;
        } else {
                *ret_line = *rest;
                rest->p += rest->n;
                rest->n = 0;
        }
        return true;
}

static void skip_blanks(Span *s) {
        while (s->n > 0 && is_blank(*s->p)) {
                s->p++;
                s->n--;
        }
}

/* Takes the next blank-delimited token off *s (leading blanks skipped). Empty when none. */
static Span next_token(Span *s) {
        Span t;

        skip_blanks(s);
        t.p = s->p;
        t.n = 0;
        while (s->n > 0 && !is_blank(*s->p)) {
                s->p++;
                s->n--;
                t.n++;
        }
        return t;
}

static bool span_is_blank(Span s) {
        for (size_t i = 0; i < s.n; i++)
                if (!is_blank(s.p[i]))
                        return false;
        return true;
}

static bool span_eq(Span s, const char *word) {
        size_t l = strlen(word);

        return s.n == l && memcmp(s.p, word, l) == 0;
}

/* Decimal digits, at least one, nothing else. 0 or -EINVAL / -ERANGE. */
static int span_to_u64(Span s, uint64_t *ret) {
        uint64_t v = 0;

        if (s.n == 0)
                return -EINVAL;

        for (size_t i = 0; i < s.n; i++) {
                if (!is_digit(s.p[i]))
                        return -EINVAL;
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t) (s.p[i] - '0'), &v))
                        return -ERANGE;
        }

        *ret = v;
        return 0;
}

/* The value part of a "key value" line: one number, then only blanks. */
static int parse_line_value(Span rest, uint64_t *ret) {
        Span tok;

        tok = next_token(&rest);
        if (!span_is_blank(rest))
                return -EINVAL;
        return span_to_u64(tok, ret);
}

/* A fixed-point percentage as the kernel prints it ("%lu.%02lu"). We do not use strtod(): the
 * buffer is not NUL-terminated and strtod() follows the locale's decimal point. Accepts
 * "12", "12.", "12.34", ".5"; rejects signs, exponents, "inf", "nan" and empty. */
static int span_to_percent(Span s, double *ret) {
        uint64_t ipart = 0, frac = 0, scale = 1;
        size_t i = 0;
        bool any = false;

        for (; i < s.n && is_digit(s.p[i]); i++) {
                if (__builtin_mul_overflow(ipart, 10, &ipart) ||
                    __builtin_add_overflow(ipart, (uint64_t) (s.p[i] - '0'), &ipart))
                        return -ERANGE;
                any = true;
        }

        if (i < s.n && s.p[i] == '.') {
                i++;
                for (; i < s.n && is_digit(s.p[i]); i++) {
                        /* Digits past the 18th cannot change a double built from a 64-bit
                         * fraction in a way anyone cares about; keep consuming them so the
                         * syntax check still holds. */
                        if (scale < 1000000000000000000ULL) {
                                frac = frac * 10 + (uint64_t) (s.p[i] - '0');
                                scale *= 10;
                        }
                        any = true;
                }
        }

        if (!any || i != s.n)
                return -EINVAL;

        *ret = (double) ipart + (double) frac / (double) scale;
        return 0;
}

typedef struct KeyedField {
        const char *key;
        bool required;
} KeyedField;

/* Parses a flat "key value\n" file. values[i] receives the value of fields[i] (0 when absent).
 * Returns 0, -EINVAL if a required key is missing or a known key's value is malformed, -ERANGE
 * on overflow. values is written even on failure: callers pass a scratch array. */
static int parse_flat_keyed(const char *buf, size_t len, const KeyedField *fields, size_t n_fields, uint64_t *values) {
        bool seen[16] = {};
        Span rest = {buf, len}, line;
        int r;

        assert(buf || len == 0);
        assert(n_fields <= ELEMENTSOF(seen));

        memset(values, 0, n_fields * sizeof(uint64_t));

        while (next_line(&rest, &line)) {
                Span key;

                key = next_token(&line);
                if (key.n == 0)
                        continue; /* blank line */

                for (size_t i = 0; i < n_fields; i++) {
                        if (!span_eq(key, fields[i].key))
                                continue;

                        r = parse_line_value(line, &values[i]);
                        if (r < 0)
                                return r;
                        seen[i] = true;
                        break;
                }
        }

        for (size_t i = 0; i < n_fields; i++)
                if (fields[i].required && !seen[i])
                        return -EINVAL;

        return 0;
}

int memory_events_parse(const char *buf, size_t len, MemoryEvents *ret) {
        static const KeyedField fields[] = {
                {"low", false}, {"high", true},     {"max", true},
                {"oom", true},  {"oom_kill", true}, {"oom_group_kill", false}, /* since Linux 5.17 */
        };
        uint64_t v[ELEMENTSOF(fields)];
        int r;

        assert(ret);

        r = parse_flat_keyed(buf, len, fields, ELEMENTSOF(fields), v);
        if (r < 0)
                return r;

        *ret = (MemoryEvents){
                .low = v[0],
                .high = v[1],
                .max = v[2],
                .oom = v[3],
                .oom_kill = v[4],
                .oom_group_kill = v[5],
        };
        return 0;
}

int memory_stat_parse(const char *buf, size_t len, MemoryStat *ret) {
        static const KeyedField fields[] = {
                {"anon", true},
                {"file", true},
                {"kernel", false}, /* since Linux 5.18 */
                {"kernel_stack", false},
                {"pagetables", false},
                {"sock", false},
                {"shmem", false},
                {"slab_reclaimable", false},
                {"slab_unreclaimable", false},
        };
        uint64_t v[ELEMENTSOF(fields)];
        int r;

        assert(ret);

        r = parse_flat_keyed(buf, len, fields, ELEMENTSOF(fields), v);
        if (r < 0)
                return r;

        /* "kernel" stays 0 when the key is absent: we do not invent a sum, since the parts
         * (percpu, vmalloc, ...) vary between kernels and we do not track them all. */
        *ret = (MemoryStat){
                .anon = v[0],
                .file = v[1],
                .kernel = v[2],
                .kernel_stack = v[3],
                .pagetables = v[4],
                .sock = v[5],
                .shmem = v[6],
                .slab_reclaimable = v[7],
                .slab_unreclaimable = v[8],
        };
        return 0;
}

/* "avg10=0.12 avg60=0.05 avg300=0.00 total=12345": all four required, in any order; unknown
 * "name=value" tokens are ignored so a kernel adding a field does not break us. */
static int pressure_line_parse(Span line, PressureLine *ret) {
        PressureLine p = {};
        bool have_avg10 = false, have_avg60 = false, have_avg300 = false, have_total = false;
        int r;

        for (;;) {
                Span tok, name, value;
                const char *eq;

                tok = next_token(&line);
                if (tok.n == 0)
                        break;

                eq = memchr(tok.p, '=', tok.n);
                if (!eq)
                        return -EINVAL;

                name = (Span){tok.p, (size_t) (eq - tok.p)};
                value = (Span){eq + 1, tok.n - (size_t) (eq - tok.p) - 1};

                if (span_eq(name, "avg10")) {
                        r = span_to_percent(value, &p.avg10);
                        have_avg10 = true;
                } else if (span_eq(name, "avg60")) {
                        r = span_to_percent(value, &p.avg60);
                        have_avg60 = true;
                } else if (span_eq(name, "avg300")) {
                        r = span_to_percent(value, &p.avg300);
                        have_avg300 = true;
                } else if (span_eq(name, "total")) {
                        r = span_to_u64(value, &p.total_usec);
                        have_total = true;
                } else
                        r = 0;
                if (r < 0)
                        return r;
        }

        if (!have_avg10 || !have_avg60 || !have_avg300 || !have_total)
                return -EINVAL;

        *ret = p;
        return 0;
}

int memory_pressure_parse(const char *buf, size_t len, MemoryPressure *ret) {
        MemoryPressure mp = {};
        Span rest = {buf, len}, line;
        bool have_some = false;
        int r;

        assert(buf || len == 0);
        assert(ret);

        while (next_line(&rest, &line)) {
                Span key;

                key = next_token(&line);
                if (span_eq(key, "some")) {
                        r = pressure_line_parse(line, &mp.some);
                        if (r < 0)
                                return r;
                        have_some = true;
                } else if (span_eq(key, "full")) {
                        r = pressure_line_parse(line, &mp.full);
                        if (r < 0)
                                return r;
                }
                /* Anything else, blank lines included: ignored. */
        }

        if (!have_some)
                return -EINVAL;

        *ret = mp;
        return 0;
}

int cgroup_value_parse(const char *buf, size_t len, uint64_t *ret) {
        Span s = {buf, len}, tok;
        uint64_t v;
        int r;

        assert(buf || len == 0);
        assert(ret);

        /* Exactly one token, with blanks and newlines around it: the kernel writes "123\n";
         * we also take "123", "123\r\n" and " 123 ". A second token is -EINVAL. */
        skip_blanks(&s);
        tok = s;
        tok.n = 0;
        while (s.n > 0 && !is_blank(*s.p) && *s.p != '\n') {
                s.p++;
                s.n--;
                tok.n++;
        }
        for (size_t i = 0; i < s.n; i++)
                if (!is_blank(s.p[i]) && s.p[i] != '\n')
                        return -EINVAL;

        if (span_eq(tok, "max")) {
                *ret = UINT64_MAX;
                return 0;
        }

        r = span_to_u64(tok, &v);
        if (r < 0)
                return r;

        *ret = v;
        return 0;
}

int cpu_stat_parse_usage(const char *buf, size_t len, uint64_t *ret_usage_usec) {
        static const KeyedField fields[] = {
                {"usage_usec", true},
        };
        uint64_t v[ELEMENTSOF(fields)];
        int r;

        assert(ret_usage_usec);

        r = parse_flat_keyed(buf, len, fields, ELEMENTSOF(fields), v);
        if (r < 0)
                return r;

        *ret_usage_usec = v[0];
        return 0;
}

uint64_t memory_unreclaimable_bytes(uint64_t memory_current, const MemoryStat *st) {
        uint64_t page_cache, reclaimable;

        assert(st);

        /* In cgroup v2 "file" counts shmem (tmpfs, memfd, SysV shm) too, and without swap shmem
         * cannot be reclaimed: only file - shmem is droppable page cache. memory.stat and
         * memory.current are read at different instants, so file < shmem can be seen for a
         * moment: count no page cache then rather than wrap around. */
        page_cache = st->file > st->shmem ? st->file - st->shmem : 0;

        if (__builtin_add_overflow(page_cache, st->slab_reclaimable, &reclaimable))
                reclaimable = UINT64_MAX;

        return memory_current > reclaimable ? memory_current - reclaimable : 0;
}

int proc_meminfo_parse(const char *buf, size_t len, uint64_t *ret_total_bytes, uint64_t *ret_available_bytes) {
        Span rest = {buf, len}, line;
        uint64_t total = 0, avail = 0;
        bool have_total = false, have_avail = false;

        assert(buf || len == 0);
        assert(ret_total_bytes && ret_available_bytes);

        while (next_line(&rest, &line)) {
                Span key = next_token(&line), num = next_token(&line), unit = next_token(&line);
                uint64_t *dst;
                uint64_t v;

                if (span_eq(key, "MemTotal:"))
                        dst = &total, have_total = true;
                else if (span_eq(key, "MemAvailable:"))
                        dst = &avail, have_avail = true;
                else
                        continue;
                if (span_to_u64(num, &v) < 0 || !span_eq(unit, "kB") || !span_is_blank(line) ||
                    __builtin_mul_overflow(v, 1024, dst))
                        return -EINVAL;
        }
        if (!have_total || !have_avail || total == 0)
                return -EINVAL;
        *ret_total_bytes = total;
        *ret_available_bytes = MIN(avail, total);
        return 0;
}
