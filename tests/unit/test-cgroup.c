/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgroup.c against a fake cgroup tree in a temp dir, built from a declarative table: the mount
 * is a runtime parameter, so no real cgroupfs is touched. What only a real kernel can show
 * (node creation by libcgroup, cgroup.kill, notifications) is covered by tests/integration. */

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup-parse.h"
#include "cgroup.h"

typedef struct FakeFile {
        const char *path; /* relative to the mount; a trailing '/' makes a directory */
        const char *content;
} FakeFile;

static const FakeFile tree[] = {
        {"cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n"},
        {"cgroup.subtree_control", "cpu memory pids\n"},
        {"svc/", NULL},
        {"svc/cgroup.controllers", "cpu memory pids\n"},
        {"svc/cgroup.subtree_control", "\n"},
        {"svc/cgroup.events", "populated 1\nfrozen 0\n"},
        {"svc/memory.max", "max\n"},
        {"svc/dyno/", NULL},
        {"svc/dyno/cgroup.controllers", "cpu pids\n"},
        {"svc/dyno/cgroup.subtree_control", "memory pids cpu\n"},
        {"svc/dyno/cgroup.events", "populated 0\nfrozen 0\n"},
        {"svc/dyno/memory.current", "52428800\n"},
        {"svc/dyno/memory.max", "536870912\n"},
        {"svc/dyno/memory.high", "max\n"},
        {"svc/dyno/pids.max", "max\n"},
        {"empty/", NULL},
        {"empty/a/", NULL},
        {"empty/a/b/", NULL},
        {"empty/c/", NULL},
};

static char mount_dir[PATH_MAX];

