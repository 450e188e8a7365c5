/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests for the cgroup v2 file parsers: real samples with every field checked, then hostile,
 * truncated and non-NUL-terminated buffers. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgroup-parse.h"
#include "shared/macro.h"

/* Length of a string literal or of a char array initialised from one. */
#define STRLEN(s) (sizeof(s) - 1)

/* Parses a copy of exactly len bytes in a heap block of that size, so ASan catches any read past
 * the end: the parsers must never look for a NUL terminator. */
#define PARSE_EXACT(fn, str, len, ret)          \
        ({                                      \
                size_t _l = (len);              \
                char *_b = malloc(_l ? _l : 1); \
                assert_non_null(_b);            \
                memcpy(_b, (str), _l);          \
                int _r = fn(_b, _l, (ret));     \
                free(_b);                       \
                _r;                             \
        })
#define PARSE(fn, str, ret) PARSE_EXACT(fn, str, strlen(str), ret)

/* Linux 6.1 (Debian 12), a node worker's cgroup. */
static const char memory_events_6_1[] = "low 0\n"
                                        "high 2661\n"
                                        "max 3\n"
                                        "oom 1\n"
                                        "oom_kill 1\n"
                                        "oom_group_kill 0\n";

/* Linux 6.1 memory.stat, as printed by memory_stat_format(): every key, in kernel order. */
static const char memory_stat_6_1[] = "anon 41222144\n"
                                      "file 48005120\n"
                                      "kernel 1859584\n"
                                      "kernel_stack 147456\n"
                                      "pagetables 356352\n"
                                      "sec_pagetables 0\n"
                                      "percpu 1440\n"
                                      "sock 8192\n"
                                      "vmalloc 12288\n"
                                      "shmem 2101248\n"
                                      "zswap 0\n"
                                      "zswapped 0\n"
                                      "file_mapped 9875456\n"
                                      "file_dirty 4096\n"
                                      "file_writeback 0\n"
                                      "swapcached 0\n"
                                      "anon_thp 20971520\n"
                                      "file_thp 0\n"
                                      "shmem_thp 0\n"
                                      "inactive_anon 43261952\n"
                                      "active_anon 61440\n"
                                      "inactive_file 39124992\n"
                                      "active_file 6778880\n"
                                      "unevictable 0\n"
                                      "slab_reclaimable 1015808\n"
                                      "slab_unreclaimable 310512\n"
                                      "slab 1326320\n"
                                      "workingset_refault_anon 0\n"
                                      "workingset_refault_file 27\n"
                                      "workingset_activate_anon 0\n"
                                      "workingset_activate_file 3\n"
                                      "workingset_restore_anon 0\n"
                                      "workingset_restore_file 0\n"
                                      "workingset_nodereclaim 0\n"
                                      "pgscan 12950\n"
                                      "pgsteal 12911\n"
                                      "pgscan_kswapd 0\n"
                                      "pgscan_direct 12950\n"
                                      "pgsteal_kswapd 0\n"
                                      "pgsteal_direct 12911\n"
                                      "pgfault 30457\n"
                                      "pgmajfault 112\n"
                                      "pgrefill 36\n"
                                      "pgactivate 1702\n"
                                      "pgdeactivate 36\n"
                                      "pglazyfree 0\n"
                                      "pglazyfreed 0\n"
                                      "zswpin 0\n"
                                      "zswpout 0\n"
                                      "thp_fault_alloc 10\n"
                                      "thp_collapse_alloc 0\n";

static const char memory_pressure_6_1[] = "some avg10=28.75 avg60=11.02 avg300=2.64 total=13740512\n"
                                          "full avg10=27.10 avg60=10.41 avg300=2.49 total=12976301\n";

static const char cpu_stat_6_1[] = "usage_usec 8472631\n"
                                   "user_usec 7012345\n"
                                   "system_usec 1460286\n"
                                   "core_sched.force_idle_usec 0\n"
                                   "nr_periods 0\n"
                                   "nr_throttled 0\n"
                                   "throttled_usec 0\n"
                                   "nr_bursts 0\n"
                                   "burst_usec 0\n";

