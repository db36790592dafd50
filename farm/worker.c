/* The farm worker loop (docs/ARCHITECTURE.md, "Farms"): claim a job, lease devices of its kind,
 * renew both leases from a heartbeat thread with its own connection, tune the job's task with
 * tt_tune_run resumed from the records already in the database, store each new record under the
 * job's token, end the job and release the devices. No transaction stays open across a
 * measurement or a wait: every database call is its own short transaction. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "farm/worker.h"
#include "ir/opjson.h"
#include "logs/db.h"
#include "logs/log.h"
#include "logs/record.h"
#include "tt/tune.h"

#define MAX_DEVICES 64

void tt_farm_worker_opts_default(tt_farm_worker_opts *o)
{
    memset(o, 0, sizeof *o);
    o->key_dir = ".";
    o->lease_s = 60;
    o->max_devices = 1;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        return; /* a signal: the caller looks at its stop flag */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the job in hand, shared with the heartbeat thread ---- */

typedef struct {
    const tt_farm_worker_opts *o;
    tt_farm *db;        /* the tuning thread's connection */
    tt_farm_job *job;   /* claimed: job->token holds it */
    pthread_mutex_t mu; /* guards leases, nleases and the flags below */
    pthread_cond_t wake;
    tt_farm_lease leases[MAX_DEVICES];
    bool live[MAX_DEVICES]; /* false once quarantined or lost */
    int nleases;
    bool ending;                     /* the heartbeat thread should return */
    volatile sig_atomic_t halt;      /* tt_tune_run's stop flag: lost lease, user stop, no device */
    volatile sig_atomic_t lost;      /* the job's lease was taken over */
    volatile sig_atomic_t no_device; /* every leased device was quarantined or lost */
    /* When the records last said a device went away, with no record since (0: none); under mu.
     * A tuner may wait for a lost device to come back: after a lease period the job goes back. */
    double down_since;
    tt_farm *hb;         /* the heartbeat thread's connection */
    tt_db *rdb, *rdb_hb; /* the tuning database (records), for each of the two threads */
    /* The tuner's log, followed from the heartbeat thread: byte offset of the first line not yet
     * stored (0 before tuning starts). */
    char log[PATH_MAX];
    long log_offset;
    bool following; /* the heartbeat thread follows the log (under mu) */
    /* Records: how many this worker stored, the trial count and best so far (under mu). */
    int64_t stored, trials_done;
    double best_gflops;
    volatile sig_atomic_t record_error; /* a store failed for another reason than a lost lease */
} job_run;

static int follow_log(job_run *jr, tt_farm *conn, tt_db *rdb);

static bool user_stop(const tt_farm_worker_opts *o)
{
    return o->stop && *o->stop;
}

static void say(const tt_farm_worker_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const tt_farm_worker_opts *o, const char *fmt, ...)
{
    FILE *out = o->progress ? o->progress : stderr;
    va_list ap;
    va_start(ap, fmt);
    fputs("farm work: ", out);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
    fflush(out);
}

/* Renews the job's lease and every live device lease each third of the lease; raises halt when
 * the job's lease is lost or the user stops. Its own connection: a libpq connection is used by
 * one thread only. */
