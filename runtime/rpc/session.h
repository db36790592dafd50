/* The device side of one RPC session: after the handshake, serve_session answers GET_GLOBAL,
 * CALL, FREE and CLOSE frames with the runtime's own registry and PackedFuncs, keeping every
 * object the client holds in a table of handles (ids on the wire, never pointers). The session's
 * built-in functions (upload, load_module, arrays, time evaluator, device info) are in
 * device_api.c and registered only in a session process. */
#ifndef TT_RPC_SESSION_H
#define TT_RPC_SESSION_H

#include "channel.h"

/* Registers the rpc.* globals for a session whose files live in work_dir (created by the caller)
 * and may total at most max_upload bytes. */
int tt_rpc_device_api_register(const char *work_dir, uint64_t max_upload);

/* Serves c until CLOSE (0) or a broken connection (-1, with the reason). */
int tt_rpc_session_serve(tt_rpc_channel *c);

/* The JSON that rpc.device_info returns (caller frees). */
char *tt_rpc_device_info_json(void);

#endif
