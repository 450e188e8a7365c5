/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* cgwatchctl top: the dyno and its workers, redrawn every -d seconds with plain ANSI escapes (no
 * curses: one screen of text, home-and-overwrite). On a terminal it reads keys: q quits, space
 * redraws now, n m p g t r R a pick the sort order (name, memory, % of budget, growth, time to budget,
 * recycles, restarts, age; src/top-sort.c), as systemd-cgtop's keys do, and the same key again
 * reverses it; a line under the header lists the keys. Without a terminal, or with -b, it prints frames one
 * after another: -n N of them (default: one without -b, until interrupted with -b); --json prints
 * each frame as one JSON line. */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cgwatch/cgwatch.h"
#include "ctl.h"
#include "parse-util.h"
#include "top-sort.h"

static usec_t arg_delay = USEC_PER_SEC;
static bool arg_batch;
static uint64_t arg_iterations; /* 0: see the header comment */
static TopSort arg_sort = {.order = TOP_ORDER_MEMORY};

typedef struct TopFrame {
        json_object *dyno;
        TopRow *rows;
        size_t n;
        uint64_t now_realtime;
} TopFrame;

static volatile sig_atomic_t got_quit, got_winch;

static void on_signal(int sig) {
        if (sig == SIGWINCH)
                got_winch = 1;
        else
                got_quit = 1;
}

