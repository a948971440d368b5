/*
 * trellis_mmap: maps a worker's sealed result memfd into the host as an ArrayBuffer whose *backing
 * store* owns the mapping (src/shm/mapped-results.ts is the only caller).
 *
 * Why an addon of our own: Node has no mmap, and no package on npm ships a prebuilt binary that
 * maps a sealed memfd into an external ArrayBuffer that unmaps it when freed (checked with `npm
 * view`, 2026-12: mmap-io 1.1.7 and @riaskov/mmap-io 1.4.3 are NAN addons built by node-gyp at
 * install, with no prebuilt binary and no seal check; shmmap 1.0.0 and mmap-object 1.5.0 likewise
 * build at install; mmap-utils does not exist). The FFI route (koffi) gave an ArrayBuffer that
 * `ArrayBuffer.prototype.transfer` could move away from the FinalizationRegistry that unmapped it,
 * and marking it untransferable aborted Node.js 24.22 at exit (docs/grpc-bridge.md). It is C
 * against Node-API only, which is ABI-stable: the one binary built by scripts/build-native.mjs
 * serves Node.js 20 and 24 alike, and no compiler is needed where the package is installed.
 *
 * When the finalizer runs (read in nodejs/node's src/ at main, 2026; Node.js 20.20 and 24.22 behave
 * so, which test/mapped-results.test.ts checks on each: transfer, postMessage, teardown, exit):
 *  - js_native_api_v8.cc `napi_create_external_arraybuffer` calls `napi_create_external_buffer`
 *    ("The API contract here is that the cleanup function runs on the JS thread ... so use the
 *    `Buffer` variant"), which (node_api.cc) calls node::Buffer::New(..., FinalizeBufferCallback).
 *  - node_buffer.cc `CallbackInfo::CreateTrackedArrayBuffer` gives V8 a BackingStore whose
 *    *deleter* is `CallbackInfo::OnBackingStoreFree`, which posts the callback to the creating
 *    thread (`SetImmediateThreadsafe`). The deleter runs when the backing store is freed, that is
 *    when the last ArrayBuffer holding it is collected, in whichever isolate: after
 *    `ArrayBuffer.prototype.transfer()` (same isolate, new ArrayBuffer) or a postMessage transfer
 *    (another thread) the finalizer runs only when the new holder is collected. The JS object is
 *    held only weakly (`persistent_.SetWeak()`), to detach it at teardown.
 *  - The exception is env teardown: `CallbackInfo::Clean` (run from Environment::RunCleanup: a
 *    Cleanable on 24, before the env's cleanup hooks; a cleanup hook on older lines) detaches the
 *    original ArrayBuffer if it still exists and calls the callback *then*, even if another thread
 *    still holds the backing store (a worker thread that posted its result to the main thread and
 *    ended). Unmapping there pulls the pages from under that thread: SIGSEGV (the teardown test
 *    does exactly that without the check below). So the finalizer first asks whether the env can
 *    still run JavaScript (FreeEnvironment sets can_call_into_js to false before RunCleanup, and a
 *    Node-API call with NAPI_PREAMBLE then fails). During teardown it unmaps only when the
 *    caller's ArrayBuffer (recorded by `adopt`) is still alive in this env and attached, that is
 *    when the pages never left it (held_only_here says why that suffices); otherwise it leaves the
 *    mapping in place (counted in `leaked`, still counted live; the process exit frees it).
 *  - node::Buffer::New also marks the ArrayBuffer it makes untransferable for postMessage (an
 *    untransferable private symbol); mapped-results.ts moves it once with `transfer()` where that
 *    exists, so the caller's ArrayBuffer can be posted to another thread like any other.
 *
 * munmap of a 100 MiB private mapping of a memfd (freeing its page tables and dropping the last
 * references to the file's pages) takes 20-50 ms on this machine: the finalizer runs on the JS
 * thread, so it only queues the range, and one background thread (started on first use, sleeping
 * on a condition variable otherwise) unmaps it. Nothing in JS can reach the range any more by then.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif

/* Process-wide (every env that loads the addon shares the one copy): the live mapped results and
 * their bytes, bounded by the pool option maxMappedBytes, decremented when a backing store dies. */
static atomic_llong live_bytes;
static atomic_llong live_count;
static atomic_llong made_count;
static atomic_llong leaked_count;

typedef struct unmap_job {
  void *addr;
  size_t len;
  struct unmap_job *next;
} unmap_job;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static unmap_job *queue_head;
static int unmapper_started;

