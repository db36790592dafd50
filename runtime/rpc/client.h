/* Between client.c (sessions, proxies, the wire) and client_api.c (the tt_rpc_* helpers built on
 * remote calls): the remote object layout and calls of the device's rpc.* globals. */
#ifndef TT_RPC_CLIENT_H
#define TT_RPC_CLIENT_H

#include "proto.h"

typedef struct rpc_sess rpc_sess;

/* An object on the device the client holds: an array (code TT_NDARRAY) or another object. */
typedef struct {
    tt_object obj;
    rpc_sess *s;
    uint64_t remote_id;
    int code;
    int64_t nbytes; /* arrays from tt_rpc_array_alloc: their byte size; else -1 */
} remote_obj;

/* h as a remote object ("rpc.RemoteObject"), or NULL. */
remote_obj *tt_rpc_as_remote(const void *h);
/* The session of a forwarding function, or NULL when f is not one. */
rpc_sess *tt_rpc_func_session(tt_func f);
/* Calls the device's global name (looked up once per session); *vals holds the answer, remote
 * handles in it already made into proxies. who prefixes errors. */
int tt_rpc_call_global_s(rpc_sess *s, const char *who, const char *name, const tt_value *args,
                         const int *codes, int n, tt_rpc_values *vals);
/* The same for a session given as its Module. */
int tt_rpc_call_global(tt_module session, const char *who, const char *name, const tt_value *args,
                       const int *codes, int n, tt_rpc_values *vals);

#endif