static uint64_t now_realtime(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void frame_done(TopFrame *f) {
        for (size_t i = 0; i < f->n; i++)
                json_object_put(f->rows[i].props);
        free(f->rows);
        json_object_put(f->dyno);
        *f = (TopFrame){};
}

/* One frame: the Manager's properties, ListWorkers, and every worker's properties. */
static int frame_fetch(Ctl *ctl, TopFrame *ret) {
        TopFrame f = {.now_realtime = now_realtime()};
        CtlWorker *w = NULL;
        size_t n = 0;
        int r;

        r = ctl_get_dyno(ctl, &f.dyno);
        if (r != 0)
                return r;
        r = ctl_list_workers(ctl, &w, &n);
        if (r != 0) {
                frame_done(&f);
                return r;
        }
        f.rows = calloc(n ?: 1, sizeof *f.rows);
        if (!f.rows) {
                ctl_workers_free(w, n);
                frame_done(&f);
                return ctl_fail(-ENOMEM, NULL, "read the workers");
        }
        for (size_t i = 0; i < n; i++) {
                TopRow *row = &f.rows[f.n];
                json_object *p;
                uint64_t start;

                /* A worker removed by a reload since ListWorkers: skip it. */
                if (ctl_get_worker(ctl, w[i].path, &p) != 0)
                        continue;
                f.n++;
                row->props = p;
                row->name = ctl_json_str(p, "Name");
                row->state = ctl_json_str(p, "State");
                row->last_reason = ctl_json_str(p, "LastRecycleReason");
                row->pid = ctl_json_u64(p, "MainPID");
                row->current = ctl_json_u64(p, "MemoryCurrent");
                row->budget = ctl_json_u64(p, "MemoryBudget");
                row->anon = ctl_json_u64(p, "MemoryAnon");
                row->file = ctl_json_u64(p, "MemoryFile");
                row->growth = ctl_json_i64(p, "GrowthRate");
                /* A daemon without the property: unknown, as "never" is. */
                row->ttb = json_object_object_get_ex(p, "TimeToBudget", NULL) ? ctl_json_u64(p, "TimeToBudget")
                                                                              : USEC_INFINITY;
                row->recycles = ctl_json_u64(p, "Recycles");
                row->restarts = ctl_json_u64(p, "Restarts");
                start = ctl_json_u64(p, "StartTimestamp");
                row->age_usec = start > 0 && f.now_realtime > start ? f.now_realtime - start : 0;
        }
        ctl_workers_free(w, n);
        top_sort(f.rows, f.n, arg_sort);
        *ret = f;
        return 0;
}

/* Durations on screen (or "-" for none/never), in at most two units so that they fit their
 * 9-character columns: "59min 59s", "99h 59min", then whole hours ("180h"). */
static const char *format_secs(char buf[static FORMAT_DURATION_MAX], usec_t u, bool none) {
        usec_t unit = u >= 100 * USEC_PER_HOUR ? USEC_PER_HOUR : u >= USEC_PER_HOUR ? USEC_PER_MINUTE : USEC_PER_SEC;

        if (none || u == USEC_INFINITY)
                return "-";
        if (u < USEC_PER_SEC)
                return "0";
        return format_duration(buf, u / unit * unit);
}

#define BAR_WIDTH 10

static void frame_print_text(const TopFrame *f, FILE *out, bool keys) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX], d[FORMAT_BYTES_MAX], e[FORMAT_BYTES_MAX];
        uint64_t limit = ctl_json_u64(f->dyno, "DynoMemoryLimit"), cur = ctl_json_u64(f->dyno, "DynoMemoryCurrent");
        char stamp[32];
        time_t t = (time_t) (f->now_realtime / USEC_PER_SEC);
        struct tm tm;
        size_t running = 0;

        localtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
        for (size_t i = 0; i < f->n; i++)
                running += streq(f->rows[i].state, "running");
        char delay[FORMAT_DURATION_MAX];
        fprintf(out, "cgwatch top - %s%s%s%s - %s - every %s - sorted by %s%s\n", ctl_arg.host ?: "",
                ctl_arg.host ? ": " : "", ctl_arg.dyno ? "dyno " : "", ctl_arg.dyno ?: "cgwatch.service", stamp,
                format_duration(delay, arg_delay), top_order_name(arg_sort.order),
                arg_sort.reverse ? ", reversed" : "");
        fprintf(out,
                "Dyno: limit %s, current %s, peak %s, headroom %s, recycle at %s; PSI some %.2f full %.2f "
                "(avg10)\n",
                format_bytes(a, limit), format_bytes(b, cur), format_bytes(c, ctl_json_u64(f->dyno, "DynoMemoryPeak")),
                format_bytes(d, limit > cur ? limit - cur : 0), format_bytes(e, ctl_json_u64(f->dyno, "DynoRecycleAt")),
                ctl_json_double(f->dyno, "DynoPressureSomeAvg10"), ctl_json_double(f->dyno, "DynoPressureFullAvg10"));
        fprintf(out, "Workers: %zu, %zu running\n", f->n, running);
        if (keys)
                fprintf(out, "Keys: n name, m memory, p percent, g growth, t ttb, r recycles, R restarts, a age "
                             "(again: reverse); space redraw; q quit\n");
        fputc('\n', out);
        fprintf(out, "%-16s %-8s %7s %-12s %4s %7s %7s %7s %7s %10s %9s %5s %-10s %4s %9s\n", "WORKER", "STATE", "PID",
                "MEMORY", "%", "USED", "BUDGET", "ANON", "FILE", "GROWTH", "TTB", "RECYC", "LAST", "RST", "AGE");
        for (size_t i = 0; i < f->n; i++) {
                const TopRow *r = &f->rows[i];
                char bar[BAR_WIDTH + 3], growth[FORMAT_BYTES_MAX + 8], ttb[FORMAT_DURATION_MAX],
                        age[FORMAT_DURATION_MAX], pid[16];
                unsigned fill = MIN(top_percent(r->current, r->budget) * BAR_WIDTH / 100, BAR_WIDTH);

                bar[0] = '[';
                for (unsigned k = 0; k < BAR_WIDTH; k++)
                        bar[1 + k] = k < fill ? '#' : '.';
                bar[BAR_WIDTH + 1] = ']';
                bar[BAR_WIDTH + 2] = 0;
                if (r->growth == 0)
                        snprintf(growth, sizeof growth, "-");
                else
                        snprintf(growth, sizeof growth, "%c%s/s", r->growth < 0 ? '-' : '+',
                                 format_bytes(a, (uint64_t) (r->growth < 0 ? -r->growth : r->growth)));
                snprintf(pid, sizeof pid, r->pid > 0 ? "%" PRIu64 : "-", r->pid);
                fprintf(out,
                        "%-16s %-8s %7s %-12s %3u%% %7s %7s %7s %7s %10s %9s %5" PRIu64 " %-10s %4" PRIu64 " %9s\n",
                        r->name, r->state, pid, bar, top_percent(r->current, r->budget), format_bytes(b, r->current),
                        format_bytes(c, r->budget), format_bytes(d, r->anon), format_bytes(e, r->file), growth,
                        format_secs(ttb, r->ttb, false), r->recycles, *r->last_reason ? r->last_reason : "-",
                        r->restarts, format_secs(age, r->age_usec, r->age_usec == 0));
        }
}