/* cmocka 1.1.5's assert_float_equal() compares floats; PSI averages are doubles. */
#define assert_double_near(a, b, eps) _assert_double_near((a), (b), (eps), #a, __FILE__, __LINE__)
static void _assert_double_near(double a, double b, double eps, const char *expr, const char *file, int line) {
        if (!(a - b <= eps && b - a <= eps)) { /* no fabs(): keeps the test off libm */
                print_error("%s = %.17g, expected %.17g (+-%g)\n", expr, a, b, eps);
                _fail(file, line);
        }
}

static MemoryEvents events_sentinel(void) {
        return (MemoryEvents){11, 12, 13, 14, 15, 16};
}

static void assert_events_untouched(const MemoryEvents *e) {
        MemoryEvents s = events_sentinel();
        assert_memory_equal(e, &s, sizeof(s));
}

static MemoryStat stat_sentinel(void) {
        return (MemoryStat){1, 2, 3, 4, 5, 6, 7, 8, 9};
}

static void assert_stat_untouched(const MemoryStat *st) {
        MemoryStat s = stat_sentinel();
        assert_memory_equal(st, &s, sizeof(s));
}

/* ---- memory.events ---- */

static void test_events_real(void **state) {
        MemoryEvents e = events_sentinel();

        assert_int_equal(PARSE(memory_events_parse, memory_events_6_1, &e), 0);
        assert_int_equal(e.low, 0);
        assert_int_equal(e.high, 2661);
        assert_int_equal(e.max, 3);
        assert_int_equal(e.oom, 1);
        assert_int_equal(e.oom_kill, 1);
        assert_int_equal(e.oom_group_kill, 0);
}

static void test_events_old_kernel(void **state) {
        /* Linux 5.10: no oom_group_kill; it defaults to 0, low too when absent. */
        MemoryEvents e = events_sentinel();

        assert_int_equal(PARSE(memory_events_parse, "high 7\nmax 0\noom 0\noom_kill 0\n", &e), 0);
        assert_int_equal(e.low, 0);
        assert_int_equal(e.high, 7);
        assert_int_equal(e.max, 0);
        assert_int_equal(e.oom, 0);
        assert_int_equal(e.oom_kill, 0);
        assert_int_equal(e.oom_group_kill, 0);
}

static void test_events_missing_required(void **state) {
        static const char *const inputs[] = {
                "",
                "\n",
                "low 0\nmax 0\noom 0\noom_kill 0\n",               /* no high */
                "low 0\nhigh 0\noom 0\noom_kill 0\n",              /* no max */
                "low 0\nhigh 0\nmax 0\noom_kill 0\n",              /* no oom: oom_kill is not oom */
                "low 0\nhigh 0\nmax 0\noom 0\n",                   /* no oom_kill */
                "low 0\nhigh 0\nmax 0\noom 0\noom_group_kill 0\n", /* oom_group_kill is not oom_kill */
                "low 0\nhighest 1\nmax 0\noom 0\noom_kill 0\n",
                "low 0\nhig 1\nmax 0\noom 0\noom_kill 0\n",
                "LOW 0\nHIGH 0\nMAX 0\nOOM 0\nOOM_KILL 0\n", /* keys are case-sensitive */
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                MemoryEvents e = events_sentinel();

                assert_int_equal(PARSE(memory_events_parse, inputs[i], &e), -EINVAL);
                assert_events_untouched(&e);
        }
}

static void test_events_tolerated(void **state) {
        static const char *const inputs[] = {
                /* no trailing newline */
                "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6",
                /* CRLF */
                "low 1\r\nhigh 2\r\nmax 3\r\noom 4\r\noom_kill 5\r\noom_group_kill 6\r\n",
                /* other order, blank lines, tabs, unknown keys (with junk values) */
                "\n\noom_group_kill\t6\nfuture_key banana\nmax 3\n\n oom_kill 5 \noom 4\nhigh   2\nlow 1\nx\n",
                /* duplicates: last wins */
                ("low 9\nhigh 9\nmax 9\noom 9\noom_kill 9\noom_group_kill 9\n"
                 "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6\n"),
                /* CR garbage at the ends of lines */
                "low 1\r\r\r\nhigh 2\r\nmax 3\v\noom 4\f\noom_kill 5\t\r\noom_group_kill 6\r",
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                MemoryEvents e = events_sentinel();

                assert_int_equal(PARSE(memory_events_parse, inputs[i], &e), 0);
                assert_int_equal(e.low, 1);
                assert_int_equal(e.high, 2);
                assert_int_equal(e.max, 3);
                assert_int_equal(e.oom, 4);
                assert_int_equal(e.oom_kill, 5);
                assert_int_equal(e.oom_group_kill, 6);
        }
}

