/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes every parser in cgroup-parse.h with the same input and checks their contracts, not just
 * that they do not crash:
 *  - the return value is 0, -EINVAL or -ERANGE;
 *  - on failure *ret is untouched;
 *  - on success the numbers make sense (percentages are finite and not negative), and
 *    memory_unreclaimable_bytes() stays within [0, memory.current].
 *
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target. Built with -DFUZZ_STANDALONE it is
 * a plain program that runs each file (or each file of each directory) named in argv through the
 * same entry point, so the corpus can be replayed by gcc builds under ASan in `make check`. The
 * input is copied into a heap block of exactly its size, so ASan catches any read past len. */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-parse.h"
#include "shared/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                                              \
        do {                                                                                     \
                if (!(expr)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                 \
                }                                                                                \
        } while (0)

static void check_return(int r) {
        CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
}

static void check_percent(double v) {
        CHECK(isfinite(v));
        CHECK(v >= 0);
}

static void fuzz_one(const char *buf, size_t len) {
        uint64_t value, sentinel;
        int r;

        {
                MemoryEvents e, s;

                memset(&e, 0xa5, sizeof(e));
                s = e;
                r = memory_events_parse(buf, len, &e);
                check_return(r);
                if (r < 0)
                        CHECK(memcmp(&e, &s, sizeof(e)) == 0);
        }

        {
                MemoryStat st, s;

                memset(&st, 0x5a, sizeof(st));
                s = st;
                r = memory_stat_parse(buf, len, &st);
                check_return(r);
                if (r < 0)
                        CHECK(memcmp(&st, &s, sizeof(st)) == 0);
                else {
                        /* Any memory.current with any stat: the result is clamped. */
                        static const uint64_t currents[] = {0, 1, 4096, 1ULL << 40, UINT64_MAX};

                        for (size_t i = 0; i < ELEMENTSOF(currents); i++)
                                CHECK(memory_unreclaimable_bytes(currents[i], &st) <= currents[i]);
                        CHECK(memory_unreclaimable_bytes(st.anon, &st) <= st.anon);
                }
        }

        {
                uint64_t total = 77, avail = 77;
                r = proc_meminfo_parse(buf, len, &total, &avail);
                check_return(r);
                if (r < 0)
                        CHECK(total == 77 && avail == 77);
                else
                        CHECK(total > 0 && avail <= total);
        }

        {
                MemoryPressure p, s;

                memset(&p, 0x77, sizeof(p));
                s = p;
                r = memory_pressure_parse(buf, len, &p);
                check_return(r);
                if (r < 0)
                        CHECK(memcmp(&p, &s, sizeof(p)) == 0);
                else {
                        check_percent(p.some.avg10);
                        check_percent(p.some.avg60);
                        check_percent(p.some.avg300);
                        check_percent(p.full.avg10);
                        check_percent(p.full.avg60);
                        check_percent(p.full.avg300);
                }
        }

        sentinel = value = UINT64_C(0x1234567890abcdef);
        r = cgroup_value_parse(buf, len, &value);
        check_return(r);
        if (r < 0)
                CHECK(value == sentinel);

        value = sentinel;
        r = cpu_stat_parse_usage(buf, len, &value);
        check_return(r);
        if (r < 0)
                CHECK(value == sentinel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf;

        /* libFuzzer already hands us an exact-size heap block, but the standalone replayer and
         * other drivers may not: copy so that a read past len is always out of bounds. */
        buf = calloc(1, size ? size : 1);
        if (!buf)
                return 0;
        if (size > 0)
                memcpy(buf, data, size);

        fuzz_one(buf, size);

        /* The same bytes cut short, as a read() interrupted mid-file would give them. */
        if (size > 1)
                fuzz_one(buf, size / 2);

        free(buf);
        return 0;
}

#ifdef FUZZ_STANDALONE
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0, allocated = 0;
        FILE *f;

        f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "Failed to open %s: %m\n", path);
                return -errno;
        }

        for (;;) {
                size_t n;

                if (size == allocated) {
                        uint8_t *p;

                        allocated = allocated ? allocated * 2 : 4096;
                        p = realloc(data, allocated);
                        if (!p) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        data = p;
                }

                n = fread(data + size, 1, allocated - size, f);
                size += n;
                if (n == 0)
                        break;
        }
        if (ferror(f)) {
                fprintf(stderr, "Failed to read %s\n", path);
                fclose(f);
                return -EIO;
        }
        fclose(f);

        (void) LLVMFuzzerTestOneInput(data, size);
        printf("%s: ok (%zu bytes)\n", path, size);
        return 0;
}

static int run_path(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0) {
                fprintf(stderr, "Failed to stat %s: %m\n", path);
                return -errno;
        }

        if (S_ISDIR(st.st_mode)) {
                struct dirent **names = NULL;
                int n, ret = 0;

                /* Sorted, so the replay order (and its output) is stable. */
                n = scandir(path, &names, NULL, alphasort);
                if (n < 0) {
                        fprintf(stderr, "Failed to list %s: %m\n", path);
                        return -errno;
                }
                for (int i = 0; i < n; i++) {
                        char *sub;
                        int r = 0;

                        if (names[i]->d_name[0] != '.') {
                                if (asprintf(&sub, "%s/%s", path, names[i]->d_name) < 0)
                                        r = -ENOMEM; /* sub is undefined then */
                                else {
                                        r = run_path(sub);
                                        free(sub);
                                }
                        }
                        if (r < 0 && ret == 0)
                                ret = r;
                        free(names[i]);
                }
                free(names);
                return ret;
        }

        return run_file(path);
}

int main(int argc, char *argv[]) {
        int ret = EXIT_SUCCESS;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s FILE|DIR...\n", argv[0]);
                return EXIT_FAILURE;
        }

        for (int i = 1; i < argc; i++)
                if (run_path(argv[i]) < 0)
                        ret = EXIT_FAILURE;

        return ret;
}
#endif
