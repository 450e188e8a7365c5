/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Value parsers: good values with their exact results, boundaries, and hostile input. Every
 * failure also checks that the output parameter was left alone. */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "parse-util.h"

#define SENTINEL_SIZE ((ConfigSize){.set = true, .percent = true, .value = 4242})

static void assert_size(const char *s, bool percent, uint64_t value) {
        ConfigSize v = {};

        if (parse_size(s, &v) != 0)
                fail_msg("parse_size(\"%s\") failed", s);
        assert_true(v.set);
        if (v.percent != percent || v.value != value)
                fail_msg("parse_size(\"%s\") = %s%ju, expected %s%ju", s, v.percent ? "permille " : "",
                         (uintmax_t) v.value, percent ? "permille " : "", (uintmax_t) value);
}

static void assert_size_fails(const char *s, int error) {
        ConfigSize v = SENTINEL_SIZE;
        int r = parse_size(s, &v);

        if (r != error)
                fail_msg("parse_size(\"%s\") = %d, expected %d", s ?: "(null)", r, error);
        assert_true(v.set && v.percent && v.value == 4242);
}

static void test_size_valid(void **state) {
        assert_size("0", false, 0);
        assert_size("1", false, 1);
        assert_size("4096", false, 4096);
        assert_size("1B", false, 1);
        assert_size("1K", false, 1024);
        assert_size("1KB", false, 1024);
        assert_size("1KiB", false, 1024);
        assert_size("512M", false, UINT64_C(536870912));
        assert_size("512MiB", false, UINT64_C(536870912));
        assert_size("2G", false, UINT64_C(2147483648));
        assert_size("1.5G", false, UINT64_C(1610612736));
        assert_size("0.5K", false, 512);
        assert_size("1.0001K", false, 1024); /* 1024.1024 truncated */
        assert_size("2T", false, UINT64_C(2199023255552));
        assert_size("1.25T", false, UINT64_C(1374389534720));
        assert_size("  512M  ", false, UINT64_C(536870912));
        assert_size("512 M", false, UINT64_C(536870912));
        assert_size("\t64K\n", false, 65536);
        assert_size("007", false, 7);
        assert_size("1.5", false, 1); /* fractions of a byte are dropped */
        /* far more decimals than we keep: validated, then truncated */
        assert_size("1.99999999999999999999999999K", false, 2047);
}

static void test_size_percent(void **state) {
        assert_size("90%", true, 900);
        assert_size("12.5%", true, 125);
        assert_size("0%", true, 0);
        assert_size("0.1%", true, 1);
        assert_size("100%", true, 1000);
        assert_size("100.0%", true, 1000);
        assert_size(" 50 % ", true, 500);
        assert_size_fails("12.55%", -EINVAL); /* at most one decimal */
        assert_size_fails("100.1%", -ERANGE);
        assert_size_fails("101%", -ERANGE);
        assert_size_fails("1000%", -ERANGE);
        assert_size_fails("99999999999999999999999%", -ERANGE);
        assert_size_fails("50%M", -EINVAL);
        assert_size_fails("50%%", -EINVAL);
        assert_size_fails("%", -EINVAL);
        assert_size_fails("-5%", -EINVAL);
}

static void test_size_boundaries(void **state) {
        /* UINT64_MAX is SIZE_UNSET: the largest size is one below. */
        assert_size("18446744073709551614", false, UINT64_MAX - 1);
        assert_size_fails("18446744073709551615", -ERANGE);
        assert_size_fails("18446744073709551616", -ERANGE);
        assert_size_fails("99999999999999999999999999999999", -ERANGE);
        assert_size("16777215T", false, UINT64_MAX - (UINT64_C(1) << 40) + 1);
        assert_size_fails("16777216T", -ERANGE);                      /* 2^64 */
        assert_size_fails("16777215.99999999999999999999T", -ERANGE); /* lands on UINT64_MAX */
        assert_size("17179869183G", false, UINT64_C(17179869183) << 30);
        assert_size_fails("17179869184G", -ERANGE);
}