static void test_events_malformed(void **state) {
        static const struct {
                const char *text;
                int ret;
        } inputs[] = {
                {"high\nmax 0\noom 0\noom_kill 0\n", -EINVAL}, /* no value */
                {"high \nmax 0\noom 0\noom_kill 0\n", -EINVAL},
                {"high -1\nmax 0\noom 0\noom_kill 0\n", -EINVAL}, /* sign */
                {"high +1\nmax 0\noom 0\noom_kill 0\n", -EINVAL},
                {"high 0x10\nmax 0\noom 0\noom_kill 0\n", -EINVAL}, /* hex */
                {"high 12abc\nmax 0\noom 0\noom_kill 0\n", -EINVAL},
                {"high 1 2\nmax 0\noom 0\noom_kill 0\n", -EINVAL}, /* two values */
                {"high 1.5\nmax 0\noom 0\noom_kill 0\n", -EINVAL},
                {"high 0\nmax 0\noom 0\noom_kill", -EINVAL}, /* truncated key */
                {"high 18446744073709551616\nmax 0\noom 0\noom_kill 0\n", -ERANGE},
                {"high 99999999999999999999999999\nmax 0\noom 0\noom_kill 0\n", -ERANGE},
                /* a good later duplicate does not excuse a bad earlier one */
                {"high x\nhigh 1\nmax 0\noom 0\noom_kill 0\n", -EINVAL},
                /* an optional key is still checked */
                {"low z\nhigh 1\nmax 0\noom 0\noom_kill 0\n", -EINVAL},
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                MemoryEvents e = events_sentinel();

                assert_int_equal(PARSE(memory_events_parse, inputs[i].text, &e), inputs[i].ret);
                assert_events_untouched(&e);
        }
}

static void test_events_u64_max(void **state) {
        MemoryEvents e = events_sentinel();

        assert_int_equal(PARSE(memory_events_parse,
                               "high 18446744073709551615\nmax 00000000000000000000000000042\n"
                               "oom 0\noom_kill 0\n",
                               &e),
                         0);
        assert_int_equal(e.high, UINT64_MAX);
        assert_int_equal(e.max, 42);
}

static void test_events_not_nul_terminated(void **state) {
        /* The bytes after len must not be read: here they would turn 5 into 599 and add keys. */
        static const char text[] = "high 1\nmax 2\noom 3\noom_kill 599\noom_group_kill 7\n";
        MemoryEvents e = events_sentinel();

        assert_int_equal(PARSE_EXACT(memory_events_parse, text, strlen("high 1\nmax 2\noom 3\noom_kill 5"), &e), 0);
        assert_int_equal(e.high, 1);
        assert_int_equal(e.max, 2);
        assert_int_equal(e.oom, 3);
        assert_int_equal(e.oom_kill, 5);
        assert_int_equal(e.oom_group_kill, 0);

        /* Cut inside "oom_kill": the key is then missing. */
        e = events_sentinel();
        assert_int_equal(PARSE_EXACT(memory_events_parse, text, strlen("high 1\nmax 2\noom 3\noom_ki"), &e), -EINVAL);
        assert_events_untouched(&e);

        /* Every prefix of the real sample either parses or fails cleanly, never crashes. */
        for (size_t l = 0; l <= STRLEN(memory_events_6_1); l++) {
                int r;

                e = events_sentinel();
                r = PARSE_EXACT(memory_events_parse, memory_events_6_1, l, &e);
                assert_true(r == 0 || r == -EINVAL);
                if (r < 0)
                        assert_events_untouched(&e);
        }
}

static void test_events_embedded_nul(void **state) {
        static const char text[] = "high 1\nmax 2\0\noom 3\noom_kill 4\n";
        MemoryEvents e = events_sentinel();

        /* "max 2\0" has junk after the number. */
        assert_int_equal(PARSE_EXACT(memory_events_parse, text, sizeof(text) - 1, &e), -EINVAL);
        assert_events_untouched(&e);

        static const char text2[] = "high 1\nmax 2\n\0oom 7\noom 3\noom_kill 4\n";
        assert_int_equal(PARSE_EXACT(memory_events_parse, text2, sizeof(text2) - 1, &e), 0);
        assert_int_equal(e.oom, 3); /* "\0oom" is an unknown key */
}

