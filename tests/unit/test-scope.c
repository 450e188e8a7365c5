/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The workers' scope is named after the service whose cgroup we are in, and sits in its slice. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "scope.h"

static void check(const char *own, const char *unit, const char *slice, const char *path) {
        char *u = NULL, *s = NULL, *p = NULL;

        assert_int_equal(scope_names(own, &u, &s, &p), 0);
        assert_string_equal(u, unit);
        assert_string_equal(s, slice);
        assert_string_equal(p, path);
        free(u);
        free(s);
        free(p);
}

static void test_names(void **state) {
        check("system.slice/cgwatch.service", "cgwatch-workers.scope", "system.slice",
              "system.slice/cgwatch-workers.scope");
        /* Instances live in the template's slice; the scope may not look like an instance. */
        check("system.slice/system-cgwatch.slice/cgwatch@web.service", "cgwatch-web-workers.scope",
              "system-cgwatch.slice", "system.slice/system-cgwatch.slice/cgwatch-web-workers.scope");
        check("system.slice/apps.slice/cgwatch.service", "cgwatch-workers.scope", "apps.slice",
              "system.slice/apps.slice/cgwatch-workers.scope");
}

static void test_not_a_service(void **state) {
        static const char *const refused[] = {
                "",
                "cgwatch.service",                         /* not in a slice */
                "user.slice/user-0.slice/session-1.scope", /* a login shell */
                "system.slice/cgwatch.service/cgwatchd",   /* a leaf below a service */
                "test.slice/.service",
                "cgw-test",
        };
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
                char *u = (char *) 1, *s = (char *) 1, *p = (char *) 1;
                assert_int_equal(scope_names(refused[i], &u, &s, &p), -EINVAL);
                assert_ptr_equal(u, (char *) 1); /* untouched */
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_not_a_service),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
