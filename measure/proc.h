/* Child-process plumbing shared by the builder and the local runner: start, wait with a deadline,
 * kill, describe an exit status, and the lock that keeps builds and measurements apart. Internal
 * to measure/ (not exported from libtt). */
#ifndef TT_MEASURE_PROC_H
#define TT_MEASURE_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Seconds on CLOCK_MONOTONIC. */
double tt_proc_now(void);

/* Held by tt_builder_run and tt_runner_local_run for their whole duration: one batch of builds or
 * one measurement at a time in a process. */
void tt_proc_lock(void);
void tt_proc_unlock(void);

/* fork(); in the child (return 0): its own process group (so a terminal's Ctrl-C reaches only the
 * tuner, and a timeout can kill the child with whatever it spawned), SIGKILL when the parent
 * dies, and the default action for crash signals, so a crash ends the child with its signal even
 * under a sanitizer's handlers. Returns the pid in the parent, -1 with the error set. */
pid_t tt_proc_fork(const char *what);

/* Waits for pid until the CLOCK_MONOTONIC time deadline. 0: reaped, *status set; 1: still running
 * at the deadline. */
int tt_proc_wait(pid_t pid, double deadline, int *status);

/* SIGKILLs pid and its process group, then reaps it. */
void tt_proc_kill(pid_t pid);

/* "killed by signal 11 (Segmentation fault)" or "exited with status 3". */
void tt_proc_describe(int status, char *buf, size_t len);

/* Writes all n bytes (retrying short writes and EINTR); -1 on failure. */
int tt_proc_write_all(int fd, const void *p, size_t n);

/* Reads what is available from fd into buf[*len..cap) without blocking past one read(); bytes
 * beyond cap are read and dropped. Returns 1 at end of file, 0 otherwise. */
int tt_proc_read_some(int fd, char *buf, size_t cap, size_t *len);

#endif