static void test_size_invalid(void **state) {
        assert_size_fails(NULL, -EINVAL);
        assert_size_fails("", -EINVAL);
        assert_size_fails("   ", -EINVAL);
        assert_size_fails("M", -EINVAL);
        assert_size_fails("-1", -EINVAL);
        assert_size_fails("-1M", -EINVAL);
        assert_size_fails("+1", -EINVAL);
        assert_size_fails("1.", -EINVAL);
        assert_size_fails(".5G", -EINVAL);
        assert_size_fails("1.5.5G", -EINVAL);
        assert_size_fails("12Q", -EINVAL);
        assert_size_fails("1k", -EINVAL);
        assert_size_fails("1m", -EINVAL);
        assert_size_fails("1MM", -EINVAL);
        assert_size_fails("1Mi", -EINVAL);
        assert_size_fails("1 M B", -EINVAL);
        assert_size_fails("1e3", -EINVAL);
        assert_size_fails("0x10", -EINVAL);
        assert_size_fails("1,5G", -EINVAL);
        assert_size_fails("max", -EINVAL);
        assert_size_fails("infinity", -EINVAL);
        assert_size_fails("1M junk", -EINVAL);
        assert_size_fails("NaN", -EINVAL);
        assert_size_fails("\xef\xbc\x91", -EINVAL); /* FULLWIDTH DIGIT ONE */
        assert_size_fails("5\x01", -EINVAL);
}

static void assert_duration(const char *s, usec_t expected) {
        usec_t v = 4242;

        if (parse_duration(s, &v) != 0)
                fail_msg("parse_duration(\"%s\") failed", s);
        if (v != expected)
                fail_msg("parse_duration(\"%s\") = %ju, expected %ju", s, (uintmax_t) v, (uintmax_t) expected);
}

static void assert_duration_fails(const char *s, int error) {
        usec_t v = 4242;
        int r = parse_duration(s, &v);

        if (r != error)
                fail_msg("parse_duration(\"%s\") = %d, expected %d", s ?: "(null)", r, error);
        assert_int_equal(v, 4242);
}

static void test_duration(void **state) {
        assert_duration("10", 10 * USEC_PER_SEC);
        assert_duration("0", 0);
        assert_duration("0.5", 500 * USEC_PER_MSEC);
        assert_duration("1.5s", 1500 * USEC_PER_MSEC);
        assert_duration("250ms", 250 * USEC_PER_MSEC);
        assert_duration("100us", 100);
        assert_duration("1.5us", 1);
        assert_duration("2min", 2 * USEC_PER_MINUTE);
        assert_duration("1h", USEC_PER_HOUR);
        assert_duration("1min 30s", 90 * USEC_PER_SEC);
        assert_duration("1min30s", 90 * USEC_PER_SEC);
        assert_duration("1h 1min 1s 1ms 1us", USEC_PER_HOUR + USEC_PER_MINUTE + USEC_PER_SEC + USEC_PER_MSEC + 1);
        assert_duration("  5s  ", 5 * USEC_PER_SEC);
        assert_duration("1 s", USEC_PER_SEC);
        assert_duration("1sec", USEC_PER_SEC);
        assert_duration("3 seconds", 3 * USEC_PER_SEC);
        assert_duration("2 minutes", 2 * USEC_PER_MINUTE);
        assert_duration("2hours", 2 * USEC_PER_HOUR);
        assert_duration("5msec", 5 * USEC_PER_MSEC);
        assert_duration("0.25h", 15 * USEC_PER_MINUTE);
        assert_duration("1.000000001s", USEC_PER_SEC);
        assert_duration("infinity", USEC_INFINITY);
        assert_duration(" infinity ", USEC_INFINITY);
        assert_duration("18446744073709551614us", UINT64_MAX - 1);
}

static void test_duration_invalid(void **state) {
        assert_duration_fails(NULL, -EINVAL);
        assert_duration_fails("", -EINVAL);
        assert_duration_fails("  ", -EINVAL);
        assert_duration_fails("s", -EINVAL);
        assert_duration_fails("-1", -EINVAL);
        assert_duration_fails("-1s", -EINVAL);
        assert_duration_fails("1x", -EINVAL);
        assert_duration_fails("1m", -EINVAL);
        assert_duration_fails("1S", -EINVAL);
        assert_duration_fails("1 min foo", -EINVAL);
        assert_duration_fails("1..5s", -EINVAL);
        assert_duration_fails("1.s", -EINVAL);
        assert_duration_fails("infinityx", -EINVAL);
        assert_duration_fails("infinity 5s", -EINVAL);
        assert_duration_fails("5s infinity", -EINVAL);
        assert_duration_fails("1,5s", -EINVAL);
        assert_duration_fails("10 parsecs", -EINVAL);
        assert_duration_fails("1s\x01", -EINVAL);
        /* 2^64 / 3.6e9 = 5124095576.03 */
        assert_duration("5124095576h", UINT64_C(5124095576) * USEC_PER_HOUR);
        assert_duration_fails("5124095577h", -ERANGE);
        assert_duration_fails("5124095576h 5124095576h", -ERANGE);
        assert_duration_fails("18446744073709551615us", -ERANGE); /* would be USEC_INFINITY */
        assert_duration_fails("99999999999999999999999", -ERANGE);
}

