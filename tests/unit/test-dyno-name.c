/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The bus name of a dyno (cgwatch@NAME): exact escapes, valid bus names for hostile instance
 * names, refusal of empty and overlong ones. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "dyno-name.h"
#include "shared/macro.h"

static void check(const char *dyno, const char *want) {
        _cleanup_free_ char *s = NULL;
        assert_int_equal(dyno_bus_name(dyno, &s), 0);
        assert_string_equal(s, want);
}

static void test_escapes(void **state) {
        check("a", "org.cgwatch1.dyno.a");
        check("web", "org.cgwatch1.dyno.web");
        check("web-1", "org.cgwatch1.dyno.web_2d1");
        check("1st", "org.cgwatch1.dyno._31st");
        check("a.b", "org.cgwatch1.dyno.a_2eb");
        check("a_b", "org.cgwatch1.dyno.a_5fb");
}

/* Whatever systemd accepts as an instance name must give a valid bus name element: only
 * [A-Za-z0-9_], not starting with a digit, the whole name at most 255 bytes (D-Bus spec). */
static void test_valid_bus_names(void **state) {
        static const char *const hostile[] = {"\\x2d", "@", "a b", "..", "-", "0", "\xc3\xa9t\xc3\xa9", "x:y"};
        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                _cleanup_free_ char *s = NULL;
                const char *label;
                assert_int_equal(dyno_bus_name(hostile[i], &s), 0);
                assert_true(strlen(s) <= 255);
                label = s + strlen("org.cgwatch1.dyno.");
                assert_true(*label && !(*label >= '0' && *label <= '9'));
                for (const char *p = label; *p; p++)
                        assert_true((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                                    *p == '_');
        }
}

static void test_refused(void **state) {
        char *s = (char *) 0x1;
        char big[DYNO_NAME_MAX + 2];
        memset(big, 'z', sizeof big - 1);
        big[sizeof big - 1] = 0;
        assert_int_equal(dyno_bus_name("", &s), -EINVAL);
        assert_int_equal(dyno_bus_name(NULL, &s), -EINVAL);
        assert_int_equal(dyno_bus_name(big, &s), -EINVAL);
        assert_ptr_equal(s, (char *) 0x1);
        big[DYNO_NAME_MAX] = 0;
        check(big, "org.cgwatch1.dyno.zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escapes),
                cmocka_unit_test(test_valid_bus_names),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
