/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes config_parse_buffer() + config_validate() + config_check_system() (with pure fake ops,
 * never the system's) + config_dump().
 *
 * As a libFuzzer target:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I src -I include \
 *         src/parse-util.c src/config-ini.c src/config-parse.c src/config.c tests/fuzz/fuzz-config.c
 *   ./a.out -dict=... tests/fuzz/corpus/config/
 *
 * With -DFUZZ_STANDALONE it is a plain program that replays files (or every file in the
 * directories) given on the command line through the same entry point, so that a meson test can
 * run the corpus under any compiler and sanitizer without clang. Exit status 0 means every input
 * went through without a crash or a broken invariant.
 *
 * Besides "no crash, no leak, no UB", the target checks what the contract promises:
 *   - an accepted config keeps the promises of config_validate() (check_accepted());
 *   - on -EINVAL, the message starts with "fuzz.conf:" and a line number, and is one line of
 *     printable text (hostile bytes are escaped in messages);
 *   - on success, nothing is returned in ret_error;
 *   - parsing the same text twice into one Config (like a drop-in repeating the main file) gives
 *     the same verdict. */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fake system checks: pure and deterministic, so that every message path is reached. The verdict
 * depends on the string's last byte. */
static int fake_verdict(const char *s) {
        static const int verdicts[] = {0, 0, 0, -ESRCH, -ENOENT, -ENOTDIR, -EISDIR, -ENOEXEC, -EACCES, -EIO, -ELOOP};
        size_t n = strlen(s);

        return verdicts[(n > 0 ? (unsigned char) s[n - 1] : 0) % (sizeof(verdicts) / sizeof(verdicts[0]))];
}

static int fake_lookup(const char *name, void *userdata) {
        return fake_verdict(name);
}

static int fake_check_executable(const char *path, void *userdata) {
        if (path[0] != '/') /* the parser promises absolute paths */
                abort();
        return fake_verdict(path);
}

static int fake_check_directory(const char *path, void *userdata) {
        if (path[0] != '/')
                abort();
        return fake_verdict(path);
}

static const ConfigSystemOps fake_ops = {
        .lookup_user = fake_lookup,
        .lookup_group = fake_lookup,
        .check_executable = fake_check_executable,
        .check_directory = fake_check_directory,
};

/* What config_validate() promises about an accepted config, checked independently: the
 * supervisor links end at the dyno within n steps, and no budget is above an absolute
 * MemoryLimit= or above an enclosing supervisor's budget of the same kind (both absolute, or
 * both percentages). */
static void check_accepted(const Config *c) {
        const ConfigSize *ml = &c->dyno.memory_limit;

        for (size_t i = 0; i < c->n_supervisors + c->n_workers; i++) {
                bool is_sup = i < c->n_supervisors;
                const ConfigSize *b =
                        is_sup ? &c->supervisors[i].memory_budget : &c->workers[i - c->n_supervisors].memory_budget;
                const char *up = is_sup ? c->supervisors[i].parent : c->workers[i - c->n_supervisors].supervisor;
                size_t steps = 0;

                if (b->set && !b->percent && ml->set && b->value > ml->value)
                        abort();
                for (const SupervisorConfig *s = config_find_supervisor(c, up); s;
                     s = config_find_supervisor(c, s->parent)) {
                        if (++steps > c->n_supervisors)
                                abort();
                        if (b->set && s->memory_budget.set && b->percent == s->memory_budget.percent &&
                            b->value > s->memory_budget.value)
                                abort();
                }
                if (up && steps == 0)
                        abort();
        }
}

static FILE *devnull(void) {
        static FILE *f = NULL;

        if (!f)
                f = fopen("/dev/null", "we");
        if (!f)
                abort();
        return f;
}

static void check_message(const char *err) {
        const char *p;

        if (!err || strncmp(err, "fuzz.conf:", 10) != 0)
                abort();
        p = err + 10;
        if (*p < '1' || *p > '9') /* line numbers are 1-based */
                abort();
        for (; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        int r, r2;

        /* Keep single runs fast: the parser is linear, but validation is quadratic in names. */
        if (size > 64 * 1024)
                return 0;

        c = config_new();
        if (!c)
                return 0;

        r = config_parse_buffer(c, (const char *) data, size, "fuzz.conf", &err);
        if (r == -ENOMEM)
                return 0;
        if (r < 0) {
                if (r != -EINVAL)
                        abort();
                check_message(err);
                return 0;
        }
        if (err)
                abort();

        r = config_validate(c, &err);
        if (r < 0) {
                if (r != -EINVAL)
                        abort();
                check_message(err);
        } else if (err)
                abort();
        else {
                int k;

                check_accepted(c);
                k = config_check_system(c, &fake_ops, &err);

                if (k == -ENOMEM)
                        return 0;
                if (k < 0) {
                        if (k != -EINVAL)
                                abort();
                        check_message(err);
                        err = mfree(err);
                } else if (err)
                        abort();
        }

        config_dump(c, UINT64_C(1) << 30, devnull());
        config_dump(c, SIZE_UNSET, devnull());
        for (size_t i = 0; i < c->n_workers; i++)
                (void) config_size_resolve(&c->workers[i].memory_budget, UINT64_MAX - 1);

        /* Parsing the same text again on top must not change the verdict: keys override with the
         * same values, Environment= replaces same-named entries, sections merge. */
        r2 = config_parse_buffer(c, (const char *) data, size, "fuzz.conf", &err2);
        if (r2 == -ENOMEM)
                return 0;
        if (r2 < 0)
                abort();
        free(err2);
        err2 = NULL;
        r2 = config_validate(c, &err2);
        if ((r < 0) != (r2 < 0))
                abort();

        return 0;
}

#ifdef FUZZ_STANDALONE
static int replay_file(const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;
        FILE *f = fopen(path, "re");

        if (!f) {
                fprintf(stderr, "%s: %m\n", path);
                return -errno;
        }
        for (;;) {
                if (cap - n < 4096) {
                        char *m = realloc(buf, cap = cap * 2 + 4096);

                        if (!m) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        buf = m;
                }
                size_t k = fread(buf + n, 1, cap - n, f);
                n += k;
                if (k == 0)
                        break;
        }
        fclose(f);

        printf("%s (%zu bytes)\n", path, n);
        (void) LLVMFuzzerTestOneInput((const uint8_t *) buf, n);
        return 0;
}

static int replay(const char *path) {
        struct dirent **entries = NULL;
        struct stat st;
        int n, r = 0;

        if (stat(path, &st) < 0) {
                fprintf(stderr, "%s: %m\n", path);
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return replay_file(path);

        n = scandir(path, &entries, NULL, alphasort);
        if (n < 0) {
                fprintf(stderr, "%s: %m\n", path);
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;

                if (entries[i]->d_name[0] != '.' && asprintf(&p, "%s/%s", path, entries[i]->d_name) >= 0 &&
                    stat(p, &st) >= 0 && S_ISREG(st.st_mode)) {
                        int k = replay_file(p);
                        if (k < 0 && r == 0)
                                r = k;
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

int main(int argc, char *argv[]) {
        int r = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s FILE|DIR...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++)
                if (replay(argv[i]) < 0)
                        r = 1;
        return r;
}
#endif