static void frame_print_json(const TopFrame *f) {
        json_object *root = json_object_new_object(), *arr = json_object_new_array();
        json_object *dyno = json_object_get(f->dyno);
        uint64_t limit = ctl_json_u64(f->dyno, "DynoMemoryLimit"), cur = ctl_json_u64(f->dyno, "DynoMemoryCurrent");

        json_object_object_add(dyno, "Headroom", json_object_new_uint64(limit > cur ? limit - cur : 0));
        json_object_object_add(root, "time_usec", json_object_new_uint64(f->now_realtime));
        json_object_object_add(root, "dyno", dyno);
        for (size_t i = 0; i < f->n; i++)
                json_object_array_add(arr, json_object_get(f->rows[i].props));
        json_object_object_add(root, "workers", arr);
        ctl_json_print(root, /* one_line= */ true);
}

/* Batch: frames one after another on plain stdout. */
static int top_batch(Ctl *ctl) {
        uint64_t left = arg_iterations ?: (arg_batch ? UINT64_MAX : 1);

        while (left-- > 0 && !got_quit) {
                TopFrame f;
                int r = frame_fetch(ctl, &f);
                if (r != 0)
                        return r;
                if (ctl_arg.json)
                        frame_print_json(&f);
                else
                        frame_print_text(&f, stdout, /* keys= */ false);
                frame_done(&f);
                fflush(stdout);
                if (left > 0 && !got_quit) {
                        if (!ctl_arg.json)
                                printf("\n");
                        struct timespec ts = {(time_t) (arg_delay / USEC_PER_SEC),
                                              (long) (arg_delay % USEC_PER_SEC) * 1000};
                        (void) nanosleep(&ts, NULL);
                }
        }
        return 0;
}

/* A frame as the terminal shows it: cut to its width and height, cleared to the end of each line
 * and below, drawn from the top-left corner; keys: with the line of keys (they are read). */
static void frame_draw(const TopFrame *f, bool keys) {
        struct winsize ws = {};
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *mem = open_memstream(&text, &size);
        unsigned cols = 80, rows = 24, line = 0;

        if (!mem)
                return;
        frame_print_text(f, mem, keys);
        fclose(mem);
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
                cols = ws.ws_col;
                rows = ws.ws_row;
        }
        fputs("\033[H", stdout);
        for (char *p = text, *nl; p && *p && line < rows; p = nl ? nl + 1 : NULL, line++) {
                nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                fwrite(p, 1, MIN(len, (size_t) cols), stdout);
                fputs("\033[K", stdout);
                if (line + 1 < rows)
                        fputs("\r\n", stdout);
        }
        fputs("\033[J", stdout);
        fflush(stdout);
}

