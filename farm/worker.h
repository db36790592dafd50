/* The farm worker, `tvm-tune farm work` (docs/ARCHITECTURE.md, "Farms"): claims jobs, leases
 * devices of their kind, keeps both leases alive from a heartbeat thread, tunes each job with
 * tt_tune_run continuing from the records already stored, and writes every record to the farm's
 * database under the job's token. */
#ifndef TT_FARM_WORKER_H
#define TT_FARM_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "farm/farm.h"

typedef struct {
    const char *uri;     /* the farm's database (postgresql://...) */
    const char *key_dir; /* where the devices' key files are (a device's key_name inside); "." */
    const char *worker;  /* this worker's name; NULL: HOST:PID */
    double lease_s;      /* job and device lease length; renewed every third of it. Default 60 */
    int max_devices;     /* devices leased per job, >= 1. Default 1 */
    int max_failures;    /* device failures in a row that quarantine it; 0: the default */
    bool until_empty;    /* return once no job is queued or running (else: wait for more) */
    const char *tuner;   /* search strategy; NULL: the tuner's default */
    int jobs;            /* parallel builds; 0: the number of CPUs */
    bool quiet;          /* no tuning progress display */
    const char *faults;  /* test-only fault injection (TT_FAULT_INJECT syntax); NULL: none */
    FILE *progress;      /* messages; default stderr */
    const volatile sig_atomic_t *stop; /* set (by a signal handler) to stop; the job goes back */
} tt_farm_worker_opts;

TT_API void tt_farm_worker_opts_default(tt_farm_worker_opts *o);

/* Runs jobs until o->stop is raised or, with until_empty, until no job is open. Returns 0 (*done:
 * jobs this worker ended, done or failed), or -1 with the last error: the database cannot be
 * reached (TT_ERR_IO), the options are wrong (TT_ERR_INVALID_ARGUMENT), stopped
 * (TT_ERR_INTERRUPTED; the job in hand was given back), or, with until_empty, open jobs that no
 * worker can take (no device of their kind outside quarantine). */
TT_API int tt_farm_work(const tt_farm_worker_opts *o, int64_t *done);

#endif
