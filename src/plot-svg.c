/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Memory over time as SVG (see plot-svg.h). */

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "plot-svg.h"

#define MIB         (1024.0 * 1024.0)
#define MARGIN_L    80.0
#define MARGIN_R    200.0
#define MARGIN_T    50.0
#define MARGIN_B    60.0
#define DYNO_COLOR  "#555555"
#define LIMIT_COLOR "#d62728"

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
                                      "#8c564b", "#e377c2", "#bcbd22", "#17becf"};

typedef struct Frame {
        double left, top, width, height; /* the plot area */
        usec_t t0, t1;
        double ymax_mib;
} Frame;

static double frame_x(const Frame *fr, usec_t t) {
        double span = (double) (fr->t1 - fr->t0);
        return fr->left + (t < fr->t0 ? 0.0 : (double) (t - fr->t0) / span * fr->width);
}

static double frame_y(const Frame *fr, uint64_t bytes) {
        double mib = (double) bytes / MIB;
        if (mib > fr->ymax_mib)
                mib = fr->ymax_mib;
        return fr->top + fr->height - mib / fr->ymax_mib * fr->height;
}

static void xml_escaped(FILE *f, const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&apos;", f);
                        break;
                default:
                        /* XML 1.0 forbids most control characters, even escaped. */
                        fputc((unsigned char) *s < 0x20 ? '?' : *s, f);
                }
}

static void span_add(usec_t t, usec_t *t0, usec_t *t1) {
        if (t < *t0)
                *t0 = t;
        if (t > *t1)
                *t1 = t;
}

static void view_extent(const HistoryView *v, usec_t *t0, usec_t *t1, uint64_t *ymax, bool with_events) {
        for (size_t i = 0; i < v->n_samples; i++) {
                const HistorySample *s = &v->samples[i];
                span_add(s->realtime_usec, t0, t1);
                *ymax = MAX(*ymax, s->memory_current_bytes);
                if (s->budget_bytes != UINT64_MAX)
                        *ymax = MAX(*ymax, s->budget_bytes);
        }
        for (size_t i = 0; with_events && i < v->n_events; i++) {
                span_add(v->events[i].realtime_usec, t0, t1);
                if (streq(v->events[i].type, "recycled"))
                        *ymax = MAX(*ymax, v->events[i].memory_bytes);
        }
}

/* 1, 2 or 5 times a power of ten, at least x (x > 0). */
static double nice_step(double x) {
        double p = 1.0;
        while (p * 10.0 <= x)
                p *= 10.0;
        while (p > x)
                p /= 10.0;
        return x <= p ? p : x <= 2 * p ? 2 * p : x <= 5 * p ? 5 * p : 10 * p;
}

