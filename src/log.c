/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool use_journal;
/* stderr is the journal's stream, but its native socket failed: text with a "<N>" level prefix
 * (which journald's stream reads as the priority) rather than a timestamp. */
static bool stderr_stream_prefix;

/* $JOURNAL_STREAM is "dev:ino" of the stream systemd connected our stderr to; if stderr is still
 * that stream, structured journal entries are better than text (they keep CODE_LINE etc.). */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

/* Whether journald's native socket takes datagrams. sd_journal_send() cannot tell: it returns
 * success when the socket is missing (ENOENT), so that programs run without a journal quietly. */
static bool journal_socket_reachable(int *ret_error) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket"};
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                r = errno;
        if (fd >= 0)
                close(fd);
        *ret_error = r;
        return r == 0;
}

void log_open(void) {
        const char *l = getenv("CGWATCH_LOG_LEVEL");
        int error;

        use_journal = stderr_is_journal();
        if (use_journal && !journal_socket_reachable(&error))
                log_journal_failed(-error);
        if (l && streq(l, "debug"))
                max_level = LOG_DEBUG;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

bool log_to_journal(void) {
        return use_journal;
}

void log_journal_failed(int error) {
        if (!use_journal)
                return;
        use_journal = false;
        stderr_stream_prefix = true;
        fprintf(stderr, "<%d>The journal's socket is unavailable (%s): logging as text on stderr from now on.\n",
                LOG_WARNING, strerror(abs(error)));
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        char buf[2048];
        va_list ap;

        error = abs(error);
        if (level > max_level)
                return -error;

        if (error != 0)
                errno = error; /* so that %m works */
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        if (use_journal) {
                char code_line[32];
                snprintf(code_line, sizeof code_line, "CODE_LINE=%d", line);
                int r = sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level, "CODE_FILE=%s", file, "%s", code_line,
                                        "CODE_FUNC=%s", func, error ? "ERRNO=%i" : NULL, error, NULL);
                if (r >= 0)
                        return -error;
                log_journal_failed(r);
        }
        if (stderr_stream_prefix)
                fprintf(stderr, "<%d>%s\n", level, buf);
        else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                fprintf(stderr, "[%5lld.%06ld] %s: %s\n", (long long) ts.tv_sec, ts.tv_nsec / 1000,
                        program_invocation_short_name, buf);
        }
        return -error;
}
