/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who leaks: a worker's growth rate over its incarnation, robust to noise, and a verdict across
 * incarnations. Pure: samples in, numbers out. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#define GROWTH_POINTS_MAX 16
#define GROWTH_LIVES_MAX  8

typedef struct GrowthPoint {
        usec_t at;      /* CLOCK_MONOTONIC */
        uint64_t bytes; /* unreclaimable */
} GrowthPoint;

typedef struct GrowthTrack {
        GrowthPoint points[GROWTH_POINTS_MAX]; /* this incarnation; when full, every other one is
                                                * dropped so the whole life stays covered */
        size_t n;
        usec_t min_gap_usec; /* points closer than this to the last one replace it */
} GrowthTrack;

/* Adds a sample of this incarnation. */
void growth_track_add(GrowthTrack *t, usec_t at, uint64_t bytes);
void growth_track_reset(GrowthTrack *t);

/* The Theil-Sen slope (the median of the slopes between every pair of points) in bytes per
 * second: one odd sample (a burst, a GC) cannot move it. Returns 0 and *ret, or -ENODATA with
 * fewer than 3 points or less than 1 s between the first and the last. */
int growth_rate(const GrowthTrack *t, int64_t *ret_bytes_per_sec);

/* How long until `bytes` reaches `limit` at `rate`; USEC_INFINITY if it never does (rate <= 0) or
 * has no limit; 0 if already there. */
usec_t growth_time_to(uint64_t bytes, uint64_t limit, int64_t rate_bytes_per_sec);

/* The rates of the last lives, newest last. */
typedef struct LifeRates {
        int64_t rate[GROWTH_LIVES_MAX];
        size_t n;
} LifeRates;

void life_rates_add(LifeRates *l, int64_t rate_bytes_per_sec);

/* The verdict: it leaks when each of its last `lives` (>= 3) incarnations grew by at least
 * `min_rate` bytes per second. Returns true and *ret_rate = the median of those rates. */
bool leak_verdict(const LifeRates *l, size_t lives, int64_t min_rate, int64_t *ret_rate);