static void *heartbeat(void *arg)
{
    job_run *jr = arg;
    const tt_farm_worker_opts *o = jr->o;
    double every = o->lease_s / 3, next = now_s() + every, next_follow = now_s() + 0.2;
    pthread_mutex_lock(&jr->mu);
    while (!jr->ending) {
        if (user_stop(o))
            jr->halt = 1;
        if (now_s() >= next) {
            next = now_s() + every;
            pthread_mutex_unlock(&jr->mu);
            int rc = tt_farm_job_renew(jr->hb, jr->job->token, o->lease_s);
            pthread_mutex_lock(&jr->mu);
            if (rc == TT_FARM_LEASE_LOST) {
                jr->lost = 1;
                jr->halt = 1;
            } else if (rc != 0) {
                say(o, "job %lld: %s (will try again)", (long long)jr->job->id,
                    tt_get_last_error());
            }
            for (int i = 0; i < jr->nleases; i++) {
                if (!jr->live[i])
                    continue;
                char token[TT_FARM_TOKEN_LEN + 1];
                memcpy(token, jr->leases[i].token, sizeof token);
                pthread_mutex_unlock(&jr->mu);
                rc = tt_farm_device_renew(jr->hb, token, o->lease_s);
                pthread_mutex_lock(&jr->mu);
                if (rc == TT_FARM_LEASE_LOST) {
                    say(o, "device %s: lease lost", jr->leases[i].addr);
                    jr->live[i] = false;
                }
            }
        }
        if (jr->down_since > 0 && !jr->halt && now_s() - jr->down_since > o->lease_s) {
            say(o, "job %lld: no record for %.0f s since a device went away; giving it back",
                (long long)jr->job->id, now_s() - jr->down_since);
            jr->no_device = jr->halt = 1;
        }
        if (jr->following && !jr->halt && now_s() >= next_follow) {
            next_follow = now_s() + 0.2;
            pthread_mutex_unlock(&jr->mu);
            follow_log(jr, jr->hb, jr->rdb_hb);
            pthread_mutex_lock(&jr->mu);
        }
        /* Wake often enough to pass a user's stop on to the tuner promptly. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&jr->wake, &jr->mu, &until);
    }
    pthread_mutex_unlock(&jr->mu);
    return NULL;
}

/* The lease whose address begins text and ends at its end or a space; -1: none. */
static int lease_named(const job_run *jr, const char *text)
{
    for (int i = 0; i < jr->nleases; i++) {
        size_t len = strlen(jr->leases[i].addr);
        if (strncmp(text, jr->leases[i].addr, len) == 0 && (text[len] == '\0' || text[len] == ' '))
            return i;
    }
    return -1;
}

/* The device lease that measured r: its address begins r->device ("HOST:PORT (cpu, triple)");
 * with one device and no name, that one. -1: none. */
static int device_of(const job_run *jr, const tt_record *r)
{
    const char *name = r->device ? r->device : "";
    int d = name[0] ? lease_named(jr, name) : -1;
    return d >= 0 || name[0] || jr->nleases != 1 ? d : 0;
}

/* The one place a record goes to the shared database: in its own transaction, guarded by the
 * job's token (docs/ARCHITECTURE.md, "Farms"); storing a record twice adds nothing. */
static int store_record(tt_db *rdb, const job_run *jr, const tt_record *r, int *added)
{
    return tt_farm_record_add(rdb, jr->job->token, r, added);
}

/* After a record is stored: progress, and what the record says about its device. conn is the
 * calling thread's connection. */
static int account(job_run *jr, tt_farm *conn, const tt_record *r)
{
    pthread_mutex_lock(&jr->mu);
    jr->stored++;
    if (r->trial + 1 > jr->trials_done)
        jr->trials_done = r->trial + 1;
    if (r->error == TT_RECORD_OK && r->gflops > jr->best_gflops)
        jr->best_gflops = r->gflops;
    int64_t done = jr->trials_done;
    double best = jr->best_gflops;
    /* A device that went away (outcome "device error") counts against it; any other outcome,
     * even a failed candidate, shows the device answering. */
    bool device_failed = r->error == TT_OUTCOME_DEVICE_ERROR;
    jr->down_since = device_failed ? (jr->down_since > 0 ? jr->down_since : now_s()) : 0;
    int d = device_of(jr, r);
    bool live = d >= 0 && jr->live[d];
    char token[TT_FARM_TOKEN_LEN + 1] = "";
    if (live)
        memcpy(token, jr->leases[d].token, sizeof token);
    pthread_mutex_unlock(&jr->mu);
    int rc = tt_farm_job_progress(conn, jr->job->token, done, best, NULL);
    if (rc == TT_FARM_LEASE_LOST) {
        jr->lost = jr->halt = 1;
        return -1;
    }
    if (!live)
        return 0;
    if (!device_failed && !(r->device && r->device[0]))
        return 0; /* measured here: nothing to say about a device */
    int quarantined = 0;
    rc = tt_farm_device_report(conn, token, device_failed ? r->error_msg : NULL,
                               jr->o->max_failures, &quarantined);
    if (rc == TT_FARM_LEASE_LOST || quarantined) {
        pthread_mutex_lock(&jr->mu);
        jr->live[d] = false;
        bool any = false;
        for (int i = 0; i < jr->nleases; i++)
            any = any || jr->live[i];
        pthread_mutex_unlock(&jr->mu);
        say(jr->o, "device %s: %s", jr->leases[d].addr, quarantined ? "quarantined" : "lease lost");
        if (!any) {
            /* No device left to measure on: stop, and give the job back for another worker. */
            jr->no_device = jr->halt = 1;
            return -1;
        }
    }
    return 0;
}

static int store_and_account(job_run *jr, tt_farm *conn, tt_db *rdb, const tt_record *r)
{
    int added = 0;
    int rc = store_record(rdb, jr, r, &added);
    if (rc == TT_FARM_LEASE_LOST) {
        jr->lost = jr->halt = 1;
        return -1;
    }
    if (rc != 0) {
        say(jr->o, "job %lld: %s", (long long)jr->job->id, tt_get_last_error());
        jr->record_error = jr->halt = 1;
        return -1;
    }
    return added ? account(jr, conn, r) : 0;
}

/* tt_tune_opts.on_record: every new record, on the tuning thread, stored at once. */
static int on_record(const tt_record *r, void *ctx)
{
    job_run *jr = ctx;
    return store_and_account(jr, jr->db, jr->rdb, r);
}

/* Stores the complete lines appended to the tuner's log since the last call (those on_record
 * stored already add nothing): so a worker killed mid-job has lost at most the last 0.2 s of
 * records even with a tuner that does not call on_record. The heartbeat thread calls it five
 * times a second with its connection, the tuning thread once at the end with its own. */
static int follow_log(job_run *jr, tt_farm *conn, tt_db *rdb)
{
    FILE *in = fopen(jr->log, "r");
    if (!in)
        return 0;
    if (fseek(in, jr->log_offset, SEEK_SET) != 0) {
        fclose(in);
        return 0;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, in)) > 0 && line[len - 1] == '\n') {
        tt_record *r = NULL;
        if (tt_record_decode(line, (size_t)len, &r) == 0) {
            rc = store_and_account(jr, conn, rdb, r);
            tt_record_free(r);
            if (rc != 0)
                break;
        }
        jr->log_offset += len; /* a line that does not decode is skipped, as a tolerant read does */
    }
    free(line);
    fclose(in);
    return rc;
}