static void test_boolean(void **state) {
        static const char *const yes[] = {"1", "yes", "YES", "Yes", "y", "true", "TRUE", "t", "on", "On"};
        static const char *const no[] = {"0", "no", "NO", "n", "false", "False", "f", "off", "OFF"};
        static const char *const bad[] = {"", "2", "yess", " yes", "yes ", "nope", "enable", "-1", "oui"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                bool b = false;

                assert_int_equal(parse_boolean(yes[i], &b), 0);
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                bool b = true;

                assert_int_equal(parse_boolean(no[i], &b), 0);
                assert_false(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                bool b = true;

                assert_int_equal(parse_boolean(bad[i], &b), -EINVAL);
                assert_true(b);
        }
        assert_int_equal(parse_boolean(NULL, &(bool){false}), -EINVAL);
}

static void assert_signal(const char *s, int expected) {
        int v = -1;

        if (parse_signal(s, &v) != 0 || v != expected)
                fail_msg("parse_signal(\"%s\") = %d, expected %d", s, v, expected);
}

static void test_signal(void **state) {
        static const char *const bad[] = {
                "",          "SIG",        "sigterm",    "term",        "SIGFOO",      "0",      "65",
                "-15",       "+15",        "15x",        " 15",         "15 ",         "SIG15",  "SIGSIGTERM",
                "SIGRTMIN+", "SIGRTMIN-1", "SIGRTMAX+1", "SIGRTMIN+99", "SIGRTMIN+-1", "RTMINX", "99999999999999999999",
                "SIGTERM\n",
        };

        assert_signal("SIGTERM", SIGTERM);
        assert_signal("TERM", SIGTERM);
        assert_signal("15", 15);
        assert_signal("9", SIGKILL);
        assert_signal("SIGKILL", SIGKILL);
        assert_signal("SIGINT", SIGINT);
        assert_signal("HUP", SIGHUP);
        assert_signal("SIGUSR1", SIGUSR1);
        assert_signal("SIGUSR2", SIGUSR2);
        assert_signal("SIGQUIT", SIGQUIT);
        assert_signal("SIGWINCH", SIGWINCH);
        assert_signal("SIGRTMIN", SIGRTMIN);
        assert_signal("SIGRTMIN+1", SIGRTMIN + 1);
        assert_signal("RTMAX-2", SIGRTMAX - 2);
        assert_signal("SIGRTMAX", SIGRTMAX);
        assert_signal("64", 64);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int v = -1;

                if (parse_signal(bad[i], &v) != -EINVAL || v != -1)
                        fail_msg("parse_signal(\"%s\") accepted", bad[i]);
        }
}

static void assert_words(const char *s, const char *const *expected) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        if (parse_command_line(s, &l) != 0)
                fail_msg("parse_command_line(\"%s\") failed", s);
        for (; expected[n]; n++) {
                assert_non_null(l[n]);
                assert_string_equal(l[n], expected[n]);
        }
        assert_null(l[n]);
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_command_line(void **state) {
        assert_words("/bin/true", WORDS("/bin/true"));
        assert_words("  /bin/echo   a\tb \n c  ", WORDS("/bin/echo", "a", "b", "c"));
        assert_words("/bin/sh -c 'while :; do sleep 1; done'", WORDS("/bin/sh", "-c", "while :; do sleep 1; done"));
        assert_words("a \"b c\" d", WORDS("a", "b c", "d"));
        assert_words("a\"b c\"d", WORDS("ab cd"));
        assert_words("'' \"\"", WORDS("", ""));
        assert_words("a\\ b", WORDS("a b"));
        assert_words("\\\\", WORDS("\\"));
        assert_words("\"a\\\"b\"", WORDS("a\"b"));
        assert_words("'a\\b'", WORDS("a\\b"));
        assert_words("'\"' \"'\"", WORDS("\"", "'"));
        assert_words("\\'x", WORDS("'x"));
        assert_words("\\n", WORDS("n")); /* no C escapes: the next character, literally */
        assert_words("x#y ;z", WORDS("x#y", ";z"));
}

static void test_command_line_long(void **state) {
        _cleanup_strv_free_ char **l = NULL;
        char *s = malloc(20001);

        assert_non_null(s);
        memset(s, 'x', 20000);
        s[0] = '/';
        s[9999] = ' ';
        s[20000] = 0;
        assert_int_equal(parse_command_line(s, &l), 0);
        assert_int_equal(strv_length(l), 2);
        assert_int_equal(strlen(l[0]), 9999);
        assert_int_equal(strlen(l[1]), 10000);
        free(s);
}