static void write_file(const char *rel, const char *content) {
        char p[PATH_MAX * 2];
        FILE *f;
        snprintf(p, sizeof p, "%s/%s", mount_dir, rel);
        f = fopen(p, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static char *slurp(const char *rel) {
        static char buf[4096];
        char p[PATH_MAX * 2];
        FILE *f;
        size_t n;
        snprintf(p, sizeof p, "%s/%s", mount_dir, rel);
        f = fopen(p, "r");
        if (!f)
                return NULL;
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static int setup(void **state) {
        strcpy(mount_dir, "/tmp/cgwatch-test-cgroup-XXXXXX");
        assert_non_null(mkdtemp(mount_dir));
        for (size_t i = 0; i < sizeof tree / sizeof tree[0]; i++) {
                size_t l = strlen(tree[i].path);
                if (tree[i].path[l - 1] == '/') {
                        char p[PATH_MAX * 2];
                        snprintf(p, sizeof p, "%s/%s", mount_dir, tree[i].path);
                        assert_int_equal(mkdir(p, 0755), 0);
                } else
                        write_file(tree[i].path, tree[i].content);
        }
        CgroupRoot *r = calloc(1, sizeof *r);
        assert_int_equal(cgroup_root_open(mount_dir, /* use_libcgroup= */ false, r), 0);
        assert_false(r->use_libcgroup);
        *state = r;
        return 0;
}

static int teardown(void **state) {
        char cmd[PATH_MAX + 16];
        cgroup_root_close(*state);
        free(*state);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", mount_dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void test_parse_proc_self(void **state) {
        char *p = NULL;
        static const char hybrid[] = "12:memory:/user.slice\n1:name=systemd:/x\n0::/system.slice/cgwatch.service\n";
        assert_int_equal(cgroup_parse_proc_self(hybrid, strlen(hybrid), &p), 0);
        assert_string_equal(p, "system.slice/cgwatch.service");
        free(p);
        assert_int_equal(cgroup_parse_proc_self("0::/\n", 5, &p), 0);
        assert_string_equal(p, "");
        free(p);
        /* No trailing newline, and len shorter than the string: only len counts. */
        assert_int_equal(cgroup_parse_proc_self("0::/a/bXYZ", 7, &p), 0);
        assert_string_equal(p, "a/b");
        free(p);
        p = (char *) 0x1;
        assert_int_equal(cgroup_parse_proc_self("12:memory:/x\n", 13, &p), -ENOENT);
        assert_ptr_equal(p, (char *) 0x1); /* untouched on failure */
        assert_int_equal(cgroup_parse_proc_self("", 0, &p), -ENOENT);
        assert_int_equal(cgroup_parse_proc_self("0:", 2, &p), -ENOENT);
}

static void test_path_join(void **state) {
        char *p;
        p = cgroup_path_join("a/b", "c");
        assert_string_equal(p, "a/b/c");
        free(p);
        p = cgroup_path_join("", "c");
        assert_string_equal(p, "c");
        free(p);
        p = cgroup_path_join("a", "");
        assert_string_equal(p, "a");
        free(p);
}

static void test_controllers(void **state) {
        CgroupRoot *r = *state;
        assert_int_equal(cgroup_has_controller(r, "", "memory"), 1);
        assert_int_equal(cgroup_has_controller(r, "svc", "memory"), 1);
        assert_int_equal(cgroup_has_controller(r, "svc/dyno", "memory"), 0); /* "memory" is not a word there */
        assert_int_equal(cgroup_has_controller(r, "svc", "mem"), 0);         /* whole words only */
        assert_int_equal(cgroup_has_controller(r, "nope", "memory"), -ENOENT);

        /* Already enabled: nothing is written. */
        static const char *const want[] = {"memory", "pids", "cpu", NULL};
        assert_int_equal(cgroup_enable_controllers(r, "svc/dyno", want, want), 0);
        assert_string_equal(slurp("svc/dyno/cgroup.subtree_control"), "memory pids cpu\n");
        /* Missing ones are written one at a time, each from offset 0 ("+cpu" last; a plain file
         * keeps the tail of the longer "+memory" write, the kernel would parse each write). */
        assert_int_equal(cgroup_enable_controllers(r, "svc", want, want), 0);
        assert_memory_equal(slurp("svc/cgroup.subtree_control"), "+cpusry", 7);
}

static void test_values(void **state) {
        CgroupRoot *r = *state;
        uint64_t v = 0;

        assert_int_equal(cgroup_read_u64(r, "svc/dyno", "memory.current", &v), 0);
        assert_int_equal(v, 52428800);
        assert_int_equal(cgroup_read_u64(r, "svc/dyno", "memory.high", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(cgroup_read_u64(r, "svc/dyno", "memory.peak", &v), -ENOENT);

        assert_int_equal(cgroup_write_u64(r, "svc/dyno", "memory.high", 134217728), 0);
        assert_string_equal(slurp("svc/dyno/memory.high"), "134217728");
        write_file("svc/dyno/memory.high", "");
        assert_int_equal(cgroup_write_u64(r, "svc/dyno", "memory.high", UINT64_MAX), 0);
        assert_string_equal(slurp("svc/dyno/memory.high"), "max");

        assert_int_equal(cgroup_is_populated(r, "svc"), 1);
        assert_int_equal(cgroup_is_populated(r, "svc/dyno"), 0);
        assert_int_equal(cgroup_is_populated(r, "gone"), -ENOENT);
}

static void test_create_existing(void **state) {
        CgroupRoot *r = *state;
        write_file("svc/dyno/memory.high", "");
        write_file("svc/dyno/pids.max", "");
        /* An existing node is reused and its limits (re)written. */
        assert_int_equal(cgroup_create(r, "svc/dyno", 64 * 1024 * 1024, 32), 0);
        assert_string_equal(slurp("svc/dyno/memory.high"), "67108864");
        assert_string_equal(slurp("svc/dyno/pids.max"), "32");
        /* On a plain directory tree the kernel's files do not appear by themselves. */
        assert_int_equal(cgroup_create(r, "svc/new", 1024, UINT64_MAX), -ENOENT);
        assert_int_equal(cgroup_create(r, "missing/parent/x", 1024, UINT64_MAX), -ENOENT);
}

static void test_read_fd(void **state) {
        CgroupRoot *r = *state;
        char small[8];
        int fd = cgroup_open_file(r, "svc/dyno", "memory.current", O_RDONLY);
        assert_true(fd >= 0);
        /* A file larger than the buffer is refused, never cut ("52428800\n" is 9 bytes); one
         * that fits is NUL-terminated and re-readable from offset 0. */
        assert_int_equal(cgroup_read_fd(fd, small, sizeof small), -EFBIG);
        char fits[10];
        assert_int_equal(cgroup_read_fd(fd, fits, sizeof fits), 9);
        assert_string_equal(fits, "52428800\n");
        assert_int_equal(cgroup_read_fd(fd, fits, sizeof fits), 9);
        assert_int_equal(cgroup_read_fd(fd, small, sizeof small), -EFBIG);
        assert_int_equal(cgroup_read_fd(fd, small, 0), -EINVAL);
        close(fd);
}

/* Kernel files from a fake tree, truncated and oversized, through the readers the daemon uses
 * (cgroup_read_u64; cgroup_read_file into the daemon's buffer sizes, then the parser): every one
 * is an error, never a wrong figure. */
static void test_hostile_kernel_files(void **state) {
        CgroupRoot *r = *state;
        char buf[8192], *big;
        MemoryStat st;
        MemoryEvents ev;
        MemoryPressure mp;
        uint64_t v = 7;

        /* memory.current: empty, cut, garbage, overflowing, oversized */
        static const struct {
                const char *content;
                int error;
        } current[] = {
                {"", -EINVAL},
                {"\n", -EINVAL},
                {"52428800 1\n", -EINVAL},
                {"-1\n", -EINVAL},
                {"0x10\n", -EINVAL},
                {"ma", -EINVAL},
                {"18446744073709551616\n", -ERANGE},
                {"99999999999999999999999999999999\n", -ERANGE},
                {"11111111111111111111111111111111111111111111111111111111111111111111\n", -EFBIG},
        };
        for (size_t i = 0; i < sizeof current / sizeof current[0]; i++) {
                write_file("svc/dyno/memory.current", current[i].content);
                v = 7;
                assert_int_equal(cgroup_read_u64(r, "svc/dyno", "memory.current", &v), current[i].error);
                assert_int_equal(v, 7); /* untouched */
        }

        /* memory.stat: cut before the required "file" line, cut mid-key, empty, oversized */
        write_file("svc/dyno/memory.stat", "anon 1048576\nfi");
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.stat", buf, sizeof buf), 0);
        assert_int_equal(memory_stat_parse(buf, strlen(buf), &st), -EINVAL);
        write_file("svc/dyno/memory.stat", "anon 1048576\nfile ");
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.stat", buf, sizeof buf), 0);
        assert_int_equal(memory_stat_parse(buf, strlen(buf), &st), -EINVAL);
        write_file("svc/dyno/memory.stat", "");
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.stat", buf, sizeof buf), 0);
        assert_int_equal(memory_stat_parse(buf, strlen(buf), &st), -EINVAL);
        /* 64 KiB: a kernel with many more keys than today's; the tail ("anon") must not be lost
         * silently, so the read fails as a whole. */
        big = malloc(65536 + 64);
        assert_non_null(big);
        size_t n = 0;
        while (n < 65536)
                n += (size_t) sprintf(big + n, "future_key_%zu 1\n", n);
        strcpy(big + n, "anon 1\nfile 2\n");
        write_file("svc/dyno/memory.stat", big);
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.stat", buf, sizeof buf), -EFBIG);
        /* exactly what fits (sizeof buf - 1 bytes) still reads and parses */
        memset(big, 0, 65536 + 64);
        strcpy(big, "anon 1\nfile 2\n");
        n = strlen(big);
        while (n < sizeof buf - 1 - 8)
                n += (size_t) sprintf(big + n, "pad %zu\n", n % 10);
        while (n < sizeof buf - 1)
                big[n++] = '\n';
        big[n] = 0;
        write_file("svc/dyno/memory.stat", big);
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.stat", buf, sizeof buf), 0);
        assert_int_equal(strlen(buf), sizeof buf - 1);
        assert_int_equal(memory_stat_parse(buf, strlen(buf), &st), 0);
        assert_int_equal(st.anon, 1);
        assert_int_equal(st.file, 2);
        free(big);

        /* memory.events (the monitor reads it into 512 bytes): cut before oom_kill, oversized */
        write_file("svc/dyno/memory.events", "low 0\nhigh 5\nmax 0\noom 0\noom_k");
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.events", buf, 512), 0);
        assert_int_equal(memory_events_parse(buf, strlen(buf), &ev), -EINVAL);
        write_file("svc/dyno/memory.events", "low 0\nhigh 5\nmax 0\noom 0\noom_kill 184467440737095516150\n");
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.events", buf, 512), 0);
        assert_int_equal(memory_events_parse(buf, strlen(buf), &ev), -ERANGE);
        char events[1024];
        n = (size_t) sprintf(events, "low 0\nhigh 5\nmax 0\noom 0\n");
        while (n < 600)
                n += (size_t) sprintf(events + n, "x%zu 0\n", n);
        strcpy(events + n, "oom_kill 1\n");
        write_file("svc/dyno/memory.events", events);
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.events", buf, 512), -EFBIG);

        /* memory.pressure: cut in the "some" line, missing it, oversized */
        write_file("svc/dyno/memory.pressure", "some avg10=0.00 avg60=");
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.pressure", buf, 512), 0);
        assert_int_equal(memory_pressure_parse(buf, strlen(buf), &mp), -EINVAL);
        write_file("svc/dyno/memory.pressure", "full avg10=1.00 avg60=0.00 avg300=0.00 total=5\n");
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.pressure", buf, 512), 0);
        assert_int_equal(memory_pressure_parse(buf, strlen(buf), &mp), -EINVAL);
        memset(events, ' ', 1000);
        events[1000] = 0;
        write_file("svc/dyno/memory.pressure", events);
        assert_int_equal(cgroup_read_file(r, "svc/dyno", "memory.pressure", buf, 512), -EFBIG);
}

static void test_remove_recursive(void **state) {
        CgroupRoot *r = *state;
        char p[PATH_MAX * 2];
        assert_int_equal(cgroup_remove_recursive(r, "empty"), 0);
        snprintf(p, sizeof p, "%s/empty", mount_dir);
        assert_int_equal(access(p, F_OK), -1);
        assert_int_equal(cgroup_remove_recursive(r, "empty"), 0); /* gone is fine */
        assert_int_equal(cgroup_remove(r, "never-existed"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_proc_self),
                cmocka_unit_test(test_path_join),
                cmocka_unit_test_setup_teardown(test_controllers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_values, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_existing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_fd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile_kernel_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_recursive, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