static void *unmapper(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&queue_lock);
    while (queue_head == NULL) pthread_cond_wait(&queue_cond, &queue_lock);
    unmap_job *job = queue_head;
    queue_head = job->next;
    pthread_mutex_unlock(&queue_lock);
    munmap(job->addr, job->len);
    free(job);
  }
  return NULL;
}

/* Queues a range for the background thread; unmaps inline if the thread or the job cannot be had
 * (slower, never wrong). */
static void unmap_later(void *addr, size_t len) {
  unmap_job *job = malloc(sizeof *job);
  pthread_mutex_lock(&queue_lock);
  if (!unmapper_started) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* Small stack: it only calls munmap. */
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&t, &attr, unmapper, NULL) == 0) unmapper_started = 1;
    pthread_attr_destroy(&attr);
  }
  if (job != NULL && unmapper_started) {
    job->addr = addr;
    job->len = len;
    job->next = queue_head;
    queue_head = job;
    pthread_cond_signal(&queue_cond);
    pthread_mutex_unlock(&queue_lock);
    return;
  }
  pthread_mutex_unlock(&queue_lock);
  free(job);
  munmap(addr, len);
}

/* True while the env can run JavaScript; false during its teardown (see the header). */
static int env_running(napi_env env) {
  napi_value t;
  bool b;
  if (napi_get_boolean(env, true, &t) != napi_ok) return 0;
  return napi_coerce_to_bool(env, t, &t) == napi_ok && napi_get_value_bool(env, t, &b) == napi_ok;
}

/* One mapping: the finalizer's hint. `holder` is a weak reference to the ArrayBuffer the caller
 * got (set by `adopt`), the one way to tell at teardown that the pages never left this env. */
typedef struct mapping {
  void *addr;
  size_t len;
  napi_ref holder;
  int holder_is_original;
} mapping;

/* The mapping `map` made last on this thread, for `adopt` (called right after it, same thread). */
static _Thread_local mapping *last_made;

/* At teardown: true when the pages are certainly held by nothing outside this env, so unmapping
 * them is safe. An ArrayBuffer's backing store belongs to one ArrayBuffer at a time (transfer and
 * postMessage detach the source), so if the caller's ArrayBuffer is alive here and still attached,
 * no other thread holds the pages. The original ArrayBuffer (Node.js 20, which has no transfer())
 * is the exception: CallbackInfo::Clean itself detached it just before calling us, and nothing
 * else can move it there (postMessage copies an ArrayBuffer that node::Buffer::New marked
 * untransferable), so alive is enough. */
static int held_only_here(napi_env env, mapping *m) {
  napi_value v = NULL;
  bool detached = true;
  if (m->holder == NULL || napi_get_reference_value(env, m->holder, &v) != napi_ok || v == NULL) return 0;
  if (m->holder_is_original) return 1;
  return napi_is_detached_arraybuffer(env, v, &detached) == napi_ok && !detached;
}

static void finalize(napi_env env, void *data, void *hint) {
  mapping *m = hint;
  size_t len = m->len;
  int unmap = env_running(env) || held_only_here(env, m);
  if (m->holder != NULL) napi_delete_reference(env, m->holder);
  if (last_made == m) last_made = NULL;
  free(m);
  if (!unmap) {
    /* Teardown, and the pages may live on in another thread: the range stays mapped (and counted
     * live: it still holds memory) until the process exits. */
    atomic_fetch_add(&leaked_count, 1);
    return;
  }
  atomic_fetch_sub(&live_bytes, (long long)len);
  atomic_fetch_sub(&live_count, 1);
  unmap_later(data, len);
}

static napi_value failure(napi_env env, const char *step, int err, long long actual) {
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, step, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "step", v);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, o, "errno", v);
  napi_create_int64(env, actual, &v);
  napi_set_named_property(env, o, "actual", v);
  return o;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/*
 * map(path: string, size: number, advice: number) -> ArrayBuffer | { step, errno, actual }
 * Steps, in order: "open" (errno), "fstat" (errno), "not_file", "short" (actual = the file's
 * size), "seals" (errno of F_GET_SEALS), "unsealed" (no F_SEAL_SHRINK), "mmap" (errno),
 * "arraybuffer" (Node-API refused the external ArrayBuffer; unmapped again).
 * `advice` (bench/map-advice.ts only; the host passes none): > 0, a madvise() advice applied to the
 * fresh mapping; -1, MAP_POPULATE. Neither made the first read of every page faster here (that
 * bench's figures are in docs/benchmarks.md), so a mapping is faulted in as the caller reads it.
 */
