/** A bare grpc-js unary echo with a JSON body: the baseline of the global-call bench (same codec as the node service). */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { makeGenericClientConstructor } from '@grpc/grpc-js';

const json = {
  requestSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  requestDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')),
  responseSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  responseDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')),
};

export const RAW_SERVICE: ServiceDefinition = {
  Echo: {
    path: '/bench.Raw/Echo',
    requestStream: false,
    responseStream: false,
    originalName: 'echo',
    ...json,
  } as MethodDefinition<unknown, unknown>,
};

export const RawClient = makeGenericClientConstructor(RAW_SERVICE, 'Raw');
