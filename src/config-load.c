/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The imperative shell of the config: reading the main file and its drop-ins (refusing files that
 * someone other than root could have written, since the daemon runs their ExecStart= lines), and
 * the default ConfigSystemOps (user and group database, the programs on disk). Everything else in
 * config*.c is pure; the fuzzer does not link this file. */

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "parse-util.h"

/* A config file is a few KiB; refuse to slurp something that is clearly not one. */
#define CONFIG_FILE_MAX (16U * 1024U * 1024U)

/* ---- The default ConfigSystemOps ---- */

/* getpwnam(3): NULL with errno 0, ENOENT, ESRCH, EBADF or EPERM all mean "not found". */
static int nss_error(int e) {
        if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
                return -ESRCH;
        return -e;
}

/* config-parse.c has already accepted the value: a number, or a name not starting with a digit. */
static int default_lookup_user(const char *user, void *userdata) {
        struct passwd *pw;
        uint64_t id;

        errno = 0;
        if (parse_uint64(user, &id) >= 0)
                pw = id < UINT32_MAX ? getpwuid((uid_t) id) : NULL;
        else
                pw = getpwnam(user);
        return pw ? 0 : nss_error(errno);
}

static int default_lookup_group(const char *group, void *userdata) {
        struct group *gr;
        uint64_t id;

        errno = 0;
        if (parse_uint64(group, &id) >= 0)
                gr = id < UINT32_MAX ? getgrgid((gid_t) id) : NULL;
        else
                gr = getgrnam(group);
        return gr ? 0 : nss_error(errno);
}

static int default_check_executable(const char *path, void *userdata) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -ENOEXEC;
        /* With the effective ids, as execve() checks them; EACCES also on a noexec mount. */
        if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
                return -errno;
        return 0;
}

static int default_check_directory(const char *path, void *userdata) {
        struct stat st;

        if (stat(path, &st) < 0)
                return errno == ENOTDIR ? -ENOENT : -errno; /* ENOTDIR here: a file on the way */
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
                return -errno;
        return 0;
}

const ConfigSystemOps config_system_ops_default = {
        .lookup_user = default_lookup_user,
        .lookup_group = default_lookup_group,
        .check_executable = default_check_executable,
        .check_directory = default_check_directory,
};

