/**
 * Telling a TLS refusal from a dead host, on both sides of a node-to-node connection.
 *
 * grpc-js reports a refused handshake as UNAVAILABLE, exactly like a host that is down, and logs
 * nothing on the server (cluster-notes.md). Node's TLS server refuses in two ways: a client with no
 * certificate gets an alert (`certificate required`), but one whose certificate fails verification
 * (another CA, expired) has its socket destroyed silently after the handshake, so the client sees
 * only a close. So:
 *
 * - server side: `watchTlsRefusals` listens to `tlsClientError` on grpc-js's HTTP/2 servers (grpc-js
 *   has no public hook for it; the field is read by name, pinned grpc-js 1.14.7, and the test
 *   `cluster-tls.test.ts` fails if it stops working) and logs each refusal with the verification
 *   error Node recorded (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `CERT_HAS_EXPIRED`, no certificate);
 * - client side: after an UNAVAILABLE, `probeTlsRefusal` opens one TLS connection of its own with
 *   the same credentials and sends the HTTP/2 preface: a server that accepts answers with SETTINGS;
 *   one that refused sends an alert or closes. A connection that cannot be made at all (refused
 *   port, timeout) is not a TLS refusal: the caller keeps its down/unreachable mapping. The reason
 *   is completed by checking this side's own certificate against the CA (expired, another issuer).
 */
import { X509Certificate } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import type { Server } from '@grpc/grpc-js';
import { getLogger } from '@trellis/core';

export interface ClientTls {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly serverName?: string;
}

// The HTTP/2 client preface and an empty SETTINGS frame (RFC 9113, 3.4): enough for a server that
// accepted the handshake to answer with its own SETTINGS.
const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** What is wrong with this side's own certificate, as far as it can tell alone. */
export function ownCertificateProblem(tls: ClientTls, now = Date.now()): string | undefined {
  if (tls.cert === undefined) return 'this side presented no client certificate';
  try {
    const cert = new X509Certificate(tls.cert);
    const ca = new X509Certificate(tls.ca);
    if (Date.parse(cert.validTo) < now) return `this side's certificate expired on ${cert.validTo}`;
    if (Date.parse(cert.validFrom) > now)
      return `this side's certificate is not valid before ${cert.validFrom}`;
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
      return `this side's certificate (issuer "${cert.issuer.replace(/\n/g, ', ')}") is not signed by the cluster CA ("${ca.subject.replace(/\n/g, ', ')}")`;
  } catch (e) {
    return `this side's certificate cannot be read: ${(e as Error).message}`;
  }
  return undefined;
}

function tlsish(e: NodeJS.ErrnoException): boolean {
  return (
    /^ERR_SSL_|^ERR_TLS_|CERT|_SIGNATURE|SELF_SIGNED|UNABLE_TO/.test(e.code ?? '') ||
    /alert|certificate|handshake/i.test(e.message)
  );
}

/**
 * The reason the peer at `address` (host:port) refuses TLS from this side, or undefined when it
 * accepts, or when it cannot be reached at all (then it is not a TLS matter).
 */
export function probeTlsRefusal(
  address: string,
  tls: ClientTls,
  timeoutMs = 2000,
): Promise<string | undefined> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  return new Promise((resolve) => {
    let handshaken = false;
    let settled = false;
    const done = (reason: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const own = reason === undefined ? undefined : ownCertificateProblem(tls);
      resolve(reason === undefined ? undefined : own === undefined ? reason : `${reason} (${own})`);
    };
    const socket: TLSSocket = connect({
      host,
      port,
      ca: tls.ca,
      ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
      servername: tls.serverName ?? 'trellis-node',
      ALPNProtocols: ['h2'],
    });
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('secureConnect', () => {
      handshaken = true;
      socket.write(H2_PREFACE);
    });
    socket.on('data', () => done(undefined));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!handshaken && !tlsish(e)) done(undefined);
      else
        done(
          handshaken
            ? `the node refused this side's certificate: ${e.message.split('\n')[0]?.replace(/^.*:SSL routines:[^:]*:/, '')}`
            : `this side refused the node's certificate: ${e.message}`,
        );
    });
    socket.on('close', () => {
      if (handshaken)
        done(
          "the node closed the connection right after the TLS handshake: it did not accept this side's certificate",
        );
      else done(undefined);
    });
  });
}

/** Logs every TLS handshake a node's gRPC server refuses (see the file comment). */
export function watchTlsRefusals(server: Server, node: string): void {
  const log = getLogger();
  // grpc-js keeps its Node http2 servers in a private map (no public hook for TLS errors).
  const servers = (server as unknown as { http2Servers?: Map<unknown, unknown> }).http2Servers;
  if (!(servers instanceof Map)) {
    log.warn(
      { node },
      'cannot watch TLS refusals: this grpc-js has no http2Servers map; refusals are not logged',
    );
    return;
  }
  for (const s of servers.keys()) {
    const h = s as { on?: (ev: string, f: (e: NodeJS.ErrnoException, sock: TLSSocket) => void) => void };
    h.on?.('tlsClientError', (e, sock) => {
      const verifyError = sock?.authorizationError;
      const reason = e.code?.endsWith('_PEER_DID_NOT_RETURN_A_CERTIFICATE') // OpenSSL's code, not ours
        ? 'the client presented no certificate'
        : verifyError
          ? `the client's certificate failed verification: ${String(verifyError)}`
          : `TLS handshake failed: ${e.code ?? e.message}`;
      log.warn(
        { event: 'tls_refused', node, code: 'ERR_TLS_REFUSED', reason, remote: sock?.remoteAddress },
        `TLS refused: ${reason}`,
      );
    });
  }
}
