/* The timing protocol: how a compiled kernel's cost is measured once it runs and is correct
 * (runner_local.c calls this in its child process, the RPC server in its session process). See
 * docs/ARCHITECTURE.md, "Measurement". */
#include <hwloc.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "measure/measure.h"
#include "tt/cost.h"

/* Calibration never runs a batch longer than this many calls: a kernel too fast for the clock
 * would otherwise grow `number` without bound. */
#define MAX_NUMBER (1 << 30)

void tt_timing_opts_default(tt_timing_opts *o)
{
    memset(o, 0, sizeof *o);
    o->repeat = 3;
    o->number = 1;
    o->min_repeat_ms = 50;
    o->slow_factor = 3;
    o->retries = 0;
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double (*now_s)(void) = monotonic_s;

void tt_measure_set_clock(double (*now)(void))
{
    now_s = now != NULL ? now : monotonic_s;
}

/* ---- cache flush ---- */

static pthread_once_t size_once = PTHREAD_ONCE_INIT, buf_once = PTHREAD_ONCE_INIT;
static size_t flush_size = (size_t)64 << 20;
static unsigned char *flush_buf;

static void size_init(void)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) == 0) {
        if (hwloc_topology_load(topo) == 0) {
            uint64_t largest = 0;
            for (int depth = 0; depth < hwloc_topology_get_depth(topo); depth++) {
                hwloc_obj_t obj = hwloc_get_obj_by_depth(topo, depth, 0);
                if (obj != NULL && hwloc_obj_type_is_cache(obj->type) &&
                    obj->attr->cache.size > largest)
                    largest = obj->attr->cache.size;
            }
            if (largest > 0) {
                uint64_t size = 2 * largest;
                size = size < ((uint64_t)8 << 20) ? (uint64_t)8 << 20 : size;
                size = size > ((uint64_t)512 << 20) ? (uint64_t)512 << 20 : size;
                flush_size = (size_t)size;
            }
        }
        hwloc_topology_destroy(topo);
    }
}

/* Once per process, and only where repeats are timed: the runner's parent sizes the buffer before
 * it forks (the topology load costs milliseconds), each child allocates it and exits. */
static void buf_init(void)
{
    pthread_once(&size_once, size_init);
    flush_buf = malloc(flush_size);
}

size_t tt_measure_flush_bytes(void)
{
    pthread_once(&size_once, size_init);
    return flush_size;
}

/* Writing (not reading) a buffer twice the LLC evicts the kernel's data and leaves no dirty line
 * of it, so each repeat starts from memory as a kernel in a real model would. */
static void flush_cache(void)
{
    pthread_once(&buf_once, buf_init);
    if (flush_buf == NULL)
        return;
    static unsigned char round;
    memset(flush_buf, __atomic_add_fetch(&round, 1, __ATOMIC_RELAXED), flush_size);
    /* The compiler may not drop the stores: the buffer escapes through this barrier. */
    __asm__ __volatile__("" : : "r"(flush_buf) : "memory");
}

/* ---- the protocol ---- */

int tt_timing_opts_check(const tt_timing_opts *o)
{
    if (o->repeat < 1 || o->repeat > TT_MEASURE_MAX_REPEAT)
        return tt_error_set("tt_measure_time: repeat = %d, expected 1..%d", o->repeat,
                            TT_MEASURE_MAX_REPEAT);
    if (o->number < 1 || o->number > MAX_NUMBER)
        return tt_error_set("tt_measure_time: number = %d, expected 1..%d", o->number, MAX_NUMBER);
    if (!(o->min_repeat_ms >= 0) || o->min_repeat_ms > 60e3)
        return tt_error_set("tt_measure_time: min_repeat_ms = %g, expected 0..60000",
                            o->min_repeat_ms);
    if (!(o->best_so_far >= 0) || isinf(o->best_so_far))
        return tt_error_set("tt_measure_time: best_so_far = %g, expected a finite cost >= 0 "
                            "(0: no early stop)",
                            o->best_so_far);
    if (o->best_so_far > 0 && !(o->slow_factor >= 1))
        return tt_error_set("tt_measure_time: slow_factor = %g, expected >= 1", o->slow_factor);
    if (!(o->warm_s >= 0) || isinf(o->warm_s))
        return tt_error_set("tt_measure_time: warm_s = %g, expected a finite time >= 0 "
                            "(0: unknown)",
                            o->warm_s);
    if (o->retries < 0 || o->retries > TT_MEASURE_MAX_REPEAT)
        return tt_error_set("tt_measure_time: retries = %d, expected 0..%d", o->retries,
                            TT_MEASURE_MAX_REPEAT);
    return 0;
}