/* ---- memory.stat ---- */

static void test_stat_real(void **state) {
        MemoryStat st = stat_sentinel();

        assert_int_equal(PARSE(memory_stat_parse, memory_stat_6_1, &st), 0);
        assert_int_equal(st.anon, 41222144);
        assert_int_equal(st.file, 48005120);
        assert_int_equal(st.kernel, 1859584);
        assert_int_equal(st.kernel_stack, 147456);
        assert_int_equal(st.pagetables, 356352);
        assert_int_equal(st.sock, 8192);
        assert_int_equal(st.shmem, 2101248);
        assert_int_equal(st.slab_reclaimable, 1015808);
        assert_int_equal(st.slab_unreclaimable, 310512);
}

static void test_stat_old_kernel(void **state) {
        /* Linux 5.10: no "kernel" key. */
        static const char text[] = "anon 1000\nfile 2000\nkernel_stack 30\npagetables 40\npercpu 5\nsock 0\n"
                                   "shmem 100\nfile_mapped 77\nslab_reclaimable 60\nslab_unreclaimable 70\nslab 130\n";
        MemoryStat st = stat_sentinel();

        assert_int_equal(PARSE(memory_stat_parse, text, &st), 0);
        assert_int_equal(st.anon, 1000);
        assert_int_equal(st.file, 2000);
        assert_int_equal(st.kernel, 0);
        assert_int_equal(st.kernel_stack, 30);
        assert_int_equal(st.pagetables, 40);
        assert_int_equal(st.sock, 0);
        assert_int_equal(st.shmem, 100);
        assert_int_equal(st.slab_reclaimable, 60);
        assert_int_equal(st.slab_unreclaimable, 70);
}

static void test_stat_whole_words(void **state) {
        MemoryStat st = stat_sentinel();

        /* The lookalikes come first and carry different values: a prefix match would pick them. */
        static const char text[] = "file_mapped 111\nfile_dirty 112\nfile_thp 113\nanon_thp 221\nkernel_stack 5\n"
                                   "slab 999\nslab_reclaimable_extra 998\nshmem_thp 997\nfile 400\nanon 300\n"
                                   "kernel 50\nslab_reclaimable 10\nsockets 12\nshmem 20\n";
        assert_int_equal(PARSE(memory_stat_parse, text, &st), 0);
        assert_int_equal(st.anon, 300);
        assert_int_equal(st.file, 400);
        assert_int_equal(st.kernel, 50);
        assert_int_equal(st.kernel_stack, 5);
        assert_int_equal(st.sock, 0);
        assert_int_equal(st.shmem, 20);
        assert_int_equal(st.slab_reclaimable, 10);
        assert_int_equal(st.slab_unreclaimable, 0);

        /* Only lookalikes: anon and file are missing. */
        static const char *const missing[] = {
                "file_mapped 1\nanon_thp 2\n",
                "anon_thp 2\nfile 1\n",
                "anon 1\nfile_mapped 1\n",
                "anon 1\nfil 1\n",
                "an 1\nfile 1\n",
                "anon1\nfile 1\n",
                "anon:1\nfile 1\n",
                "anon=1\nfile 1\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(missing); i++) {
                st = stat_sentinel();
                assert_int_equal(PARSE(memory_stat_parse, missing[i], &st), -EINVAL);
                assert_stat_untouched(&st);
        }
}

