/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgwatch-hostile: workers that misbehave on purpose, for tests/integration/test-hostile.sh.
 *
 *   cgwatch-hostile fork-bomb N       fork N children that each sleep; fork failures (TasksMax)
 *                                     are counted, not fatal; prints "forked=X refused=Y" and
 *                                     keeps trying every 10 ms until N are alive, forever
 *   cgwatch-hostile double-fork FILE  a grandchild in its own session (setsid) that ignores
 *                                     SIGTERM writes its PID to FILE; the main process exits 1
 *                                     once FILE.release exists, leaving it behind
 *   cgwatch-hostile close-stdout      closes stdout and stderr, then sleeps
 *   cgwatch-hostile alloc MB          touches MB MiB of anonymous memory, 1 MiB at a time, then
 *                                     sleeps (with a memory.max below MB the kernel OOM-kills it)
 *
 * Only libc. Exit codes: 2 on a usage error, 1 on a runtime error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

_Noreturn static void fork_bomb(long n) {
        long alive = 0, refused = 0, reported = -1;

        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGCHLD, SIG_IGN); /* children reap themselves */
        for (;;) {
                while (alive < n) {
                        pid_t p = fork();
                        if (p == 0) {
                                for (;;)
                                        pause();
                        }
                        if (p < 0) {
                                refused++;
                                break;
                        }
                        alive++;
                }
                if (alive != reported) {
                        printf("hostile: fork-bomb forked=%ld refused=%ld\n", alive, refused);
                        reported = alive;
                }
                if (alive >= n)
                        for (;;)
                                pause();
                sleep_ms(10);
        }
}

static int double_fork(const char *file) {
        pid_t p = fork();
        if (p < 0)
                return 1;
        if (p == 0) {
                (void) setsid();
                pid_t g = fork();
                if (g < 0)
                        _exit(1);
                if (g == 0) {
                        FILE *f;
                        signal(SIGTERM, SIG_IGN);
                        signal(SIGHUP, SIG_IGN);
                        f = fopen(file, "we");
                        if (!f)
                                _exit(1);
                        fprintf(f, "%d\n", (int) getpid());
                        fclose(f);
                        for (;;)
                                pause();
                }
                _exit(0);
        }
        (void) waitpid(p, NULL, 0);
        char release[4096];
        snprintf(release, sizeof release, "%s.release", file);
        while (access(release, F_OK) < 0)
                sleep_ms(50);
        return 1;
}

_Noreturn static void close_stdout(void) {
        close(STDOUT_FILENO);
        close(STDERR_FILENO);
        for (;;)
                pause();
}

static int alloc(long mb) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("hostile: alloc %ld MiB\n", mb);
        for (long i = 0; i < mb; i++) {
                char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        return 1;
                memset(p, 0x5a, 1 << 20);
        }
        printf("hostile: alloc done, %ld MiB resident\n", mb);
        for (;;)
                pause();
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "fork-bomb") == 0)
                fork_bomb(strtol(argv[2], NULL, 10));
        if (argc == 3 && strcmp(argv[1], "double-fork") == 0)
                return double_fork(argv[2]);
        if (argc == 2 && strcmp(argv[1], "close-stdout") == 0)
                close_stdout();
        if (argc == 3 && strcmp(argv[1], "alloc") == 0)
                return alloc(strtol(argv[2], NULL, 10));
        fprintf(stderr, "usage: cgwatch-hostile fork-bomb N | double-fork FILE | close-stdout | alloc MB\n");
        return 2;
}
