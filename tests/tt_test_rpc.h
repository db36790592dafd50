/* Helpers for tests that run the RPC server (header only): start tvm-tune-rpc and read the port
 * from its first stdout line, which is the only wait. */
#ifndef TT_TESTS_TT_TEST_RPC_H
#define TT_TESTS_TT_TEST_RPC_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Starts `server_bin --port PORT --key-file KEY --work-dir WORK` (port 0: any free one), its
 * stderr appended to log_path (NULL: inherited); *pid is the server, *bound the port it listens
 * on. -1 when it cannot be started or does not say where it listens. */
static inline int tt_test_start_rpc_server(const char *server_bin, int port, const char *key,
                                           const char *work, const char *log_path, pid_t *pid,
                                           int *bound)
{
    int out[2];
    if (pipe(out) != 0)
        return -1;
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    *pid = fork();
    if (*pid < 0)
        return -1;
    if (*pid == 0) {
        if (log_path != NULL) {
            int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            dup2(log, 2);
        }
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl(server_bin, server_bin, "--port", port_arg, "--key-file", key, "--work-dir", work,
              (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[128];
    FILE *f = fdopen(out[0], "r");
    if (f == NULL || fgets(line, sizeof line, f) == NULL)
        return -1;
    fclose(f);
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) != 0 || colon == NULL)
        return -1;
    *bound = atoi(colon + 1);
    return 0;
}

#endif
