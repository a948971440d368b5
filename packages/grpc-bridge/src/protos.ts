/**
 * The trellis.bridge.v1 protocol, loaded once at run time from the package's own dist/protos with
 * @grpc/proto-loader. The options match the generated types in ./generated (see
 * scripts/gen-types.mjs), so the objects grpc-js hands out have exactly those types.
 *
 * ErrorDetail never travels as an RPC message (it is binary trailing metadata), so grpc-js has no
 * deserializer for it; it is decoded with protobufjs from the same .proto file.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { ProtoGrpcType } from './generated/tool_service.js';
import type { ErrorDetail__Output } from './generated/trellis/bridge/v1/ErrorDetail.js';
import type { ToolServiceClient } from './generated/trellis/bridge/v1/ToolService.js';

export const PROTOCOL = 'trellis.bridge.v1';
/** Trailing metadata key of the binary ErrorDetail. */
export const ERROR_METADATA_KEY = 'trellis-error-bin';

const TOOL_SERVICE = 'trellis/bridge/v1/tool_service.proto';
const COMMON = 'trellis/bridge/v1/common.proto';

/**
 * The protos shipped inside this package: `<package>/dist/protos` (copied from the repository's
 * protos/ by `pnpm build`, scripts/copy-protos.mjs). The package root is the first folder above this
 * module holding a package.json, wherever the module sits below it and wherever the package is
 * installed (npm, pnpm's store, a symlinked workspace).
 */
export function findProtoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  const root = join(dir, 'dist', 'protos');
  if (existsSync(join(root, TOOL_SERVICE))) return root;
  throw new Error(
    `@trellis/grpc-bridge is incomplete: ${join(root, TOOL_SERVICE)} is missing (the package ships its protos in dist/protos). Reinstall @trellis/grpc-bridge; in the Trellis repository, run \`pnpm build\``,
  );
}

export const LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

interface Loaded {
  readonly ToolService: ProtoGrpcType['trellis']['bridge']['v1']['ToolService'];
  readonly errorDetail: protobuf.Type;
}

let loaded: Loaded | undefined;

function load(): Loaded {
  if (loaded) return loaded;
  const root = findProtoRoot();
  const def = protoLoader.loadSync(TOOL_SERVICE, { ...LOADER_OPTIONS, includeDirs: [root] });
  const proto = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  const pb = new protobuf.Root();
  pb.resolvePath = (_origin, target) => (target.startsWith('/') ? target : resolve(root, target));
  pb.loadSync(COMMON, { keepCase: false });
  loaded = {
    ToolService: proto.trellis.bridge.v1.ToolService,
    errorDetail: pb.lookupType('trellis.bridge.v1.ErrorDetail'),
  };
  return loaded;
}

/** Metadata key of the per-run secret every call to a worker carries (trellis_worker/guard.py). */
export const SECRET_METADATA_KEY = 'trellis-secret';

/**
 * A ToolService client for one worker, with message limits matching the worker's. With `secret`,
 * every call carries it (the worker refuses calls without it with UNAUTHENTICATED). An interceptor
 * rather than call credentials: grpc-js refuses call credentials on an insecure channel, and the
 * channel is a Unix socket or loopback TCP, where TLS would protect nothing the secret does not.
 */
export function createToolClient(
  address: string,
  maxMessageBytes: number,
  secret?: string | undefined,
  tls?: ToolClientTls | undefined,
): ToolServiceClient {
  const { ToolService } = load();
  const interceptors: grpc.Interceptor[] =
    secret === undefined
      ? []
      : [
          (options, nextCall) =>
            new grpc.InterceptingCall(nextCall(options), {
              start(metadata, listener, next) {
                metadata.set(SECRET_METADATA_KEY, secret);
                next(metadata, listener);
              },
            }),
        ];
  const serverName = tls?.serverName ?? 'trellis-node';
  const creds =
    tls === undefined
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
  return new ToolService(address, creds, {
    interceptors,
    // A remote worker is dialled by IP, and its certificate names the node by DNS name: check that
    // name (dialling by IP with an IP-less certificate also makes Node warn, DEP0123).
    ...(tls === undefined
      ? {}
      : { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName }),
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.max_receive_message_length': maxMessageBytes,
    // Each worker gets its own channel: never share a subchannel with another pool's worker that
    // happens to reuse an address (a restarted worker on the same port).
    'grpc.use_local_subchannel_pool': 1,
    // Unix sockets and loopback: no DNS, no proxies, no retries behind our back (retries are the
    // pool's decision, made knowing whether the call is idempotent).
    'grpc.enable_retries': 0,
    'grpc.enable_http_proxy': 0,
  });
}

/** mTLS to a worker listening on a non-loopback address (a worker on another node). */
export interface ToolClientTls {
  /** PEM of the CA that signed the worker's certificate. */
  readonly ca: Buffer;
  /** This side's certificate and key (PEM): the worker requires a client certificate of the same CA. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The DNS name the worker's certificate must carry (default 'trellis-node', the cluster's default). */
  readonly serverName?: string | undefined;
}

/** Decodes the ErrorDetail of a failed call's trailing metadata; undefined when absent or unreadable. */
export function decodeErrorDetail(metadata: grpc.Metadata | undefined): ErrorDetail__Output | undefined {
  const raw = metadata?.get(ERROR_METADATA_KEY)[0];
  if (raw === undefined || typeof raw === 'string') return undefined;
  try {
    const { errorDetail } = load();
    return errorDetail.toObject(errorDetail.decode(raw), {
      defaults: true,
      arrays: true,
    }) as ErrorDetail__Output;
  } catch {
    return undefined;
  }
}

/** Encodes an ErrorDetail for the `trellis-error-bin` trailer (host tool failures). */
export function encodeErrorDetail(d: {
  errorType: string;
  message: string;
  traceback: string;
  tool: string;
}): Buffer {
  const { errorDetail } = load();
  return Buffer.from(errorDetail.encode(errorDetail.fromObject(d)).finish());
}

/** Loads the protocol now (it is otherwise loaded by the first client), to fail early if it is missing. */
export function loadProtocol(): void {
  load();
}
