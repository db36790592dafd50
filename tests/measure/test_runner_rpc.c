/* Tests measure/runner_rpc.c against the real tvm-tune-rpc (forked here on port 0, its sessions
 * logged to a file, stopped in the group teardown even after a failure) with the fault-injecting
 * libraries of faults/: a correct kernel checked against a + b computed here, a wrong one, a kernel
 * error, a crash and a hang (each followed by a good candidate on the same device), a device
 * killed and restarted on its port, one session for many candidates, the backoff schedule (on a
 * recorded sleep) and the requests refused. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "measure_test.h"
#include "tt/rpc.h"
#include "tt_test_rpc.h"

enum { N = 1000 };

static char dir[64], key[128], work[128], log_path[128];
static pid_t server = -1;
static int port;
static float expected[N];
static tt_measure_tensor vec[3];

static void expect_in(const char *msg, const char *fragment)
{
    if (strstr(msg, fragment) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", msg, fragment);
}

/* Starts the server on port p (0: any) and reads the port from its first line: the only wait. */
static int start_server(int p)
{
    return tt_test_start_rpc_server(TT_RPC_SERVER, p, key, work, log_path, &server, &port);
}

/* The pids of the sessions the server logged ("session PID from ...: authenticated"), in order;
 * returns how many. */
static int session_pids(pid_t *pids, int cap)
{
    FILE *f = fopen(log_path, "r");
    if (f == NULL)
        return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        int pid;
        if (strstr(line, "authenticated") != NULL &&
            sscanf(line, "tvm-tune-rpc: session %d from", &pid) == 1 && n < cap)
            pids[n++] = pid;
    }
    fclose(f);
    return n;
}

/* SIGKILLs the process group of a session, if pid still is one of this test's server's processes
 * (a pid of a session long gone may belong to someone else by now). */
