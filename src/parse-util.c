/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Value parsers for the config file. Pure functions over NUL-terminated strings: no allocation
 * except where a function returns a new object, no locale (isdigit() and friends are avoided on
 * purpose so that a user's LC_CTYPE cannot change what a config file means), and every number is
 * checked for overflow before it is computed. Output parameters are written only on success. */

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "parse-util.h"

#define WHITESPACE " \t\n\r"

static bool char_is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool char_is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool char_is_space(char c) {
        return c != 0 && strchr(WHITESPACE, c);
}

static const char *skip_space(const char *p) {
        return p + strspn(p, WHITESPACE);
}

/* The fractional digits of a decimal number, as frac/div with div a power of ten. We keep at most
 * 18 digits (div <= 10^18 < 2^60) so that doubling the remainder below cannot overflow; further
 * digits are validated and dropped, which only truncates beyond any precision that matters. */
typedef struct Decimal {
        uint64_t ipart;
        uint64_t frac;
        uint64_t div;
        unsigned n_frac_digits; /* as written, including dropped ones */
} Decimal;

/* Parses "123" or "123.45" at *p, advancing *p. -EINVAL if there is no digit, -ERANGE if the
 * integer part does not fit into 64 bits. A '.' must be followed by a digit. */
static int parse_decimal(const char **p, Decimal *ret) {
        Decimal d = {.div = 1};
        const char *q = *p;

        if (!char_is_digit(*q))
                return -EINVAL;

        for (; char_is_digit(*q); q++) {
                unsigned digit = (unsigned) (*q - '0');

                if (d.ipart > (UINT64_MAX - digit) / 10)
                        return -ERANGE;
                d.ipart = d.ipart * 10 + digit;
        }

        if (*q == '.') {
                q++;
                if (!char_is_digit(*q))
                        return -EINVAL;
                for (; char_is_digit(*q); q++, d.n_frac_digits++)
                        if (d.n_frac_digits < 18) {
                                d.frac = d.frac * 10 + (uint64_t) (*q - '0');
                                d.div *= 10;
                        }
        }

        *p = q;
        *ret = d;
        return 0;
}

/* floor(frac * 2^shift / div) for frac < div <= 10^18, by binary long division, so that no
 * intermediate value exceeds 2 * 10^18. */
static uint64_t frac_times_pow2(uint64_t frac, uint64_t div, unsigned shift) {
        uint64_t q = 0, rem = frac;

        for (unsigned i = 0; i < shift; i++) {
                rem *= 2;
                q *= 2;
                if (rem >= div) {
                        rem -= div;
                        q++;
                }
        }
        return q;
}

int parse_size(const char *s, ConfigSize *ret) {
        static const struct {
                const char *suffix;
                unsigned shift; /* the multiplier is 2^shift */
        } table[] = {
                {"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
                {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},   {"TB", 40}, {"TiB", 40},
        };
        const char *p, *suffix;
        size_t suffix_len;
        Decimal d;
        int r;

        if (!s)
                return -EINVAL;

        p = skip_space(s);
        r = parse_decimal(&p, &d);
        if (r < 0)
                return r;
        p = skip_space(p);

        if (*p == '%') {
                uint64_t permille;

                if (*skip_space(p + 1) != 0)
                        return -EINVAL;
                /* Percentages take at most one decimal: the result is in permille. */
                if (d.n_frac_digits > 1)
                        return -EINVAL;
                if (d.ipart > 100)
                        return -ERANGE;
                permille = d.ipart * 10 + (d.n_frac_digits > 0 ? d.frac : 0);
                if (permille > 1000)
                        return -ERANGE;

                *ret = (ConfigSize){.set = true, .percent = true, .value = permille};
                return 0;
        }

        suffix = p;
        while (char_is_alpha(*p))
                p++;
        suffix_len = (size_t) (p - suffix);
        if (*skip_space(p) != 0)
                return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                uint64_t mult, bytes;

                if (strlen(table[i].suffix) != suffix_len || strncmp(table[i].suffix, suffix, suffix_len) != 0)
                        continue;

                mult = UINT64_C(1) << table[i].shift;
                if (d.ipart > UINT64_MAX / mult)
                        return -ERANGE;
                bytes = d.ipart * mult;

                uint64_t fbytes = frac_times_pow2(d.frac, d.div, table[i].shift);
                if (bytes > UINT64_MAX - fbytes)
                        return -ERANGE;
                bytes += fbytes;

                /* UINT64_MAX is SIZE_UNSET, the "no value" marker: never produce it from a number. */
                if (bytes == SIZE_UNSET)
                        return -ERANGE;

                *ret = (ConfigSize){.set = true, .percent = false, .value = bytes};
                return 0;
        }

        return -EINVAL;
}

int parse_duration(const char *s, usec_t *ret) {
        static const struct {
                const char *unit;
                usec_t usec;
        } table[] = {
                {"us", 1},
                {"usec", 1},
                {"ms", USEC_PER_MSEC},
                {"msec", USEC_PER_MSEC},
                {"s", USEC_PER_SEC},
                {"sec", USEC_PER_SEC},
                {"second", USEC_PER_SEC},
                {"seconds", USEC_PER_SEC},
                {"min", USEC_PER_MINUTE},
                {"minute", USEC_PER_MINUTE},
                {"minutes", USEC_PER_MINUTE},
                {"h", USEC_PER_HOUR},
                {"hour", USEC_PER_HOUR},
                {"hours", USEC_PER_HOUR},
        };
        usec_t total = 0;
        const char *p;

        if (!s)
                return -EINVAL;

        p = skip_space(s);
        if (strncmp(p, "infinity", 8) == 0 && *skip_space(p + 8) == 0) {
                *ret = USEC_INFINITY;
                return 0;
        }
        if (*p == 0)
                return -EINVAL;

        while (*p != 0) {
                const char *unit;
                size_t unit_len;
                usec_t mult = USEC_PER_SEC, v;
                bool found = false;
                Decimal d;
                int r;

                r = parse_decimal(&p, &d);
                if (r < 0)
                        return r;
                p = skip_space(p);

                unit = p;
                while (char_is_alpha(*p))
                        p++;
                unit_len = (size_t) (p - unit);

                if (unit_len > 0) {
                        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                                if (strlen(table[i].unit) == unit_len && strncmp(table[i].unit, unit, unit_len) == 0) {
                                        mult = table[i].usec;
                                        found = true;
                                        break;
                                }
                        if (!found)
                                return -EINVAL;
                }

                if (d.ipart > UINT64_MAX / mult)
                        return -ERANGE;
                v = d.ipart * mult;

                /* mult <= 3.6e9 < 2^32: keep 9 fractional digits (< 2^30) so the product fits. */
                if (d.n_frac_digits > 0) {
                        uint64_t frac = d.frac, div = d.div;

                        while (div > UINT64_C(1000000000)) {
                                frac /= 10;
                                div /= 10;
                        }
                        if (v > UINT64_MAX - frac * mult / div)
                                return -ERANGE;
                        v += frac * mult / div;
                }

                if (total > UINT64_MAX - v)
                        return -ERANGE;
                total += v;
                p = skip_space(p);
        }

        if (total >= USEC_INFINITY)
                return -ERANGE;

        *ret = total;
        return 0;
}

int parse_boolean(const char *s, bool *ret) {
        static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
        static const char *const no[] = {"0", "no", "n", "false", "f", "off"};

        if (!s)
                return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

int parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!char_is_digit(*s))
                return -EINVAL;
        for (; *s; s++) {
                if (!char_is_digit(*s))
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return 0;
}

/* A plain decimal number (parse_uint64()) in [0, max]. */
static int parse_small_uint(const char *s, unsigned max, unsigned *ret) {
        uint64_t v;
        int r;

        r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int parse_signal(const char *s, int *ret) {
        static const struct {
                const char *name;
                int sig;
        } table[] = {
                {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
                {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},   {"KILL", SIGKILL},
                {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},   {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
                {"TERM", SIGTERM},
#ifdef SIGSTKFLT
                {"STKFLT", SIGSTKFLT},
#endif
                {"CHLD", SIGCHLD},     {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
                {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
                {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},
#ifdef SIGPWR
                {"PWR", SIGPWR},
#endif
                {"SYS", SIGSYS},
        };
        const char *p;
        unsigned n;
        int r;

        if (!s)
                return -EINVAL;

        if (char_is_digit(*s)) {
                r = parse_small_uint(s, (unsigned) SIGRTMAX, &n);
                if (r < 0 || n == 0)
                        return -EINVAL;
                *ret = (int) n;
                return 0;
        }

        p = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(p, table[i].name)) {
                        *ret = table[i].sig;
                        return 0;
                }

        /* RTMIN, RTMIN+n, RTMAX, RTMAX-n, staying inside [SIGRTMIN, SIGRTMAX]. */
        if (strncmp(p, "RTMIN", 5) == 0 || strncmp(p, "RTMAX", 5) == 0) {
                bool min = p[4] == 'N';
                int span = SIGRTMAX - SIGRTMIN;

                p += 5;
                if (*p == 0) {
                        *ret = min ? SIGRTMIN : SIGRTMAX;
                        return 0;
                }
                if (*p != (min ? '+' : '-'))
                        return -EINVAL;
                r = parse_small_uint(p + 1, (unsigned) span, &n);
                if (r < 0)
                        return -EINVAL;
                *ret = min ? SIGRTMIN + (int) n : SIGRTMAX - (int) n;
                return 0;
        }

        return -EINVAL;
}

/* A growable byte buffer for building words. */
typedef struct Buf {
        char *data;
        size_t len, cap;
} Buf;

static int buf_put(Buf *b, char c) {
        if (b->len + 2 > b->cap) {
                size_t cap = MAX(b->cap * 2, (size_t) 32);
                char *n = realloc(b->data, cap);

                if (!n)
                        return -ENOMEM;
                b->data = n;
                b->cap = cap;
        }
        b->data[b->len++] = c;
        b->data[b->len] = 0;
        return 0;
}

static void buf_done(Buf *b) {
        free(b->data);
}

/* Appends s to the NULL-terminated l of n entries; on success l owns s. */
static int strv_push_take(char ***l, size_t *n, char *s) {
        char **m = reallocarray(*l, *n + 2, sizeof(char *));

        if (!m)
                return -ENOMEM;
        m[(*n)++] = s;
        m[*n] = NULL;
        *l = m;
        return 0;
}

int parse_command_line(const char *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_(buf_done) Buf word = {};
        enum { QUOTE_NONE, QUOTE_SINGLE, QUOTE_DOUBLE } quote = QUOTE_NONE;
        bool in_word = false;
        size_t n = 0;
        int r;

        if (!s)
                return -EINVAL;

        for (const char *p = s;; p++) {
                char c = *p;

                if (quote == QUOTE_NONE && (c == 0 || char_is_space(c))) {
                        if (in_word) {
                                _cleanup_free_ char *w = word.data ? TAKE_PTR(word.data) : strdup("");

                                if (!w)
                                        return -ENOMEM;
                                word = (Buf){};
                                r = strv_push_take(&l, &n, w);
                                if (r < 0)
                                        return r;
                                w = NULL; /* now owned by l */
                                in_word = false;
                        }
                        if (c == 0)
                                break;
                        continue;
                }

                if (c == 0) /* end of input inside quotes */
                        return -EINVAL;

                in_word = true;

                if (quote == QUOTE_SINGLE) {
                        if (c == '\'')
                                quote = QUOTE_NONE;
                        else if (buf_put(&word, c) < 0)
                                return -ENOMEM;
                        continue;
                }

                if (c == '\\') {
                        c = *++p;
                        if (c == 0) /* a lone trailing backslash escapes nothing */
                                return -EINVAL;
                } else if (quote == QUOTE_NONE && c == '\'') {
                        quote = QUOTE_SINGLE;
                        continue;
                } else if (quote == QUOTE_NONE && c == '"') {
                        quote = QUOTE_DOUBLE;
                        continue;
                } else if (quote == QUOTE_DOUBLE && c == '"') {
                        quote = QUOTE_NONE;
                        continue;
                }

                if (buf_put(&word, c) < 0)
                        return -ENOMEM;
        }

        if (n == 0)
                return -EINVAL;

        *ret = TAKE_PTR(l);
        return 0;
}

int parse_pressure(const char *s, PressureConfig *ret) {
        char kind[8], stall[64], window[64];
        const char *p, *tokens[3];
        size_t lens[3];
        PressureConfig pc = {};
        bool b;
        int r;

        if (!s)
                return -EINVAL;

        if (parse_boolean(s, &b) >= 0) {
                if (b) /* "yes" says nothing about thresholds */
                        return -EINVAL;
                *ret = (PressureConfig){};
                return 0;
        }

        p = skip_space(s);
        for (size_t i = 0; i < 3; i++) {
                if (*p == 0)
                        return -EINVAL;
                tokens[i] = p;
                lens[i] = strcspn(p, WHITESPACE);
                p = skip_space(p + lens[i]);
        }
        if (*p != 0)
                return -EINVAL;
        if (lens[0] >= sizeof(kind) || lens[1] >= sizeof(stall) || lens[2] >= sizeof(window))
                return -EINVAL;

        memcpy(kind, tokens[0], lens[0]);
        kind[lens[0]] = 0;
        memcpy(stall, tokens[1], lens[1]);
        stall[lens[1]] = 0;
        memcpy(window, tokens[2], lens[2]);
        window[lens[2]] = 0;

        if (streq(kind, "some"))
                pc.full = false;
        else if (streq(kind, "full"))
                pc.full = true;
        else
                return -EINVAL;

        r = parse_duration(stall, &pc.stall_usec);
        if (r < 0)
                return r;
        r = parse_duration(window, &pc.window_usec);
        if (r < 0)
                return r;

        /* The kernel's limits for PSI triggers (Documentation/accounting/psi.rst): the window is
         * 500 ms .. 10 s and the stall threshold must be non-zero and fit into the window. */
        if (pc.window_usec < 500 * USEC_PER_MSEC || pc.window_usec > 10 * USEC_PER_SEC)
                return -ERANGE;
        if (pc.stall_usec == 0 || pc.stall_usec > pc.window_usec)
                return -ERANGE;

        *ret = pc;
        return 0;
}

bool name_is_valid(const char *s) {
        /* A child cgroup named like an interface file ("memory.high") cannot be created next to
         * that file, so names that look like "<controller>.<anything>" are refused. */
        static const char *const reserved_prefixes[] = {
                "cgroup.", "cpu.", "cpuset.", "io.", "memory.", "pids.", "rdma.", "hugetlb.", "misc.", "irq.",
        };
        size_t n;

        if (!s)
                return false;

        n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        if (s[0] == '.') /* also refuses "." and ".." */
                return false;

        for (const char *p = s; *p; p++)
                if (!char_is_alpha(*p) && !char_is_digit(*p) && !strchr("_.-", *p))
                        return false;

        for (size_t i = 0; i < ELEMENTSOF(reserved_prefixes); i++)
                if (strncmp(s, reserved_prefixes[i], strlen(reserved_prefixes[i])) == 0)
                        return false;

        return true;
}

/* "512M", "460.8M" (one decimal, rounded, when inexact), "1023B", "max". */
const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t b) {
        static const char units[] = "KMGTPE";
        uint64_t unit = 1024;
        unsigned i = 0;

        if (b == SIZE_UNSET)
                return "max";
        if (b < 1024) {
                (void) snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 "B", b);
                return buf;
        }
        while (i < strlen(units) - 1 && b / unit >= 1024) {
                unit *= 1024;
                i++;
        }
        if (b % unit == 0)
                (void) snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 "%c", b / unit, units[i]);
        else {
                /* b % unit < unit <= 2^60, so "* 10" cannot overflow. */
                uint64_t tenths = b / unit * 10 + (b % unit * 10 + unit / 2) / unit;

                (void) snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 ".%" PRIu64 "%c", tenths / 10, tenths % 10, units[i]);
        }
        return buf;
}

/* "1min 30s", "150ms", "0", "infinity". */
const char *format_duration(char buf[static FORMAT_DURATION_MAX], usec_t u) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } table[] = {
                {"h", USEC_PER_HOUR}, {"min", USEC_PER_MINUTE}, {"s", USEC_PER_SEC}, {"ms", USEC_PER_MSEC}, {"us", 1},
        };
        size_t n = 0;

        if (u == USEC_INFINITY)
                return "infinity";
        if (u == 0)
                return "0";

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(table) && u > 0; i++) {
                if (u < table[i].usec)
                        continue;
                n += (size_t) snprintf(buf + n, FORMAT_DURATION_MAX - n, "%s%" PRIu64 "%s", n > 0 ? " " : "",
                                       /* cppcheck-suppress zerodivcond ; every usec is a nonzero constant */
                                       u / table[i].usec, table[i].suffix);
                u %= table[i].usec;
                if (n >= FORMAT_DURATION_MAX)
                        break;
        }
        return buf;
}
