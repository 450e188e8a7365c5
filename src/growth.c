/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "growth.h"

void growth_track_reset(GrowthTrack *t) {
        t->n = 0;
}

void growth_track_add(GrowthTrack *t, usec_t at, uint64_t bytes) {
        if (t->n > 0 && at < t->points[t->n - 1].at)
                return; /* the clock does not go back; a stale sample is dropped */
        if (t->n > 0 && at - t->points[t->n - 1].at < t->min_gap_usec) {
                t->points[t->n - 1] = (GrowthPoint){at, bytes};
                return;
        }
        if (t->n == GROWTH_POINTS_MAX) {
                /* Thin out: keep every other point (the first included), so the fit still spans
                 * the whole incarnation. */
                size_t k = 0;
                for (size_t i = 0; i < t->n; i += 2)
                        t->points[k++] = t->points[i];
                t->n = k;
                t->min_gap_usec = t->min_gap_usec ? t->min_gap_usec * 2 : 0;
        }
        t->points[t->n++] = (GrowthPoint){at, bytes};
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof *v, cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int growth_rate(const GrowthTrack *t, int64_t *ret_bytes_per_sec) {
        double slopes[GROWTH_POINTS_MAX * (GROWTH_POINTS_MAX - 1) / 2];
        size_t n = 0;

        if (t->n < 3 || t->points[t->n - 1].at - t->points[0].at < USEC_PER_SEC)
                return -ENODATA;
        for (size_t i = 0; i < t->n; i++)
                for (size_t j = i + 1; j < t->n; j++) {
                        double dt = (double) (t->points[j].at - t->points[i].at) / USEC_PER_SEC;
                        if (dt <= 0)
                                continue;
                        slopes[n++] = ((double) t->points[j].bytes - (double) t->points[i].bytes) / dt;
                }
        if (n == 0)
                return -ENODATA;
        double m = median(slopes, n);
        if (m > (double) INT64_MAX)
                m = (double) INT64_MAX;
        if (m < (double) -INT64_MAX)
                m = (double) -INT64_MAX;
        *ret_bytes_per_sec = (int64_t) m;
        return 0;
}

usec_t growth_time_to(uint64_t bytes, uint64_t limit, int64_t rate) {
        if (limit == UINT64_MAX)
                return USEC_INFINITY;
        if (bytes >= limit)
                return 0;
        if (rate <= 0)
                return USEC_INFINITY;
        double s = (double) (limit - bytes) / (double) rate;
        if (s * USEC_PER_SEC >= (double) (USEC_INFINITY - 1))
                return USEC_INFINITY - 1;
        return (usec_t) (s * USEC_PER_SEC);
}

void life_rates_add(LifeRates *l, int64_t rate) {
        if (l->n == GROWTH_LIVES_MAX) {
                memmove(l->rate, l->rate + 1, sizeof(l->rate[0]) * (GROWTH_LIVES_MAX - 1));
                l->n--;
        }
        l->rate[l->n++] = rate;
}

bool leak_verdict(const LifeRates *l, size_t lives, int64_t min_rate, int64_t *ret_rate) {
        double v[GROWTH_LIVES_MAX];

        if (lives < 3 || lives > GROWTH_LIVES_MAX || l->n < lives)
                return false;
        for (size_t i = 0; i < lives; i++) {
                int64_t r = l->rate[l->n - lives + i];
                if (r < min_rate || r <= 0)
                        return false;
                v[i] = (double) r;
        }
        *ret_rate = (int64_t) median(v, lives);
        return true;
}