static napi_value Map(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return throw_type(env, "map(path, size[, advice])");
  char path[4096];
  size_t plen;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok ||
      plen >= sizeof path - 1)
    return throw_type(env, "map: path must be a string shorter than 4095 bytes");
  int64_t size;
  if (napi_get_value_int64(env, argv[1], &size) != napi_ok || size <= 0)
    return throw_type(env, "map: size must be a positive integer");
  int32_t advice = 0;
  if (argc > 2) napi_get_value_int32(env, argv[2], &advice);

  /* O_NONBLOCK: a worker naming a FIFO must not block the event loop in open(). */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return failure(env, "open", errno, 0);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return failure(env, "fstat", e, 0);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return failure(env, "not_file", 0, 0);
  }
  if (st.st_size < size) {
    close(fd);
    return failure(env, "short", 0, (long long)st.st_size);
  }
  /* With F_SEAL_SHRINK the file can no longer fall below the size just checked: no page of the
   * mapping can turn into a SIGBUS. */
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    int e = errno;
    close(fd);
    return failure(env, "seals", e, 0);
  }
  if ((seals & F_SEAL_SHRINK) == 0) {
    close(fd);
    return failure(env, "unsealed", 0, 0);
  }
  /* MAP_PRIVATE: the caller's writes are copy-on-write, nothing goes back to the worker. */
  int flags = MAP_PRIVATE | (advice == -1 ? MAP_POPULATE : 0);
  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, flags, fd, 0);
  int e = errno;
  close(fd); /* the mapping keeps the file */
  if (p == MAP_FAILED) return failure(env, "mmap", e, 0);
  if (advice > 0) madvise(p, (size_t)size, advice);
  mapping *m = calloc(1, sizeof *m);
  napi_value ab;
  if (m == NULL || napi_create_external_arraybuffer(env, p, (size_t)size, finalize, m, &ab) != napi_ok) {
    free(m);
    munmap(p, (size_t)size);
    return failure(env, "arraybuffer", 0, 0);
  }
  m->addr = p;
  m->len = (size_t)size;
  last_made = m;
  atomic_fetch_add(&live_bytes, size);
  atomic_fetch_add(&live_count, 1);
  atomic_fetch_add(&made_count, 1);
  return ab;
}

/*
 * adopt(holder, isOriginal) -> boolean: records `holder`, the ArrayBuffer the caller gets for the
 * mapping `map` just returned on this thread (after mapped-results.ts moved it with transfer(), or
 * the original itself where there is no transfer()), so that the finalizer can tell at teardown
 * whether the pages may have left this env. False (and nothing recorded) when it is not that one.
 */
static napi_value Adopt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  void *data = NULL;
  size_t len = 0;
  bool original = false;
  int ok = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 2 &&
      napi_get_arraybuffer_info(env, argv[0], &data, &len) == napi_ok &&
      napi_get_value_bool(env, argv[1], &original) == napi_ok && last_made != NULL &&
      last_made->holder == NULL && data == last_made->addr && len == last_made->len &&
      napi_create_reference(env, argv[0], 0, &last_made->holder) == napi_ok) {
    last_made->holder_is_original = original;
    ok = 1;
  }
  last_made = NULL;
  napi_get_boolean(env, ok, &result);
  return result;
}

/* stats() -> { bytes, count, made, leaked }: this process's live mapped results. */
static napi_value Stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_int64(env, atomic_load(&live_bytes), &v);
  napi_set_named_property(env, o, "bytes", v);
  napi_create_int64(env, atomic_load(&live_count), &v);
  napi_set_named_property(env, o, "count", v);
  napi_create_int64(env, atomic_load(&made_count), &v);
  napi_set_named_property(env, o, "made", v);
  napi_create_int64(env, atomic_load(&leaked_count), &v);
  napi_set_named_property(env, o, "leaked", v);
  return o;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "map", NAPI_AUTO_LENGTH, Map, NULL, &fn);
  napi_set_named_property(env, exports, "map", fn);
  napi_create_function(env, "adopt", NAPI_AUTO_LENGTH, Adopt, NULL, &fn);
  napi_set_named_property(env, exports, "adopt", fn);
  napi_create_function(env, "stats", NAPI_AUTO_LENGTH, Stats, NULL, &fn);
  napi_set_named_property(env, exports, "stats", fn);
  return exports;
}