/* RUSAGE_SELF sums every thread of the process: a kernel's worker preempted mid-repeat stalls
 * the repeat at its next barrier as surely as the measuring thread would. */
static long rusage_switches(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_nivcsw : 0;
}

static long (*involuntary_switches)(void) = rusage_switches;

void tt_measure_set_switch_counter(long (*count)(void))
{
    involuntary_switches = count != NULL ? count : rusage_switches;
}

/* Runs f `number` times; *seconds = the wall time of the calls, *switches the involuntary
 * context switches of the process meanwhile. -1 with f's own message when a call fails. */
static int run_calls(tt_func f, const tt_value *args, const int *codes, int n, int number,
                     double *seconds, int *switches)
{
    long sw = involuntary_switches();
    double start = now_s();
    for (int i = 0; i < number; i++) {
        tt_value ret;
        int ret_code;
        if (tt_func_call(f, args, codes, n, &ret, &ret_code) != 0)
            return -1;
    }
    *seconds = now_s() - start;
    long d = involuntary_switches() - sw;
    *switches = d > INT32_MAX ? INT32_MAX : (int)d;
    return 0;
}

/* A batch of the protocol: the cache flushed when asked, then run_calls. */
static int run_batch(tt_func f, const tt_value *args, const int *codes, int n, int number,
                     int flush, double *seconds, int *switches)
{
    if (flush)
        flush_cache();
    if (run_calls(f, args, codes, n, number, seconds, switches) != 0)
        return tt_error_wrap("tt_measure_time: the kernel failed");
    return 0;
}

int tt_measure_call(tt_func f, const tt_value *args, const int *codes, int n, double *seconds,
                    int *switches)
{
    return run_calls(f, args, codes, n, 1, seconds, switches);
}

static void summarise(tt_timing_result *out)
{
    double lo = out->costs[0], hi = out->costs[0];
    for (int i = 1; i < out->n_costs; i++) {
        lo = fmin(lo, out->costs[i]);
        hi = fmax(hi, out->costs[i]);
    }
    out->cost = tt_cost_median(out->costs, (size_t)out->n_costs);
    out->spread = out->cost > 0 ? (hi - lo) / out->cost : 0;
}

/* Fills out's costs with `repeat` of the runs' costs c[0..n-1] (switches sw), in the order they
 * ran: every undisturbed one, then the fastest disturbed ones while fewer than `repeat`. */
static void keep(const double *c, const int *sw, int n, int repeat, tt_timing_result *out)
{
    bool kept[2 * TT_MEASURE_MAX_REPEAT] = {false};
    int k = 0;
    for (int i = 0; i < n && k < repeat; i++)
        if (sw[i] == 0) {
            kept[i] = true;
            k++;
        }
    for (; k < repeat && k < n; k++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!kept[i] && (best < 0 || c[i] < c[best]))
                best = i;
        kept[best] = true;
    }
    out->n_costs = 0;
    for (int i = 0; i < n; i++)
        if (kept[i]) {
            out->switches[out->n_costs] = sw[i];
            out->costs[out->n_costs++] = c[i];
        }
}