static void test_command_line_invalid(void **state) {
        static const char *const bad[] = {"",     "   ", "\t\n",    "'abc",   "\"abc",
                                          "a 'b", "a\\", "\"a\\\"", "'it''s", "x \"\\"};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char **l = (char **) 0x1;

                if (parse_command_line(bad[i], &l) != -EINVAL)
                        fail_msg("parse_command_line(\"%s\") accepted", bad[i]);
                assert_ptr_equal(l, (char **) 0x1);
        }
        assert_int_equal(parse_command_line(NULL, &(char **){NULL}), -EINVAL);
}

static void assert_pressure(const char *s, bool full, usec_t stall, usec_t window) {
        PressureConfig p = {.full = !full, .stall_usec = 1, .window_usec = 1};

        if (parse_pressure(s, &p) != 0)
                fail_msg("parse_pressure(\"%s\") failed", s);
        assert_int_equal(p.full, full);
        assert_int_equal(p.stall_usec, stall);
        assert_int_equal(p.window_usec, window);
}

static void test_pressure(void **state) {
        static const struct {
                const char *s;
                int error;
        } bad[] = {
                {"", -EINVAL},
                {"yes", -EINVAL},
                {"some", -EINVAL},
                {"some 150ms", -EINVAL},
                {"some 150ms 1s x", -EINVAL},
                {"half 100ms 1s", -EINVAL},
                {"SOME 100ms 1s", -EINVAL},
                {"some x 1s", -EINVAL},
                {"some 100ms y", -EINVAL},
                {"some -1ms 1s", -EINVAL},
                {"somefull 1s 1s", -EINVAL},
                {"some 0 1s", -ERANGE},
                {"some 2s 1s", -ERANGE},
                {"some 100ms 100ms", -ERANGE},
                {"some 100ms 499ms", -ERANGE},
                {"some 1s 11s", -ERANGE},
                {"some infinity 1s", -ERANGE},
        };

        assert_pressure("some 150ms 1s", false, 150 * USEC_PER_MSEC, USEC_PER_SEC);
        assert_pressure("full 100ms 2s", true, 100 * USEC_PER_MSEC, 2 * USEC_PER_SEC);
        assert_pressure("  some\t500ms   500ms ", false, 500 * USEC_PER_MSEC, 500 * USEC_PER_MSEC);
        assert_pressure("full 10s 10s", true, 10 * USEC_PER_SEC, 10 * USEC_PER_SEC);
        assert_pressure("some 1us 0.5", false, 1, 500 * USEC_PER_MSEC);
        assert_pressure("no", false, 0, 0);
        assert_pressure("off", false, 0, 0);
        assert_pressure("0", false, 0, 0);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                PressureConfig p = {.full = true, .stall_usec = 7, .window_usec = 8};
                int r = parse_pressure(bad[i].s, &p);

                if (r != bad[i].error)
                        fail_msg("parse_pressure(\"%s\") = %d, expected %d", bad[i].s, r, bad[i].error);
                assert_true(p.full && p.stall_usec == 7 && p.window_usec == 8);
        }
}

static void test_name_is_valid(void **state) {
        char name[66];
        static const char *const good[] = {"queuer", "a", "A-b_c.d", "connection_lock", "node.js", "memory",
                                           "x.",     "0", "-"};
        static const char *const bad[] = {
                "",          ".",        "..",       ".hidden",     "a@1",          "queuer@1",
                "a b",       "a/b",      "a\tb",     "memory.high", "cgroup.procs", "cpu.max",
                "io.weight", "pids.max", "\xc3\xa9", "a\n",         "a:b",          "*",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!name_is_valid(good[i]))
                        fail_msg("\"%s\" refused", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (name_is_valid(bad[i]))
                        fail_msg("\"%s\" accepted", bad[i]);
        assert_false(name_is_valid(NULL));

        memset(name, 'n', 64);
        name[64] = 0;
        assert_true(name_is_valid(name));
        name[64] = 'n';
        name[65] = 0;
        assert_false(name_is_valid(name));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_size_valid),
                cmocka_unit_test(test_size_percent),
                cmocka_unit_test(test_size_boundaries),
                cmocka_unit_test(test_size_invalid),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_duration_invalid),
                cmocka_unit_test(test_boolean),
                cmocka_unit_test(test_signal),
                cmocka_unit_test(test_command_line),
                cmocka_unit_test(test_command_line_long),
                cmocka_unit_test(test_command_line_invalid),
                cmocka_unit_test(test_pressure),
                cmocka_unit_test(test_name_is_valid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