/* The job's task as an op file: its canonical task, its measure settings, its target (or this
 * host's when the device decides). */
static int job_opfile(const tt_farm_job *job, tt_opfile **out)
{
    *out = NULL;
    tt_opfile *f = calloc(1, sizeof *f);
    if (!f)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    char path[64];
    snprintf(path, sizeof path, "farm job %lld", (long long)job->id);
    f->path = strdup(path);
    f->target = strdup(job->target ? job->target : "llvm -mcpu=native");
    f->tasks = calloc(1, sizeof *f->tasks);
    if (!f->path || !f->target || !f->tasks) {
        tt_opfile_free(f);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    tt_measure_opts_default(&f->measure);
    json_error_t err;
    json_t *m = json_loads(job->measure, 0, &err);
    if (!m || !json_is_object(m)) {
        json_decref(m);
        tt_opfile_free(f);
        return tt_error_setc(TT_ERR_PARSE, "farm job %lld: measure settings: %s",
                             (long long)job->id, err.text);
    }
    json_t *v;
    if ((v = json_object_get(m, "repeat")) && json_is_integer(v))
        f->measure.repeat = (int)json_integer_value(v);
    if ((v = json_object_get(m, "min_repeat_ms")) && json_is_number(v))
        f->measure.min_repeat_ms = json_number_value(v);
    if ((v = json_object_get(m, "timeout_s")) && json_is_number(v))
        f->measure.timeout_s = json_number_value(v);
    if ((v = json_object_get(m, "flush_cache")) && json_is_boolean(v))
        f->measure.flush_cache = json_is_true(v);
    if ((v = json_object_get(m, "check")) && json_is_boolean(v))
        f->measure.check = json_is_true(v);
    if ((v = json_object_get(m, "threads")) && json_is_integer(v))
        f->measure.threads = (int)json_integer_value(v);
    json_decref(m);
    tt_task *t = NULL;
    if (tt_task_from_json_text(job->workload, &t)) {
        tt_error_wrap("farm job %lld: task", (long long)job->id);
        tt_opfile_free(f);
        return -1;
    }
    f->tasks[0] = *t; /* moved: the shell alone is freed */
    free(t);
    f->ntasks = 1;
    *out = f;
    return 0;
}

/* Leases devices of the job's kind, waiting (for a notification or a capped backoff, then polling
 * the table again; the heartbeat keeps the job meanwhile) while none is free. 0 with jr->nleases >=
 * 1, 1 when stopped or the lease was lost while waiting, -1 on error. */
static int lease_devices(job_run *jr, const char *holder)
{
    const tt_farm_worker_opts *o = jr->o;
    int want = o->max_devices < MAX_DEVICES ? o->max_devices : MAX_DEVICES;
    double backoff = 0.1;
    bool told = false;
    for (;;) {
        tt_farm_lease got[MAX_DEVICES];
        int n = 0;
        if (tt_farm_device_lease(jr->db, jr->job->kind, want, holder, o->lease_s, got, &n))
            return -1;
        if (n > 0) {
            pthread_mutex_lock(&jr->mu);
            for (int i = 0; i < n; i++) {
                jr->leases[i] = got[i];
                jr->live[i] = true;
            }
            jr->nleases = n;
            pthread_mutex_unlock(&jr->mu);
            return 0;
        }
        if (jr->halt || user_stop(o))
            return 1;
        if (!told)
            say(o, "job %lld: waiting for a free device of kind %s", (long long)jr->job->id,
                jr->job->kind);
        told = true;
        /* A released or added device wakes the wait (NOTIFY); the backoff bounds it anyway. */
        int woke = tt_farm_wait(jr->db, backoff);
        if (woke < 0)
            sleep_s(backoff);
        backoff = woke > 0 ? 0.1 : backoff * 2 < 2 ? backoff * 2 : 2;
    }
}

static void release_devices(job_run *jr)
{
    for (int i = 0; i < jr->nleases; i++)
        if (jr->live[i] && tt_farm_device_release(jr->db, jr->leases[i].token) == -1)
            say(jr->o, "device %s: %s", jr->leases[i].addr, tt_get_last_error());
    jr->nleases = 0;
}

static void remove_dir(const char *dir, const char *log)
{
    unlink(log);
    rmdir(dir);
}

/* Tunes the claimed job. Returns 0 when the job ended (done, failed, given back or lost) and -1
 * when the worker must stop (user stop: job given back; or a database error). */
static int run_job(job_run *jr, const char *holder, int64_t *done)
{
    const tt_farm_worker_opts *o = jr->o;
    tt_farm_job *job = jr->job;
    say(o, "job %lld: %s, %lld trials on %s (attempt %d)", (long long)job->id, job->name,
        (long long)job->trials, job->kind, job->attempts);
    pthread_t hb;
    if (pthread_create(&hb, NULL, heartbeat, jr) != 0)
        return tt_error_setc(TT_ERR_UNKNOWN, "cannot start the heartbeat thread");
    bool hb_joined = false;
    int result = 0;
    tt_opfile *file = NULL;
    char dir[PATH_MAX / 2] = "", log[PATH_MAX] = "";
    const char *state = NULL; /* how the job ends: "done", "failed", "queued"; NULL: lost */
    char summary[600] = "";

    int lrc = lease_devices(jr, holder);
    if (lrc != 0) {
        if (lrc < 0) {
            result = -1;
            state = "queued";
        } else {
            state = jr->lost ? NULL : "queued";
            if (user_stop(o))
                result = tt_error_setc(TT_ERR_INTERRUPTED,
                                       "interrupted; job %lld given back to the queue",
                                       (long long)job->id);
        }
        goto end;
    }
    char devices[MAX_DEVICES * 258] = "";
    const char *rpc[MAX_DEVICES];
    char *keys[MAX_DEVICES] = {0};
    for (int i = 0; i < jr->nleases; i++) {
        if (i)
            strcat(devices, ",");
        strcat(devices, jr->leases[i].addr);
        rpc[i] = jr->leases[i].addr;
        size_t len = strlen(o->key_dir) + strlen(jr->leases[i].key_name) + 2;
        if (!(keys[i] = malloc(len))) {
            tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
            result = -1;
            state = "queued";
            goto free_keys;
        }
        snprintf(keys[i], len, "%s/%s", o->key_dir, jr->leases[i].key_name);
    }
    say(o, "job %lld: devices %s", (long long)job->id, devices);
    if (tt_farm_job_progress(jr->db, job->token, job->trials_done, job->best_gflops, devices) ==
        TT_FARM_LEASE_LOST)
        goto free_keys;

    /* The job's records so far, whoever measured them, become the log it resumes: the cost
     * model trains on them, the trial numbering continues, nothing is measured twice. */
    const char *tmp = getenv("TMPDIR");
    int dlen = snprintf(dir, sizeof dir, "%s/tt-farm-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (dlen < 0 || (size_t)dlen >= sizeof dir || !mkdtemp(dir)) {
        tt_error_setc(TT_ERR_IO, "cannot make a work directory in '%s': %s",
                      tmp && tmp[0] ? tmp : "/tmp", strerror(errno));
        dir[0] = '\0';
        result = -1;
        state = "queued";
        goto free_keys;
    }
    snprintf(log, sizeof log, "%s/job-%lld.log", dir, (long long)job->id);
    int64_t exported = 0;
    if (tt_farm_records_export(jr->rdb, job->key, job->target, log, &exported)) {
        result = -1;
        state = "queued";
        goto free_keys;
    }
    if (job_opfile(job, &file)) { /* the job itself is bad: no worker can run it */
        state = "failed";
        snprintf(summary, sizeof summary, "%s", tt_get_last_error());
        goto free_keys;
    }
    jr->trials_done = job->trials_done;
    jr->best_gflops = job->best_gflops;
    struct stat st;
    snprintf(jr->log, sizeof jr->log, "%s", log);
    pthread_mutex_lock(&jr->mu);
    jr->log_offset = stat(log, &st) == 0 && st.st_size > 0 ? (long)st.st_size : 0;
    jr->following = true;
    pthread_mutex_unlock(&jr->mu);

    tt_tune_opts opts;
    tt_tune_opts_default(&opts);
    opts.trials = job->trials;
    if (o->tuner)
        opts.tuner = o->tuner;
    opts.log_path = log;
    opts.target = job->target;
    opts.resume = true;
    opts.jobs = o->jobs;
    opts.seed = (uint64_t)job->id * 1000003u + (uint64_t)job->attempts; /* new candidates */
    opts.quiet = o->quiet;
    opts.progress = o->progress;
    opts.faults = o->faults;
    opts.stop = &jr->halt;
    opts.rpc = rpc;
    opts.rpc_key_files = (const char *const *)keys;
    opts.nrpc = jr->nleases;
    opts.on_record = on_record;
    opts.on_record_ctx = jr;
    tt_tune_result res;
    int rc = tt_tune_run(file, &opts, &res);
    char why[400];
    snprintf(why, sizeof why, "%s", rc ? tt_get_last_error() : "");
    tt_error_category why_cat = rc ? tt_get_last_error_category() : TT_ERR_OK;

    /* Records neither the hook nor the heartbeat stored yet: the heartbeat thread ends first
     * (it may be storing), then this thread stores the rest of the log. */
    pthread_mutex_lock(&jr->mu);
    jr->ending = true;
    pthread_cond_signal(&jr->wake);
    pthread_mutex_unlock(&jr->mu);
    pthread_join(hb, NULL);
    hb_joined = true;
    if (!jr->lost && !jr->record_error)
        follow_log(jr, jr->db, jr->rdb);

    if (jr->lost) {
        say(o, "job %lld: lease lost (another worker has it); stopped", (long long)job->id);
        state = NULL;
    } else if (user_stop(o)) {
        state = "queued";
        result = -1;
        tt_error_setc(TT_ERR_INTERRUPTED, "interrupted; job %lld given back to the queue",
                      (long long)job->id);
    } else if (jr->no_device) {
        state = "queued";
        snprintf(summary, sizeof summary, "every device of the job was quarantined");
    } else if (jr->record_error) {
        /* The database failed under this worker: give the job back and stop (a worker that
         * cannot store records must not claim more). */
        state = "queued";
        snprintf(summary, sizeof summary, "a worker could not store a record");
        result = tt_error_setc(TT_ERR_IO, "job %lld: storing a record failed; job given back",
                               (long long)job->id);
    } else if (rc != 0 && why_cat == TT_ERR_IO && jr->nleases > 0) {
        /* The tuner could not start on the devices (none answered): a failure of each, and the
         * job goes back; K such rounds quarantine them. */
        for (int i = 0; i < jr->nleases; i++)
            if (jr->live[i] && tt_farm_device_report(jr->db, jr->leases[i].token, why,
                                                     o->max_failures, NULL) == -1)
                say(o, "device %s: %s", jr->leases[i].addr, tt_get_last_error());
        state = "queued";
        snprintf(summary, sizeof summary, "%s", why);
    } else if (rc != 0) {
        state = "failed";
        snprintf(summary, sizeof summary, "%s", why);
    } else {
        const tt_tune_task_result *t = res.ntasks ? &res.tasks[0] : NULL;
        if (t && t->trials > jr->trials_done)
            jr->trials_done = t->trials;
        if (t && t->best_gflops > jr->best_gflops)
            jr->best_gflops = t->best_gflops;
        if (res.status == TT_TUNE_FINISHED) {
            state = "done";
            snprintf(summary, sizeof summary, "%lld trials (%lld here), best %.2f GFLOPS",
                     (long long)(t ? t->trials : 0), (long long)(t ? t->trials_run : 0),
                     t ? t->best_gflops : 0.0);
        } else {
            state = "failed";
            snprintf(summary, sizeof summary, "%s",
                     t && t->diagnosis && t->diagnosis[0] ? t->diagnosis : "no valid candidate");
        }
        tt_farm_job_progress(jr->db, job->token, jr->trials_done, jr->best_gflops, NULL);
        if (t && t->best_gflops > 0)
            tt_farm_job_set_best(jr->db, job->token, t->best_gflops);
    }
    tt_tune_result_free(&res);

free_keys:
    for (int i = 0; i < MAX_DEVICES; i++)
        free(keys[i]);
end:
    if (!hb_joined) {
        pthread_mutex_lock(&jr->mu);
        jr->ending = true;
        pthread_cond_signal(&jr->wake);
        pthread_mutex_unlock(&jr->mu);
        pthread_join(hb, NULL);
    }
    char err[600];
    snprintf(err, sizeof err, "%s", result ? tt_get_last_error() : "");
    tt_error_category cat = result ? tt_get_last_error_category() : TT_ERR_OK;
    if (state) {
        int frc = tt_farm_job_finish(jr->db, job->token, state, summary[0] ? summary : NULL);
        if (frc == 0 && strcmp(state, "queued") != 0 && done)
            (*done)++;
        if (frc == 0)
            say(o, "job %lld: %s%s%s", (long long)job->id,
                strcmp(state, "queued") == 0 ? "given back to the queue" : state,
                summary[0] ? ": " : "", summary);
        else if (frc == TT_FARM_LEASE_LOST)
            say(o, "job %lld: lease lost before it ended", (long long)job->id);
        else
            say(o, "job %lld: %s", (long long)job->id, tt_get_last_error());
    }
    release_devices(jr);
    if (dir[0])
        remove_dir(dir, log);
    tt_opfile_free(file);
    if (result)
        tt_error_setc(cat, "%s", err);
    return result;
}

int tt_farm_work(const tt_farm_worker_opts *o, int64_t *done)
{
    if (done)
        *done = 0;
    if (!(o->lease_s >= 3 && o->lease_s <= 86400))
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "--lease-s %g: expected seconds from 3 to 86400", o->lease_s);
    if (o->max_devices < 1 || o->max_devices > MAX_DEVICES)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "--devices %d: expected an integer from 1 to %d", o->max_devices,
                             MAX_DEVICES);
    struct stat st;
    if (stat(o->key_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "--key-dir %s: not a directory", o->key_dir);
    char holder[300];
    if (o->worker) {
        snprintf(holder, sizeof holder, "%s", o->worker);
    } else {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(holder, sizeof holder, "%s:%ld", host, (long)getpid());
    }
    tt_farm *db = NULL, *hb = NULL;
    tt_db *rdb = NULL, *rdb_hb = NULL;
    if (tt_farm_open(o->uri, &db) || tt_farm_open(o->uri, &hb) || tt_db_open(o->uri, &rdb) ||
        tt_db_open(o->uri, &rdb_hb)) {
        tt_db_close(rdb);
        tt_farm_close(hb);
        tt_farm_close(db);
        return -1;
    }
    say(o, "worker %s on %s", holder, tt_farm_server(db));
    int rc = 0;
    double backoff = 0.1;
    for (;;) {
        if (user_stop(o)) {
            rc = tt_error_setc(TT_ERR_INTERRUPTED, "interrupted");
            break;
        }
        tt_farm_job *job = NULL;
        if (tt_farm_job_claim(db, holder, o->lease_s, &job)) {
            rc = -1;
            break;
        }
        if (job) {
            backoff = 0.1;
            job_run jr = {.o = o, .db = db, .hb = hb, .rdb = rdb, .rdb_hb = rdb_hb, .job = job};
            pthread_mutex_init(&jr.mu, NULL);
            pthread_cond_init(&jr.wake, NULL);
            int jrc = run_job(&jr, holder, done);
            pthread_cond_destroy(&jr.wake);
            pthread_mutex_destroy(&jr.mu);
            tt_farm_job_free(job);
            if (jrc) {
                rc = -1;
                break;
            }
            continue;
        }
        /* Nothing to claim. Polling with a capped backoff: the tables are the truth. With
         * --until-empty, wait out the lease of a running job (its worker may have died: then
         * this worker claims and finishes it). */
        double wait = backoff;
        if (o->until_empty) {
            int64_t open = 0, waiting = 0;
            double expiry = 0;
            if (tt_farm_job_pending(db, &open, &waiting, &expiry)) {
                rc = -1;
                break;
            }
            if (open == 0)
                break;
            if (open == waiting) {
                rc = tt_error_setc(TT_ERR_UNKNOWN,
                                   "%lld open job%s wait%s for devices of a kind that has none "
                                   "outside quarantine (farm devices; farm device add)",
                                   (long long)open, open == 1 ? "" : "s", open == 1 ? "s" : "");
                break;
            }
            if (expiry > 0 && expiry + 0.05 < wait)
                wait = expiry + 0.05;
        }
        /* A submitted or given-back job wakes the wait (NOTIFY); the tables decide. */
        int woke = tt_farm_wait(db, wait);
        if (woke < 0)
            sleep_s(wait);
        backoff = woke > 0 ? 0.1 : backoff * 2 < 2 ? backoff * 2 : 2;
    }
    tt_db_close(rdb_hb);
    tt_db_close(rdb);
    tt_farm_close(hb);
    tt_farm_close(db);
    return rc;
}
