/*
 * trellis_cloexec: sets FD_CLOEXEC on descriptors of this process (src/close-on-exec.ts is the only
 * caller; it finds the descriptors of an LMDB file and passes their numbers here).
 *
 * Why it exists: LMDB opens an environment's data file without O_CLOEXEC on purpose (mdb.c,
 * mdb_fopen: "all but me_fd, which programs do use via mdb_env_get_fd()"; its lock and meta
 * descriptors do get O_CLOEXEC), and lmdb-js has no option to change that nor a way to reach the
 * descriptor. Node.js marks its own descriptors close-on-exec, and neither Node.js nor libuv closes
 * anything else when it spawns: every process started after a Trellis LMDB file was opened (Python
 * workers, the subprocesses of their tools, etcd, whatever the app spawns) held the file open
 * read-write. Node.js has no fcntl, hence this one call. It is C against Node-API only, which is
 * ABI-stable: the one binary built by scripts/build-native.mjs serves Node.js 20 and 24, and the
 * package ships it, so no compiler is needed where the package is installed.
 *
 * Context-aware (NAPI_MODULE_INIT): worker threads that open the registry load it too. The
 * descriptor table is the process's, so a call from any thread marks it for all.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>

/* setCloexec(fd: number): number. 0 when the descriptor now has FD_CLOEXEC (or already had it),
 * otherwise the errno of the failing fcntl (EBADF: the descriptor was closed meanwhile). */
static napi_value set_cloexec(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "setCloexec(fd): fd must be a descriptor number >= 0");
    return NULL;
  }
  int rc = 0;
  int flags = fcntl(fd, F_GETFD);
  if (flags == -1)
    rc = errno;
  else if (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1)
    rc = errno;
  napi_create_int32(env, rc, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "setCloexec", NAPI_AUTO_LENGTH, set_cloexec, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "setCloexec", fn) != napi_ok)
    return NULL;
  return exports;
}