/* ---- Loading ---- */

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* "PATH: what: strerror". Returns error (negative errno), or -ENOMEM. */
static int io_error(char **ret_error, const char *path, int error, const char *what) {
        char *s;

        if (!ret_error)
                return error;
        errno = -error;
        if (asprintf(&s, "%s: %s: %m", path, what) < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        *ret_error = s;
        return error;
}

/* Whoever can write a configuration decides what cgwatchd runs, and cgwatchd runs it with its own
 * credentials (as root, normally, before User= takes effect). So every file and the drop-in
 * directory must be writable by root (or the daemon's own user) alone. Checked on the opened fd:
 * what is read is what was checked. Returns 0, or -EPERM with *ret_error, or -ENOMEM. */
static int check_trusted(const char *path, const struct stat *st, bool directory, char **ret_error) {
        uid_t euid = geteuid();
        char why[96], as[32];
        mode_t mode = st->st_mode & 07777;
        char *s;

        if (mode & S_IWOTH)
                (void) snprintf(why, sizeof(why), "writable by others (mode %04o)", (unsigned) mode);
        else if ((mode & S_IWGRP) && st->st_gid != 0)
                (void) snprintf(why, sizeof(why), "writable by group %u (mode %04o)", (unsigned) st->st_gid,
                                (unsigned) mode);
        else if (st->st_uid != 0 && st->st_uid != euid)
                (void) snprintf(why, sizeof(why), "owned by uid %u (neither root nor cgwatchd's uid %u)",
                                (unsigned) st->st_uid, (unsigned) euid);
        else
                return 0;

        if (euid == 0)
                strcpy(as, "root");
        else
                (void) snprintf(as, sizeof(as), "uid %u", (unsigned) euid);

        if (!ret_error)
                return -EPERM;
        if (asprintf(&s,
                     directory ? "%s: refusing a drop-in directory %s: cgwatchd runs the ExecStart= commands of its "
                                 "files as %s"
                               : "%s: refusing a configuration file %s: cgwatchd runs its ExecStart= commands as %s",
                     path, why, as) < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        *ret_error = s;
        return -EPERM;
}

/* Reads an opened config file whole. Returns 0, -EISDIR, -EFBIG, -ENOMEM or another -errno. */
static int read_full_fd(int fd, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;

        for (;;) {
                ssize_t k;

                if (cap - n < 4096) {
                        char *m;

                        cap = MAX(cap * 2, (size_t) 16384);
                        m = realloc(buf, cap);
                        if (!m)
                                return -ENOMEM;
                        buf = m;
                }
                k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > CONFIG_FILE_MAX)
                        return -EFBIG;
        }

        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

/* Opens `name` relative to dir_fd (AT_FDCWD: `name` is the path), checks that it can be trusted,
 * reads and parses it; `path` names it in messages. missing_ok: a file that vanished is skipped. */
static int load_file(Config *c, int dir_fd, const char *name, const char *path, bool missing_ok, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t size = 0;
        int r;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT && missing_ok)
                return 0;
        if (fd < 0)
                return io_error(ret_error, path, -errno, "cannot read configuration file");
        if (fstat(fd, &st) < 0)
                return io_error(ret_error, path, -errno, "cannot read configuration file");
        if (S_ISDIR(st.st_mode))
                return io_error(ret_error, path, -EISDIR, "cannot read configuration file");
        r = check_trusted(path, &st, /* directory= */ false, ret_error);
        if (r < 0)
                return r;

        r = read_full_fd(fd, &text, &size);
        if (r < 0)
                return io_error(ret_error, path, r, "cannot read configuration file");
        return config_parse_buffer(c, text, size, path, ret_error);
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Lists d's "*.conf" (no dotfiles) by file name, sorted. */
static int list_dropins(DIR *d, char ***ret, size_t *ret_n) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        for (;;) {
                struct dirent *de;
                size_t len;
                char *p, **m;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                len = strlen(de->d_name);
                if (de->d_name[0] == '.' || len <= 5 || !streq(de->d_name + len - 5, ".conf"))
                        continue;

                m = reallocarray(l, n + 2, sizeof(char *));
                if (!m)
                        return -ENOMEM;
                l = m;
                p = strdup(de->d_name);
                if (!p)
                        return -ENOMEM;
                l[n++] = p;
                l[n] = NULL;
        }

        if (n > 0)
                qsort(l, n, sizeof(char *), cmp_strp);
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

/* Reads path.d/ *.conf into c. A missing directory is fine. */
static int load_dropins(Config *c, const char *path, char **ret_error) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;
        struct stat st;
        int r;

        if (asprintf(&dir, "%s.d", path) < 0)
                return -ENOMEM;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
                return 0;
        if (fd < 0)
                return io_error(ret_error, dir, -errno, "cannot read drop-in directory");
        if (fstat(fd, &st) < 0)
                return io_error(ret_error, dir, -errno, "cannot read drop-in directory");
        r = check_trusted(dir, &st, /* directory= */ true, ret_error);
        if (r < 0)
                return r;

        d = fdopendir(fd);
        if (!d)
                return io_error(ret_error, dir, -errno, "cannot read drop-in directory");
        fd = -EBADF; /* owned by d now */

        r = list_dropins(d, &names, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return io_error(ret_error, dir, r, "cannot read drop-in directory");

        /* A drop-in removed between listing and reading is simply gone. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", dir, names[i]) < 0)
                        return -ENOMEM;
                r = load_file(c, dirfd(d), names[i], p, /* missing_ok= */ true, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int config_load_with(const char *path, const ConfigSystemOps *ops, Config **ret, char **ret_error) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        if (!path || !ret)
                return -EINVAL;

        c = config_new();
        if (!c)
                return -ENOMEM;

        r = load_file(c, AT_FDCWD, path, path, /* missing_ok= */ false, ret_error);
        if (r < 0)
                return r;
        r = load_dropins(c, path, ret_error);
        if (r < 0)
                return r;

        r = config_validate(c, ret_error);
        if (r < 0)
                return r;
        r = config_check_system(c, ops ?: &config_system_ops_default, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, Config **ret, char **ret_error) {
        return config_load_with(path, NULL, ret, ret_error);
}