static void polyline_begin(FILE *f, const char *class, const char *worker, const char *color, const char *dash) {
        fprintf(f, "<polyline class=\"%s\"", class);
        if (worker) {
                fputs(" data-worker=\"", f);
                xml_escaped(f, worker);
                fputc('"', f);
        }
        fprintf(f, " fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"", color, dash ? "1.2" : "1.8");
        if (dash)
                fprintf(f, " stroke-dasharray=\"%s\"", dash);
        fputs(" points=\"", f);
}

/* memory.current of every sample. */
static void draw_memory(FILE *f, const Frame *fr, const HistoryView *v, const char *class, const char *color) {
        if (v->n_samples == 0)
                return;
        polyline_begin(f, class, v->name[0] ? v->name : NULL, color, NULL);
        for (size_t i = 0; i < v->n_samples; i++)
                fprintf(f, "%s%.1f,%.1f", i ? " " : "", frame_x(fr, v->samples[i].realtime_usec),
                        frame_y(fr, v->samples[i].memory_current_bytes));
        fputs("\"/>\n", f);
}

/* The budget field as a step line: it changes only when someone sets it. Samples without one are
 * left out. */
static void draw_budget(FILE *f, const Frame *fr, const HistoryView *v, const char *class, const char *color,
                        const char *dash) {
        uint64_t prev = UINT64_MAX;
        bool any = false;

        for (size_t i = 0; i < v->n_samples; i++) {
                const HistorySample *s = &v->samples[i];
                double x = frame_x(fr, s->realtime_usec);
                if (s->budget_bytes == UINT64_MAX)
                        continue;
                if (!any) {
                        polyline_begin(f, class, v->name[0] ? v->name : NULL, color, dash);
                        fprintf(f, "%.1f,%.1f", x, frame_y(fr, s->budget_bytes));
                        any = true;
                } else {
                        if (s->budget_bytes != prev)
                                fprintf(f, " %.1f,%.1f", x, frame_y(fr, prev));
                        fprintf(f, " %.1f,%.1f", x, frame_y(fr, s->budget_bytes));
                }
                prev = s->budget_bytes;
        }
        if (any)
                fputs("\"/>\n", f);
}

static void draw_recycles(FILE *f, const Frame *fr, const HistoryView *v, const char *color) {
        for (size_t i = 0; i < v->n_events; i++) {
                const HistoryViewEvent *e = &v->events[i];
                if (!streq(e->type, "recycled"))
                        continue;
                double x = frame_x(fr, e->realtime_usec), y = frame_y(fr, e->memory_bytes);
                fputs("<g class=\"recycle\" data-worker=\"", f);
                xml_escaped(f, v->name);
                fputs("\" data-reason=\"", f);
                xml_escaped(f, e->reason);
                fprintf(f,
                        "\">"
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"0.8\" "
                        "stroke-dasharray=\"1 3\"/>"
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>"
                        "<text class=\"reason\" x=\"%.1f\" y=\"%.1f\" transform=\"rotate(90 %.1f %.1f)\" "
                        "font-size=\"10\" fill=\"%s\">",
                        x, fr->top, x, fr->top + fr->height, color, x, y, color, x + 2, fr->top + 2, x + 2, fr->top + 2,
                        color);
                xml_escaped(f, e->reason[0] ? e->reason : "recycled");
                fputs("</text></g>\n", f);
        }
}

static void draw_axes(FILE *f, const Frame *fr) {
        double bottom = fr->top + fr->height, right = fr->left + fr->width;
        static const usec_t steps_sec[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400};
        usec_t span = fr->t1 - fr->t0, step = steps_sec[ELEMENTSOF(steps_sec) - 1] * USEC_PER_SEC;

        for (size_t i = 0; i < ELEMENTSOF(steps_sec); i++)
                if (span / (steps_sec[i] * USEC_PER_SEC) <= 8) {
                        step = steps_sec[i] * USEC_PER_SEC;
                        break;
                }

        fputs("<g class=\"axis\" font-size=\"11\" fill=\"#333333\">\n", f);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999999\"/>\n",
                fr->left, fr->top, fr->width, fr->height);
        /* Memory: 0 to ymax in 1/2/5 steps, with a light grid. */
        double ystep = nice_step(fr->ymax_mib / 8.0);
        for (double v = 0.0; v <= fr->ymax_mib + ystep / 1000.0; v += ystep) {
                double y = fr->top + fr->height - v / fr->ymax_mib * fr->height;
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                        fr->left, y, right, y, fr->left - 6, y + 4, v);
        }
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">memory "
                "(MiB)</text>\n",
                fr->left - 55, fr->top + fr->height / 2, fr->left - 55, fr->top + fr->height / 2);
        /* Time: ticks at round wall-clock times, UTC. */
        for (usec_t t = (fr->t0 + step - 1) / step * step; t <= fr->t1; t += step) {
                time_t sec = (time_t) (t / USEC_PER_SEC);
                struct tm tm;
                char buf[16] = "?";
                double x = frame_x(fr, t);
                if (gmtime_r(&sec, &tm))
                        strftime(buf, sizeof buf, "%H:%M:%S", &tm);
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999999\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                        x, bottom, x, bottom + 5, x, bottom + 18, buf);
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time (UTC)</text>\n", fr->left + fr->width / 2,
                bottom + 42);
        fputs("</g>\n", f);
}