static void kill_session(pid_t pid)
{
    char link[64], exe[PATH_MAX], want[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(link, exe, sizeof exe - 1);
    if (n <= 0 || realpath(TT_RPC_SERVER, want) == NULL)
        return;
    exe[n] = '\0';
    if (strcmp(exe, want) == 0 && getpgid(pid) == pid)
        kill(-pid, SIGKILL);
}

/* Each session runs in its own process group; SIGKILL them all (a dead device). */
static void kill_sessions(void)
{
    pid_t pids[256];
    int n = session_pids(pids, 256);
    for (int i = 0; i < n; i++)
        kill_session(pids[i]);
}

static void kill_server(int sig)
{
    if (server > 0) {
        kill(server, sig);
        waitpid(server, NULL, 0);
        server = -1;
    }
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/tt_runner_rpc_XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(key, sizeof key, "%s/dev.key", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    snprintf(log_path, sizeof log_path, "%s/server.log", dir);
    if (tt_rpc_keygen(key) != 0 || mkdir(work, 0700) != 0)
        return -1;
    /* c = a + b on the runner's inputs: the reference, computed here. */
    DLTensor *a, *b;
    int64_t shape[1] = {N};
    DLDataType f32 = {kDLFloat, 32, 1};
    DLDevice cpu = {kDLCPU, 0};
    if (tt_array_alloc(shape, 1, f32, cpu, &a) != 0 || tt_array_alloc(shape, 1, f32, cpu, &b) != 0)
        return -1;
    tt_measure_fill_random(a, 7, 0);
    tt_measure_fill_random(b, 7, 1);
    for (int i = 0; i < N; i++)
        expected[i] = ((float *)a->data)[i] + ((float *)b->data)[i];
    tt_array_free(a);
    tt_array_free(b);
    for (int i = 0; i < 3; i++)
        vec[i] = (tt_measure_tensor){.ndim = 1, .shape = {N}, .dtype = f32};
    return start_server(0);
}

static int teardown(void **state)
{
    kill_server(SIGTERM);
    kill_sessions(); /* a hung session outlives a SIGTERM'd server only until here */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static tt_run_request request(const char *lib, const char *func)
{
    tt_run_request r = {.lib_path = lib,
                        .func_name = func,
                        .args = vec,
                        .n_args = 3,
                        .seed = 7,
                        .ref_output = expected,
                        .ref_nbytes = sizeof expected,
                        .timeout_s = 60};
    tt_timing_opts_default(&r.timing);
    r.timing.min_repeat_ms = 1;
    return r;
}

static tt_rpc_device *device(void)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    tt_rpc_device *d;
    if (tt_rpc_device_new(addr, key, NULL, &d) != 0)
        fail_msg("tt_rpc_device_new: %s", tt_get_last_error());
    return d;
}

static void run(tt_rpc_device *d, const tt_run_request *req, int error, const char *fragment,
                tt_run_result *r)
{
    if (tt_runner_rpc_run(d, req, r) != 0)
        fail_msg("tt_runner_rpc_run: %s", tt_get_last_error());
    if (r->error != error)
        fail_msg("error %d (\"%s\"), expected %d", r->error, r->error_msg, error);
    if (error != TT_OUTCOME_OK)
        print_message("outcome %d: %s\n", r->error, r->error_msg);
    expect_in(r->error_msg, fragment);
}

static void run_ok(tt_rpc_device *d)
{
    tt_run_request req = request(TT_FAULT_GOOD, "vadd");
    tt_run_result r;
    run(d, &req, TT_OUTCOME_OK, "", &r);
    assert_string_equal(r.error_msg, "");
    assert_int_equal(r.timing.n_costs, 3);
    for (int i = 0; i < 3; i++)
        assert_true(r.timing.costs[i] > 0);
    assert_true(r.timing.cost >= r.timing.costs[0] || r.timing.cost >= r.timing.costs[1]);
    assert_true(r.timing.spread >= 0);
}

/* Files left in the sessions' work directories (uploads not removed). */
static int files_on_device(void)
{
    int n = 0;
    DIR *top = opendir(work);
    struct dirent *e;
    while (top != NULL && (e = readdir(top)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%s", work, e->d_name);
        DIR *s = opendir(sub);
        struct dirent *f;
        while (s != NULL && (f = readdir(s)) != NULL)
            n += f->d_name[0] != '.';
        if (s != NULL)
            closedir(s);
    }
    if (top != NULL)
        closedir(top);
    return n;
}

static void good_kernels_share_one_session(void **state)
{
    pid_t pids[256];
    int before = session_pids(pids, 256);
    tt_rpc_device *d = device();
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_string_equal(tt_rpc_device_name(d), addr);
    assert_int_equal(tt_rpc_device_sessions(d), 0);
    for (int i = 0; i < 5; i++) {
        run_ok(d);
        assert_int_equal(files_on_device(), 0);
    }
    assert_int_equal(tt_rpc_device_sessions(d), 1);
    assert_int_equal(session_pids(pids, 256), before + 1); /* the server saw one session */
    /* The record's name: "HOST:PORT (cpu, triple)", from the device's own description. */
    expect_in(tt_rpc_device_name(d), addr);
    assert_true(tt_rpc_device_triple(d)[0] != '\0');
    expect_in(tt_rpc_device_name(d), tt_rpc_device_triple(d));
    assert_true(tt_rpc_device_cores(d) >= 1);
    tt_rpc_device_free(d);
}

/* The device's timer follows the host's protocol: the grown number comes back, and a candidate
 * slower than slow_factor x best_so_far stops after its first batch, as tt_measure_time does. */
static void timing_number_and_early_stop(void **state)
{
    tt_rpc_device *d = device();
    tt_run_request req = request(TT_FAULT_GOOD, "vadd");
    tt_run_result r;
    run(d, &req, TT_OUTCOME_OK, "", &r);
    assert_int_equal(r.timing.n_costs, 3);
    assert_false(r.timing.pruned);
    assert_true(r.timing.number >= 1);
    /* a batch of `number` runs lasted about min_repeat_ms (half of it: room for a faster one) */
    assert_true((double)r.timing.number * r.timing.cost >= 0.5e-3 * req.timing.min_repeat_ms);
    /* a best 1000 times faster than this kernel: one cost, pruned */
    req.timing.best_so_far = r.timing.cost / 1000;
    run(d, &req, TT_OUTCOME_OK, "", &r);
    assert_int_equal(r.timing.n_costs, 1);
    assert_true(r.timing.pruned);
    assert_true(r.timing.costs[0] > req.timing.best_so_far * req.timing.slow_factor);
    /* a best far slower than it: the full protocol */
    req.timing.best_so_far = 1000;
    run(d, &req, TT_OUTCOME_OK, "", &r);
    assert_int_equal(r.timing.n_costs, 3);
    assert_false(r.timing.pruned);
    tt_rpc_device_free(d);
}

static void wrong_answers(void **state)
{
    tt_rpc_device *d = device();
    tt_run_result r;
    tt_run_request req = request(TT_FAULT_WRONG, "vadd");
    run(d, &req, TT_OUTCOME_WRONG_ANSWER, " at index 17 (got ", &r);
    /* A kernel that never writes its output finds it poisoned, not zeroed by chance. */
    req.func_name = "vadd_lazy";
    run(d, &req, TT_OUTCOME_WRONG_ANSWER, "at index 0", &r);
    req.func_name = "absent";
    run(d, &req, TT_OUTCOME_RUNTIME_ERROR, "has no kernel \"absent\"", &r);
    req = request(TT_FAULT_ERROR, "vadd");
    run(d, &req, TT_OUTCOME_RUNTIME_ERROR, "injected failure", &r);
    expect_in(r.error_msg, "the first run");
    assert_int_equal(tt_rpc_device_sessions(d), 1); /* none of these ends the session */
    assert_int_equal(files_on_device(), 0);
    run_ok(d);
    tt_rpc_device_free(d);
}

static void crash_then_next_candidate(void **state)
{
    tt_rpc_device *d = device();
    run_ok(d);
    tt_run_result r;
    tt_run_request req = request(TT_FAULT_SEGV, "vadd");
    run(d, &req, TT_OUTCOME_RUNTIME_ERROR, "crash", &r);
    if (strstr(r.error_msg, " lost: ") != NULL && strncmp(r.error_msg, "device ", 7) == 0)
        fail_msg("a crash reported as a lost device: %s", r.error_msg);
    run_ok(d);
    assert_int_equal(tt_rpc_device_sessions(d), 2);
    tt_rpc_device_free(d);
}

static void hang_times_out(void **state)
{
    tt_rpc_device *d = device();
    run_ok(d);
    pid_t pids[256];
    int n = session_pids(pids, 256);
    assert_true(n >= 1);
    pid_t hung = pids[n - 1]; /* the device's session: the last one opened */
    tt_run_result r;
    tt_run_request req = request(TT_FAULT_HANG, "vadd");
    req.timeout_s = 2; /* room for the upload on a loaded machine: the hang is in the run */
    run(d, &req, TT_OUTCOME_RUN_TIMEOUT, "timeout", &r);
    expect_in(r.error_msg, "the first run");
    assert_true(r.elapsed_s >= 1.99); /* a lower bound only (ms rounding) */
    kill_session(hung);               /* the server would reclaim it at its session time limit */
    run_ok(d);
    assert_int_equal(tt_rpc_device_sessions(d), 2);
    tt_rpc_device_free(d);
}

static void device_killed_and_restarted(void **state)
{
    tt_rpc_device *d = device();
    run_ok(d);
    /* Power off: the server and every session process. */
    kill_server(SIGKILL);
    kill_sessions();
    tt_run_result r;
    tt_run_request req = request(TT_FAULT_GOOD, "vadd");
    char lost[64];
    snprintf(lost, sizeof lost, "device 127.0.0.1:%d lost: ", port);
    run(d, &req, TT_OUTCOME_DEVICE_ERROR, lost, &r);
    assert_int_equal(start_server(port), 0);
    run_ok(d);
    assert_int_equal(tt_rpc_device_sessions(d), 2);
    tt_rpc_device_free(d);
}

static double waits[16];
static int n_waits;

static void record_sleep(double s)
{
    if (n_waits < 16)
        waits[n_waits++] = s;
}

/* Nothing listens: every try is refused, and the waits between them follow the schedule. */
static void backoff_then_lost(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd); /* a port nobody listens on */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    tt_rpc_device_opts o = {.max_tries = 8};
    tt_rpc_device *d;
    assert_int_equal(tt_rpc_device_new(addr, key, &o, &d), 0);
    tt_runner_rpc_set_sleep(record_sleep);
    n_waits = 0;
    tt_run_result r;
    tt_run_request req = request(TT_FAULT_GOOD, "vadd");
    if (tt_runner_rpc_run(d, &req, &r) != 0)
        fail_msg("tt_runner_rpc_run: %s", tt_get_last_error());
    tt_runner_rpc_set_sleep(NULL);
    assert_int_equal(r.error, TT_OUTCOME_DEVICE_ERROR);
    expect_in(r.error_msg, "lost: no session after 8 tries");
    expect_in(r.error_msg, addr);
    const double want[7] = {0.2, 0.4, 0.8, 1.6, 3.2, 5, 5};
    assert_int_equal(n_waits, 7);
    for (int i = 0; i < 7; i++)
        assert_true(fabs(waits[i] - want[i]) < 1e-9);
    assert_int_equal(tt_rpc_device_sessions(d), 0);
    tt_rpc_device_free(d);
}

/* A device that refuses the key: tt_rpc_device_connect says why (the tuner checks its devices so
 * before tuning), and a run is an outcome, not a crash. */
static void wrong_key(void **state)
{
    char other[160], addr[64];
    snprintf(other, sizeof other, "%s/other.key", dir);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_int_equal(tt_rpc_keygen(other), 0);
    tt_rpc_device_opts o = {.max_tries = 2};
    tt_rpc_device *d;
    assert_int_equal(tt_rpc_device_new(addr, other, &o, &d), 0);
    tt_runner_rpc_set_sleep(record_sleep);
    n_waits = 0;
    assert_int_equal(tt_rpc_device_connect(d), -1);
    expect_in(tt_get_last_error(), "lost: no session after 2 tries");
    expect_in(tt_get_last_error(), "authentication failed");
    tt_run_result r;
    tt_run_request req = request(TT_FAULT_GOOD, "vadd");
    run(d, &req, TT_OUTCOME_DEVICE_ERROR, "authentication failed", &r);
    tt_runner_rpc_set_sleep(NULL);
    assert_int_equal(n_waits, 2); /* one wait per call: between its two tries */
    assert_int_equal(tt_rpc_device_sessions(d), 0);
    tt_rpc_device_free(d);
}

static void refused_requests(void **state)
{
    tt_rpc_device *d;
    assert_int_equal(tt_rpc_device_new("127.0.0.1", key, NULL, &d), -1);
    expect_in(tt_get_last_error(), "expected HOST:PORT");
    assert_int_equal(tt_rpc_device_new("h:70000", key, NULL, &d), -1);
    d = device();
    tt_run_result r;
    tt_run_request req = request(TT_FAULT_GOOD, "vadd");
    req.ref_output = NULL;
    req.ref_lib_path = TT_FAULT_GOOD;
    req.ref_func_name = "vadd";
    assert_int_equal(tt_runner_rpc_run(d, &req, &r), -1);
    expect_in(tt_get_last_error(), "ref_output");
    req = request(TT_FAULT_GOOD, "vadd");
    req.timeout_s = 0;
    assert_int_equal(tt_runner_rpc_run(d, &req, &r), -1);
    expect_in(tt_get_last_error(), "tt_runner_rpc_run: timeout_s");
    assert_int_equal(tt_runner_rpc_run(NULL, &req, &r), -1);
    assert_int_equal(tt_rpc_device_sessions(d), 0); /* nothing was sent */
    tt_rpc_device_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_requests),
        cmocka_unit_test(good_kernels_share_one_session),
        cmocka_unit_test(wrong_answers),
        cmocka_unit_test(crash_then_next_candidate),
        cmocka_unit_test(timing_number_and_early_stop),
        cmocka_unit_test(hang_times_out),
        cmocka_unit_test(backoff_then_lost),
        cmocka_unit_test(wrong_key),
        cmocka_unit_test(device_killed_and_restarted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