static void test_stat_hostile(void **state) {
        MemoryStat st = stat_sentinel();
        int r;

        /* Unknown keys may carry anything, overflow included. */
        assert_int_equal(PARSE(memory_stat_parse,
                               "pgfault 99999999999999999999999999\nzswap -1\nanon 1\nfile 2\n"
                               "\r\n\t\n   \nweird\x01\xff key 3\n",
                               &st),
                         0);
        assert_int_equal(st.anon, 1);
        assert_int_equal(st.file, 2);

        /* Known keys may not. */
        st = stat_sentinel();
        assert_int_equal(PARSE(memory_stat_parse, "anon 1\nfile 2\nshmem 18446744073709551616\n", &st), -ERANGE);
        assert_stat_untouched(&st);
        assert_int_equal(PARSE(memory_stat_parse, "anon 1\nfile 2\nsock nope\n", &st), -EINVAL);
        assert_stat_untouched(&st);
        assert_int_equal(PARSE(memory_stat_parse, "", &st), -EINVAL);
        assert_stat_untouched(&st);
        assert_int_equal(PARSE_EXACT(memory_stat_parse, "", 0, &st), -EINVAL);
        assert_stat_untouched(&st);

        /* An extremely long line (4 MiB of an unknown key, then of a value) costs nothing. */
        size_t big = 4 * 1024 * 1024;
        char *buf = malloc(big * 2 + 64);
        assert_non_null(buf);
        memset(buf, 'x', big);
        size_t n = big;
        n += (size_t) sprintf(buf + n, " 5\nanon 7\nfile ");
        memset(buf + n, '0', big);
        n += big;
        n += (size_t) sprintf(buf + n, "8");
        st = stat_sentinel();
        r = PARSE_EXACT(memory_stat_parse, buf, n, &st);
        assert_int_equal(r, 0);
        assert_int_equal(st.anon, 7);
        assert_int_equal(st.file, 8); /* leading zeros do not overflow */

        /* A long run of digits that is a real overflow. */
        memset(buf, '9', big);
        memcpy(buf, "anon ", 5);
        st = stat_sentinel();
        assert_int_equal(PARSE_EXACT(memory_stat_parse, buf, big, &st), -ERANGE);
        assert_stat_untouched(&st);
        free(buf);

        /* Duplicates: last wins. */
        st = stat_sentinel();
        assert_int_equal(PARSE(memory_stat_parse, "anon 1\nfile 2\nanon 3\nshmem 4\nshmem 5", &st), 0);
        assert_int_equal(st.anon, 3);
        assert_int_equal(st.file, 2);
        assert_int_equal(st.shmem, 5);
}

/* True if the last (unterminated) line of buf[0..l) is a key we parse, with no value yet. */
static bool cut_after_known_key(const char *buf, size_t l) {
        static const char *const keys[] = {
                "anon", "file",  "kernel",           "kernel_stack",       "pagetables",
                "sock", "shmem", "slab_reclaimable", "slab_unreclaimable",
        };
        size_t start = l, end = l;

        while (start > 0 && buf[start - 1] != '\n')
                start--;
        while (end > start && buf[end - 1] == ' ')
                end--;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (end - start == strlen(keys[i]) && memcmp(buf + start, keys[i], end - start) == 0)
                        return true;
        return false;
}

static void test_stat_truncated(void **state) {
        /* Every prefix of the real sample: -EINVAL until anon and file are in; from then on it
         * parses, except when the cut leaves a known key without its value ("...\nfile" cut
         * from "file_mapped"); a cut inside a number yields the shorter number, which cannot
         * be detected. */
        size_t file_digit = strstr(memory_stat_6_1, "file 48005120") - memory_stat_6_1 + STRLEN("file ");
        size_t file_end = file_digit + STRLEN("48005120");
        unsigned n_cut_keys = 0;

        for (size_t l = 0; l <= STRLEN(memory_stat_6_1); l++) {
                MemoryStat st = stat_sentinel();
                int r;

                r = PARSE_EXACT(memory_stat_parse, memory_stat_6_1, l, &st);
                if (l <= file_digit || cut_after_known_key(memory_stat_6_1, l)) {
                        assert_int_equal(r, -EINVAL);
                        assert_stat_untouched(&st);
                        if (l > file_digit)
                                n_cut_keys++;
                        continue;
                }

                assert_int_equal(r, 0);
                assert_int_equal(st.anon, 41222144);
                if (l >= file_end)
                        assert_int_equal(st.file, 48005120);
                if (l == STRLEN(memory_stat_6_1))
                        assert_int_equal(st.slab_unreclaimable, 310512);
        }

        /* kernel, kernel_stack, pagetables, sock, shmem, slab_reclaimable, slab_unreclaimable:
         * "key" and "key " each (14); plus "kernel" in kernel_stack, "shmem" in shmem_thp,
         * "file" in file_mapped, file_dirty, file_writeback, file_thp, "anon" in anon_thp (7). */
        assert_int_equal(n_cut_keys, 21);
}

/* ---- memory.pressure ---- */