static double legend_row(FILE *f, double x, double y, const char *color, const char *dash, const char *text) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.8\"", x, y - 4,
                x + 24, y - 4, color);
        if (dash)
                fprintf(f, " stroke-dasharray=\"%s\"", dash);
        fprintf(f, "/><text x=\"%.1f\" y=\"%.1f\">", x + 30, y);
        xml_escaped(f, text);
        fputs("</text>\n", f);
        return y + 16;
}

static void draw_legend(FILE *f, const Frame *fr, const HistoryView *workers, size_t n, const HistoryView *dyno) {
        double x = fr->left + fr->width + 16, y = fr->top + 10;

        fputs("<g class=\"legend\" font-size=\"11\" fill=\"#333333\">\n", f);
        for (size_t i = 0; i < n; i++)
                y = legend_row(f, x, y, palette[i % ELEMENTSOF(palette)], NULL, workers[i].name);
        y = legend_row(f, x, y + 6, "#333333", "6 4", "budget (worker's colour)");
        if (dyno) {
                y = legend_row(f, x, y, DYNO_COLOR, NULL, "dyno memory.current");
                y = legend_row(f, x, y, LIMIT_COLOR, "2 3", "dyno MemoryLimit");
        }
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#333333\"/><text x=\"%.1f\" y=\"%.1f\">recycle "
                "(reason)</text>\n",
                x + 12, y - 4, x + 30, y);
        fputs("</g>\n", f);
}

int plot_svg(FILE *f, const HistoryView *workers, size_t n, const HistoryView *dyno, const PlotOptions *o) {
        unsigned width = o && o->width ? o->width : 1000, height = o && o->height ? o->height : 560;
        const char *title = o && o->title ? o->title : "cgwatch: memory over time";
        usec_t t0 = USEC_INFINITY, t1 = 0;
        uint64_t ymax = 0;
        Frame fr;

        for (size_t i = 0; i < n; i++)
                view_extent(&workers[i], &t0, &t1, &ymax, /* with_events= */ true);
        if (dyno)
                view_extent(dyno, &t0, &t1, &ymax, /* with_events= */ false);
        bool empty = t0 == USEC_INFINITY;
        if (empty)
                t0 = t1 = 0;
        if (t1 <= t0)
                t1 = t0 + USEC_PER_SEC;
        double ymib = (double) ymax / MIB, ystep = nice_step(ymib > 0 ? ymib / 8.0 : 1.0);
        fr = (Frame){
                .left = MARGIN_L,
                .top = MARGIN_T,
                .width = width - MARGIN_L - MARGIN_R,
                .height = height - MARGIN_T - MARGIN_B,
                .t0 = t0,
                .t1 = t1,
                .ymax_mib = ymib > 0 ? (double) (uint64_t) (ymib / ystep + 0.999999) * ystep : 1.0,
        };
        if (fr.ymax_mib < ymib) /* rounding at the top */
                fr.ymax_mib += ystep;

        fprintf(f,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%u\" height=\"%u\" "
                "viewBox=\"0 0 %u %u\" font-family=\"sans-serif\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text class=\"title\" x=\"%.1f\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">",
                width, height, width, height, fr.left + fr.width / 2);
        xml_escaped(f, title);
        fputs("</text>\n", f);
        draw_axes(f, &fr);
        if (empty)
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no samples</text>\n",
                        fr.left + fr.width / 2, fr.top + fr.height / 2);
        if (dyno) {
                draw_memory(f, &fr, dyno, "dyno", DYNO_COLOR);
                draw_budget(f, &fr, dyno, "dyno-limit", LIMIT_COLOR, "2 3");
        }
        for (size_t i = 0; i < n; i++) {
                const char *color = palette[i % ELEMENTSOF(palette)];
                draw_budget(f, &fr, &workers[i], "budget", color, "6 4");
                draw_memory(f, &fr, &workers[i], "worker", color);
        }
        for (size_t i = 0; i < n; i++)
                draw_recycles(f, &fr, &workers[i], palette[i % ELEMENTSOF(palette)]);
        draw_legend(f, &fr, workers, n, dyno);
        fputs("</svg>\n", f);
        return ferror(f) ? -EIO : 0;
}