/* Next `number` when a batch of `number` calls took t < target seconds: aim 20% past the target
 * from the measured rate, but at least double (t may be all clock noise) and at most x1000. */
static int next_number(int number, double t, double target)
{
    double want = t > 0 ? ceil((double)number * target / t * 1.2) : (double)number * 1000;
    double lo = 2.0 * number, hi = 1000.0 * number;
    want = want < lo ? lo : want > hi ? hi : want;
    return want > MAX_NUMBER ? MAX_NUMBER : (int)want;
}

int tt_measure_time(tt_func f, const tt_value *args, const int *codes, int n,
                    const tt_timing_opts *o, tt_timing_result *out)
{
    memset(out, 0, sizeof *out);
    if (f == NULL)
        return tt_error_set("tt_measure_time: f is NULL");
    if (tt_timing_opts_check(o) != 0)
        return -1;
    /* Warm-up: page faults, lazy binding, the OpenMP pool and cold instruction caches are paid
     * here, not in the first repeat. */
    double t = 0;
    int sw = 0;
    if (!o->warm && run_batch(f, args, codes, n, 1, 0, &t, &sw) != 0)
        return -1;

    double target = o->min_repeat_ms * 1e-3;
    double slow = o->best_so_far * o->slow_factor;
    int number = o->number;
    /* The warm call's time saves the 1-call calibration batch (issue 13, item 3): a slow
     * kernel's call was as long as a repeat, and one that long is barely changed by being the
     * first (cold caches, lazy binding, the inputs' page faults: a millisecond at most against
     * min_repeat_ms). */
    bool have = false;
    if (o->warm && o->warm_s > 0) {
        if (o->warm_s >= target && number == 1 && !o->flush_cache) {
            t = o->warm_s;
            sw = o->warm_switches;
            have = true;
        } else if (o->warm_s < target) {
            int guess = next_number(1, o->warm_s, target);
            number = guess > number ? guess : number;
        }
    }
    for (;;) {
        if (!have && run_batch(f, args, codes, n, number, o->flush_cache, &t, &sw) != 0)
            return -1;
        have = false;
        /* Any batch, even a calibration one, that is already too slow ends the measurement: a
         * candidate several times the best is not worth the rest of its repeats. */
        if (o->best_so_far > 0 && t / number > slow) {
            out->costs[0] = t / number;
            out->switches[0] = sw;
            out->n_costs = 1;
            out->number = number;
            out->pruned = 1;
            summarise(out);
            return 0;
        }
        if (t >= target || number >= MAX_NUMBER)
            break;
        number = next_number(number, t, target);
    }
    /* The batch that reached the target is the first repeat: it ran under the same conditions
     * (flushed when asked) as the others will. On a shared machine the spread of a logged
     * cost came from repeats that lost a CPU to another process (a 2-thread kernel on 2 CPUs
     * ran up to 7x slower in them; docs/ARCHITECTURE.md, "Measurement"): each is marked, and
     * with retries (opt-in) replaced while they last, only where they happen. */
    double all[2 * TT_MEASURE_MAX_REPEAT];
    int sws[2 * TT_MEASURE_MAX_REPEAT], runs = 0, clean = 0;
    for (;;) {
        all[runs] = t / number;
        sws[runs++] = sw;
        clean += sw == 0;
        out->disturbed += sw != 0;
        /* Only once some repeat was clean are the disturbed ones outliers against a clean
         * figure; on a machine busy throughout, more repeats would buy nothing (a 300-trial
         * run spent 45 s more measuring for no undisturbed repeat at a load average of 7). */
        if (clean >= o->repeat || runs >= o->repeat + o->retries ||
            (runs >= o->repeat && clean == 0))
            break;
        if (run_batch(f, args, codes, n, number, o->flush_cache, &t, &sw) != 0)
            return -1;
    }
    keep(all, sws, runs, o->repeat, out);
    out->number = number;
    summarise(out);
    return 0;
}
