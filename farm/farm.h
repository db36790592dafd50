/* Farms: the device pool and the nightly job queue, kept in PostgreSQL tables (libpq) so that
 * they survive restarts and any number of worker hosts share them (docs/ARCHITECTURE.md, "Farms").
 * Leases are rows with an expiry on the database's clock and a random token that fences late
 * writes; every call is one short transaction. tuner/cli_farm.c is the command line. */
#ifndef TT_FARM_FARM_H
#define TT_FARM_FARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt/opfile.h"
#include "tt/runtime.h"

/* What a call that names a lease token returns when the token no longer holds the lease (it
 * expired and someone else took it, or it was released): nothing changed; the last error says
 * "lease lost". Other failures are -1. */
#define TT_FARM_LEASE_LOST (-2)

/* Consecutive failures that quarantine a device (tt_farm_device_report). */
#define TT_FARM_DEFAULT_MAX_FAILURES 3

/* 128 random bits as 32 lowercase hex digits. */
#define TT_FARM_TOKEN_LEN 32

typedef struct tt_farm tt_farm; /* one connection; not shared between threads */

/* ---- connection ---- */

/* Checks that uri is a postgresql:// or postgres:// URI that libpq parses; -1 with
 * TT_ERR_INVALID_ARGUMENT otherwise. Messages never repeat the URI (it may hold a password). */
TT_API int tt_farm_uri_check(const char *uri);
/* Connects and creates the farm's tables on first use (docs/ARCHITECTURE.md, "Farms"). A server
 * that cannot be reached or refuses is TT_ERR_IO with "database HOST:PORT/DB: why", never the
 * password. *out: caller closes. */
TT_API int tt_farm_open(const char *uri, tt_farm **out);
TT_API void tt_farm_close(tt_farm *f);
/* "HOST:PORT/DBNAME" of the connection (for messages). */
TT_API const char *tt_farm_server(const tt_farm *f);

/* ---- device pool ---- */

typedef struct {
    int64_t id;
    char *kind, *addr, *key_name; /* key_name: the key file's name in a worker's --key-dir */
    char *state;                  /* "free", "leased" or "quarantined" */
    char *holder;                 /* the worker holding the lease ("" when none) */
    char *lease_until, *last_seen, *added_at; /* "YYYY-MM-DD HH:MM:SS UTC" or "" */
    bool lease_expired;                       /* leased, but its lease is over (holder gone) */
    int failures_in_row;
    char *last_error, *quarantine_reason; /* "" when none */
} tt_farm_device;

/* Registers the RPC server at addr ("HOST:PORT") of this kind; key_name NULL: the kind. Adding an
 * address again updates its kind and key and clears its quarantine and failures (a lease it has
 * stays). *created: 1 when the address was new. */
TT_API int tt_farm_device_add(tt_farm *f, const char *kind, const char *addr, const char *key_name,
                              int *created);
/* Removes a device; TT_ERR_NOT_FOUND when the address is not in the pool. */
TT_API int tt_farm_device_remove(tt_farm *f, const char *addr);
/* Every device, by kind then address. Caller frees with tt_farm_device_list_free. */
TT_API int tt_farm_device_list(tt_farm *f, tt_farm_device **out, size_t *n);
TT_API void tt_farm_device_list_free(tt_farm_device *d, size_t n);

typedef struct {
    int64_t id;
    char addr[256];
    char key_name[256];
    char token[TT_FARM_TOKEN_LEN + 1];
} tt_farm_lease;

/* Leases up to n devices of kind for holder, for ttl_s seconds: free ones, or leased ones whose
 * lease is over (SELECT ... FOR UPDATE SKIP LOCKED, so two callers never get the same device).
 * leases[n] receives them, each with its own token; *got may be 0 (none free). */
TT_API int tt_farm_device_lease(tt_farm *f, const char *kind, int n, const char *holder,
                                double ttl_s, tt_farm_lease *leases, int *got);
/* Extends the lease of token by ttl_s seconds from now (the heartbeat). */
TT_API int tt_farm_device_renew(tt_farm *f, const char *token, double ttl_s);
/* Returns the device to the pool. */
TT_API int tt_farm_device_release(tt_farm *f, const char *token);
/* What a session on the device gave: error NULL is success (the failure count restarts, last seen
 * is now); otherwise one more failure in a row, and at max_failures (<= 0: the default) the device
 * is quarantined with error as the reason and its lease ends. *quarantined (may be NULL): 1 when
 * this report quarantined it. */
TT_API int tt_farm_device_report(tt_farm *f, const char *token, const char *error, int max_failures,
                                 int *quarantined);

/* ---- job queue ---- */