static void test_pressure_real(void **state) {
        MemoryPressure p = {};

        assert_int_equal(PARSE(memory_pressure_parse, memory_pressure_6_1, &p), 0);
        assert_double_near(p.some.avg10, 28.75, 1e-9);
        assert_double_near(p.some.avg60, 11.02, 1e-9);
        assert_double_near(p.some.avg300, 2.64, 1e-9);
        assert_int_equal(p.some.total_usec, 13740512);
        assert_double_near(p.full.avg10, 27.10, 1e-9);
        assert_double_near(p.full.avg60, 10.41, 1e-9);
        assert_double_near(p.full.avg300, 2.49, 1e-9);
        assert_int_equal(p.full.total_usec, 12976301);
}

static void test_pressure_some_only(void **state) {
        /* /proc/pressure/cpu before Linux 5.13: no "full" line, which is then zeros. */
        MemoryPressure p = {.full = {1, 2, 3, 4}};

        assert_int_equal(PARSE(memory_pressure_parse, "some avg10=0.00 avg60=0.50 avg300=100.00 total=0", &p), 0);
        assert_double_near(p.some.avg10, 0.0, 1e-12);
        assert_double_near(p.some.avg60, 0.5, 1e-12);
        assert_double_near(p.some.avg300, 100.0, 1e-12);
        assert_int_equal(p.some.total_usec, 0);
        assert_double_near(p.full.avg10, 0.0, 0);
        assert_double_near(p.full.avg60, 0.0, 0);
        assert_double_near(p.full.avg300, 0.0, 0);
        assert_int_equal(p.full.total_usec, 0);
}

static void test_pressure_tolerated(void **state) {
        MemoryPressure p;

        /* CRLF, order of fields, unknown fields and lines, duplicate lines (last wins). */
        assert_int_equal(PARSE(memory_pressure_parse,
                               "some avg10=9.99 avg60=9.99 avg300=9.99 total=9\r\n"
                               "future line here\r\n"
                               "\r\n"
                               "full total=7 avg300=3 avg60=2. avg10=.5 avg1=77.7\r\n"
                               "some avg10=1.25 avg60=2.50 avg300=3.75 total=18446744073709551615\r\n",
                               &p),
                         0);
        assert_double_near(p.some.avg10, 1.25, 1e-12);
        assert_double_near(p.some.avg60, 2.5, 1e-12);
        assert_double_near(p.some.avg300, 3.75, 1e-12);
        assert_int_equal(p.some.total_usec, UINT64_MAX);
        assert_double_near(p.full.avg10, 0.5, 1e-12);
        assert_double_near(p.full.avg60, 2.0, 1e-12);
        assert_double_near(p.full.avg300, 3.0, 1e-12);
        assert_int_equal(p.full.total_usec, 7);

        /* Many fractional digits do not overflow. */
        assert_int_equal(PARSE(memory_pressure_parse,
                               "some avg10=0.12345678901234567890123456789 avg60=0 avg300=0 total=1\n", &p),
                         0);
        assert_double_near(p.some.avg10, 0.123456789012345678, 1e-12);
}