static int top_interactive(Ctl *ctl) {
        struct termios saved, raw;
        bool keys = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
        int ret = 0;

        if (keys) {
                raw = saved;
                raw.c_lflag &= ~(tcflag_t) (ICANON | ECHO);
                raw.c_cc[VMIN] = 1;
                raw.c_cc[VTIME] = 0;
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
        fputs("\033[?1049h\033[?25l", stdout); /* the alternate screen, no cursor */
        while (!got_quit) {
                TopFrame f;
                struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
                usec_t until;
                int r = frame_fetch(ctl, &f);

                if (r != 0) {
                        ret = r;
                        break;
                }
                frame_draw(&f, keys);
                frame_done(&f);

                until = now_realtime() + arg_delay;
                for (;;) {
                        uint64_t now = now_realtime();
                        char c;
                        int n;

                        if (got_quit || got_winch || now >= until)
                                break;
                        n = poll(&p, keys ? 1 : 0, (int) ((until - now + 999) / 1000));
                        if (n <= 0 || read(STDIN_FILENO, &c, 1) != 1)
                                continue;
                        if (c == 'q' || c == 'Q') {
                                got_quit = 1;
                                break;
                        }
                        if (c == ' ')
                                break;
                        /* A sort key; the one in force again turns it around. */
                        TopOrder o = top_order_from_key(c);
                        if (o == arg_sort.order)
                                arg_sort.reverse = !arg_sort.reverse;
                        else if (o != _TOP_ORDER_INVALID)
                                arg_sort = (TopSort){.order = o};
                        break;
                }
                got_winch = 0;
        }
        fputs("\033[?25h\033[?1049l", stdout);
        fflush(stdout);
        if (keys)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        return ret;
}

static int run_top(Ctl *ctl, int argc, char *argv[]) {
        struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll() and sleeps wake */

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGWINCH, &sa, NULL);
        if (arg_batch || ctl_arg.json || arg_iterations > 0 || !isatty(STDOUT_FILENO))
                return top_batch(ctl);
        return top_interactive(ctl);
}

enum { ARG_ORDER = 0x200 };
static const struct option top_options[] = {
        {"delay", required_argument, NULL, 'd'},
        {"batch", no_argument, NULL, 'b'},
        {"iterations", required_argument, NULL, 'n'},
        {"order", required_argument, NULL, ARG_ORDER},
        {},
};

static int parse_top_option(int c, const char *arg) {
        switch (c) {
        case 'd':
                if (parse_duration(arg, &arg_delay) < 0 || arg_delay < 100 * USEC_PER_MSEC ||
                    arg_delay == USEC_INFINITY) {
                        fprintf(stderr, "Invalid delay '%s' (e.g. 1, 0.5s, 2s; at least 100ms).\n", arg);
                        return CTL_EXIT_USAGE;
                }
                return 0;
        case 'b':
                arg_batch = true;
                return 0;
        case 'n':
                if (parse_uint64(arg, &arg_iterations) < 0 || arg_iterations == 0) {
                        fprintf(stderr, "Invalid number of iterations '%s'.\n", arg);
                        return CTL_EXIT_USAGE;
                }
                return 0;
        case ARG_ORDER: {
                /* A leading '-' reverses the key. */
                bool reverse = arg[0] == '-';
                TopOrder o = top_order_from_name(arg + reverse);
                if (o == _TOP_ORDER_INVALID) {
                        fprintf(stderr,
                                "Invalid order '%s' (name, memory, percent, growth, ttb, recycles, restarts, age; "
                                "-KEY reverses).\n",
                                arg);
                        return CTL_EXIT_USAGE;
                }
                arg_sort = (TopSort){.order = o, .reverse = reverse};
                return 0;
        }
        default:
                return CTL_EXIT_USAGE;
        }
}

const CtlCommand ctl_command_top = {
        .name = "top",
        .help = "A live view of the dyno and its workers (-d SECS, -b, -n N)",
        .flags = CTL_READ,
        .options = top_options,
        .short_options = "d:bn:",
        .parse_option = parse_top_option,
        .run = run_top,
};