typedef struct {
    int64_t id;
    char *key, *name; /* the task's workload key and name */
    char *workload;   /* the task's canonical JSON */
    char *measure;    /* the op file's measure settings, JSON */
    char *target;     /* canonical target; NULL: the device's own */
    char *kind;       /* device kind */
    int64_t trials;   /* budget */
    int64_t trials_done;
    double best_gflops;                /* 0: none yet */
    char *state;                       /* "queued", "running", "done", "failed" */
    char *worker;                      /* "" when none */
    char *devices;                     /* addresses the job's worker leased, "" when none */
    char *lease_until;                 /* "" when none */
    bool lease_expired;                /* running, but its worker's lease is over */
    int attempts;                      /* claims so far */
    char *error;                       /* why it failed, or the summary of a finished job; "" */
    char token[TT_FARM_TOKEN_LEN + 1]; /* set by claim only */
} tt_farm_job;

/* Enqueues one job per task of file: trials each, measured on devices of kind, for target
 * (canonical; NULL: the device's own). Submitting the same task, kind, target and trials again adds
 * nothing. *added and *existing (may be NULL) count both. One transaction. */
TT_API int tt_farm_submit(tt_farm *f, const tt_opfile *file, int64_t trials, const char *kind,
                          const char *target, int *added, int *existing);
/* Claims one job for worker for ttl_s seconds: a queued one, or a running one whose lease is over
 * (its worker died), whose kind has a device that is not quarantined. *job NULL when there is none;
 * otherwise the caller frees it with tt_farm_job_free and job->token holds the lease. */
TT_API int tt_farm_job_claim(tt_farm *f, const char *worker, double ttl_s, tt_farm_job **job);
/* Extends the job's lease (the heartbeat). */
TT_API int tt_farm_job_renew(tt_farm *f, const char *token, double ttl_s);
/* Progress: the trials done so far and the best GFLOPS (kept when higher); devices (may be NULL)
 * names the devices measuring it. */
TT_API int tt_farm_job_progress(tt_farm *f, const char *token, int64_t trials_done,
                                double best_gflops, const char *devices);
/* Sets the job's best GFLOPS to the tuner's verdict (its re-measured winner), which may be below
 * a lucky first measurement that progress kept. */
TT_API int tt_farm_job_set_best(tt_farm *f, const char *token, double best_gflops);
/* Ends the job: state "done" or "failed" with summary (may be NULL), or "queued" to give it back
 * (another worker continues it). */
TT_API int tt_farm_job_finish(tt_farm *f, const char *token, const char *state,
                              const char *summary);
/* Every job, in submission order. Caller frees with tt_farm_job_list_free. */
TT_API int tt_farm_job_list(tt_farm *f, tt_farm_job **out, size_t *n);
TT_API void tt_farm_job_list_free(tt_farm_job *jobs, size_t n);
TT_API void tt_farm_job_free(tt_farm_job *job);
/* Jobs not yet done or failed (*open), of which *waiting have no device of their kind outside
 * quarantine (no worker can claim them), and the seconds until the earliest running lease ends by
 * the database's clock (*next_expiry_s, 0 when none or already over). Any pointer may be NULL. */
TT_API int tt_farm_job_pending(tt_farm *f, int64_t *open, int64_t *waiting, double *next_expiry_s);

/* ---- records of the jobs ---- */

/* A job's records live in the farm's tuning database, the tt_db that tt_db_open gives for the same
 * URI (logs/db.h): the workloads, records and runs tables every tvm-tune command reads. */
struct tt_db;
struct tt_record;
/* Adds record r of the job holding token to db in one transaction that first checks, FOR SHARE,
 * that the token still holds the job and its lease has not expired (tt_db_add_record_guarded):
 * TT_FARM_LEASE_LOST writes nothing. A record already stored adds nothing; *added (may be NULL)
 * says which. */
TT_API int tt_farm_record_add(struct tt_db *db, const char *token, const struct tt_record *r,
                              int *added);
/* Appends every record of workload key (NULL: of every workload) for target (NULL: of any
 * target) that db holds to the log at path, in the order they were stored; *n (may be NULL)
 * counts them. */
TT_API int tt_farm_records_export(struct tt_db *db, const char *key, const char *target,
                                  const char *path, int64_t *n);

/* ---- waiting ---- */

/* Waits up to seconds for a change a worker may be waiting for (a job submitted or given back, a
 * device added or released: NOTIFY farm) and returns 1 when one came, 0 when the time ran out or a
 * signal came. The first call LISTENs; a notification sent before it is not seen, so callers poll
 * the tables too (they are the truth). */
TT_API int tt_farm_wait(tt_farm *f, double seconds);

/* ---- tokens ---- */

/* 128 random bits (getrandom) as hex. */
TT_API int tt_farm_token_new(char out[TT_FARM_TOKEN_LEN + 1]);

#endif