static void test_pressure_malformed(void **state) {
        static const struct {
                const char *text;
                int ret;
        } inputs[] = {
                {"", -EINVAL},
                {"\n\n", -EINVAL},
                {"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL}, /* no some */
                {"someone avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10=0.00 avg60=0.00 avg300=0.00\n", -EINVAL}, /* no total */
                {"some avg10=0.00 avg60=0.00 total=0\n", -EINVAL},     /* no avg300 */
                {"some\n", -EINVAL},
                {"some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10=1e3 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10=nan avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10=inf avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10= avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10=. avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10=1.2.3 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10=0,50 avg60=0.00 avg300=0.00 total=0\n", -EINVAL}, /* locale comma */
                {"some avg10 0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
                {"some avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n", -EINVAL},
                {"some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n", -ERANGE},
                {"some avg10=99999999999999999999.0 avg60=0 avg300=0 total=0\n", -ERANGE},
                /* a good "some" does not excuse a broken "full" */
                {"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00\n", -EINVAL},
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                MemoryPressure p = {.some = {1, 2, 3, 4}, .full = {5, 6, 7, 8}};

                assert_int_equal(PARSE(memory_pressure_parse, inputs[i].text, &p), inputs[i].ret);
                assert_double_near(p.some.avg10, 1, 0);
                assert_int_equal(p.some.total_usec, 4);
                assert_double_near(p.full.avg300, 7, 0);
                assert_int_equal(p.full.total_usec, 8);
        }
}

static void test_pressure_truncated(void **state) {
        size_t total = STRLEN(memory_pressure_6_1);
        size_t some_digit = strchr(memory_pressure_6_1, '\n') - memory_pressure_6_1 - STRLEN("13740512");
        size_t full_start = some_digit + STRLEN("13740512\n");
        size_t full_digit = total - STRLEN("12976301\n");

        for (size_t l = 0; l <= total; l++) {
                MemoryPressure p = {.some = {1, 2, 3, 4}};
                int r;

                r = PARSE_EXACT(memory_pressure_parse, memory_pressure_6_1, l, &p);
                if (l <= some_digit)
                        assert_int_equal(r, -EINVAL); /* "some" incomplete */
                else if (l < full_start + STRLEN("full"))
                        assert_int_equal(r, 0); /* "", "f", "fu", "ful": unknown */
                else if (l <= full_digit)
                        assert_int_equal(r, -EINVAL); /* a half "full" line */
                else
                        assert_int_equal(r, 0);
                if (r < 0)
                        assert_int_equal(p.some.total_usec, 4);
                else
                        assert_double_near(p.some.avg10, 28.75, 1e-9);
        }
}

/* ---- single values ---- */

static void test_value(void **state) {
        static const struct {
                const char *text;
                int ret;
                uint64_t value;
        } inputs[] = {
                {"123\n", 0, 123},
                {"123", 0, 123},
                {"0\n", 0, 0},
                {"max\n", 0, UINT64_MAX},
                {"max", 0, UINT64_MAX},
                {"max\r\n", 0, UINT64_MAX},
                {"  4096  \n\n", 0, 4096},
                {"18446744073709551615\n", 0, UINT64_MAX},
                {"18446744073709551616\n", -ERANGE, 0},
                {"99999999999999999999999999999999\n", -ERANGE, 0},
                {"", -EINVAL, 0},
                {"\n", -EINVAL, 0},
                {"   ", -EINVAL, 0},
                {"maxx\n", -EINVAL, 0},
                {"ma\n", -EINVAL, 0},
                {"MAX\n", -EINVAL, 0},
                {"-1\n", -EINVAL, 0},
                {"12k\n", -EINVAL, 0},
                {"12 13\n", -EINVAL, 0},
                {"12\n13\n", -EINVAL, 0},
                {"0x10\n", -EINVAL, 0},
                {"1.0\n", -EINVAL, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                uint64_t v = 4242;

                assert_int_equal(PARSE(cgroup_value_parse, inputs[i].text, &v), inputs[i].ret);
                assert_int_equal(v, inputs[i].ret == 0 ? inputs[i].value : 4242);
        }
}

static void test_value_not_nul_terminated(void **state) {
        uint64_t v = 4242;

        assert_int_equal(PARSE_EXACT(cgroup_value_parse, "1234567", 3, &v), 0);
        assert_int_equal(v, 123);
        assert_int_equal(PARSE_EXACT(cgroup_value_parse, "maxfoo", 3, &v), 0);
        assert_int_equal(v, UINT64_MAX);
        v = 4242;
        assert_int_equal(PARSE_EXACT(cgroup_value_parse, "max", 2, &v), -EINVAL);
        assert_int_equal(PARSE_EXACT(cgroup_value_parse, "123", 0, &v), -EINVAL);
        assert_int_equal(PARSE_EXACT(cgroup_value_parse, "1\0002", 3, &v), -EINVAL);
        assert_int_equal(v, 4242);
}

/* ---- cpu.stat ---- */

static void test_cpu_stat(void **state) {
        uint64_t u = 4242;

        assert_int_equal(PARSE(cpu_stat_parse_usage, cpu_stat_6_1, &u), 0);
        assert_int_equal(u, 8472631);

        /* Usage last, no newline, CRLF, unknown keys with junk. */
        assert_int_equal(PARSE(cpu_stat_parse_usage, "user_usec x\r\nnr_periods -3\r\nusage_usec 17", &u), 0);
        assert_int_equal(u, 17);

        /* Whole words only. */
        u = 4242;
        assert_int_equal(PARSE(cpu_stat_parse_usage, "usage_usec_total 5\nusage 6\nuser_usec 7\n", &u), -EINVAL);
        assert_int_equal(PARSE(cpu_stat_parse_usage, "", &u), -EINVAL);
        assert_int_equal(PARSE(cpu_stat_parse_usage, "usage_usec\n", &u), -EINVAL);
        assert_int_equal(PARSE(cpu_stat_parse_usage, "usage_usec 1e6\n", &u), -EINVAL);
        assert_int_equal(PARSE(cpu_stat_parse_usage, "usage_usec 18446744073709551616\n", &u), -ERANGE);
        assert_int_equal(u, 4242);

        /* Cut mid-key. */
        assert_int_equal(PARSE_EXACT(cpu_stat_parse_usage, cpu_stat_6_1, 5, &u), -EINVAL);
        assert_int_equal(u, 4242);
        assert_int_equal(PARSE_EXACT(cpu_stat_parse_usage, cpu_stat_6_1, STRLEN("usage_usec 847"), &u), 0);
        assert_int_equal(u, 847);
}

/* ---- unreclaimable ---- */

static void test_unreclaimable(void **state) {
        MemoryStat st;

        /* The real sample: current 92 MB, page cache 48005120 - 2101248, slab_reclaimable. */
        assert_int_equal(PARSE(memory_stat_parse, memory_stat_6_1, &st), 0);
        assert_int_equal(memory_unreclaimable_bytes(92000000, &st), 92000000 - (48005120 - 2101248) - 1015808);

        /* A leaker: all anon. */
        st = (MemoryStat){.anon = 100, .file = 0};
        assert_int_equal(memory_unreclaimable_bytes(110, &st), 110);

        /* The streamer from VM-RECIPE: anon 0, file 48005120 of a 48 MiB memory.current. */
        st = (MemoryStat){.anon = 0, .file = 48005120, .slab_reclaimable = 200000};
        assert_int_equal(memory_unreclaimable_bytes(50331648, &st), 50331648 - 48005120 - 200000);

        /* shmem counts against the worker: tmpfs cannot be dropped without swap. */
        st = (MemoryStat){.anon = 0, .file = 1000, .shmem = 1000};
        assert_int_equal(memory_unreclaimable_bytes(1200, &st), 1200);

        /* file < shmem (stat read mid-update): no page cache, no wrap-around. */
        st = (MemoryStat){.file = 10, .shmem = 500, .slab_reclaimable = 5};
        assert_int_equal(memory_unreclaimable_bytes(1000, &st), 995);

        /* More reclaimable than current (current read at another instant): clamped at 0. */
        st = (MemoryStat){.file = 5000, .shmem = 0, .slab_reclaimable = 100};
        assert_int_equal(memory_unreclaimable_bytes(4000, &st), 0);
        assert_int_equal(memory_unreclaimable_bytes(5100, &st), 0);
        assert_int_equal(memory_unreclaimable_bytes(5101, &st), 1);

        /* Saturating sums. */
        st = (MemoryStat){.file = UINT64_MAX, .shmem = 0, .slab_reclaimable = UINT64_MAX};
        assert_int_equal(memory_unreclaimable_bytes(UINT64_MAX, &st), 0);
        st = (MemoryStat){};
        assert_int_equal(memory_unreclaimable_bytes(UINT64_MAX, &st), UINT64_MAX);
        assert_int_equal(memory_unreclaimable_bytes(0, &st), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_events_real),
                cmocka_unit_test(test_events_old_kernel),
                cmocka_unit_test(test_events_missing_required),
                cmocka_unit_test(test_events_tolerated),
                cmocka_unit_test(test_events_malformed),
                cmocka_unit_test(test_events_u64_max),
                cmocka_unit_test(test_events_not_nul_terminated),
                cmocka_unit_test(test_events_embedded_nul),
                cmocka_unit_test(test_stat_real),
                cmocka_unit_test(test_stat_old_kernel),
                cmocka_unit_test(test_stat_whole_words),
                cmocka_unit_test(test_stat_hostile),
                cmocka_unit_test(test_stat_truncated),
                cmocka_unit_test(test_pressure_real),
                cmocka_unit_test(test_pressure_some_only),
                cmocka_unit_test(test_pressure_tolerated),
                cmocka_unit_test(test_pressure_malformed),
                cmocka_unit_test(test_pressure_truncated),
                cmocka_unit_test(test_value),
                cmocka_unit_test(test_value_not_nul_terminated),
                cmocka_unit_test(test_cpu_stat),
                cmocka_unit_test(test_unreclaimable),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
