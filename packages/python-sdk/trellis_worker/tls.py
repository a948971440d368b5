"""mTLS for a worker that listens beyond this machine (a worker an agent runs for a pool on another
node, issue 15): its server requires client certificates signed by the cluster's CA, and it dials
the pool's HostService with the same files.

Why a worker may listen off loopback only with TLS: anyone on the network could otherwise call its
tools (the per-run secret would cross the network in clear text). The files are read and checked
here, once, before anything binds: grpc only reads them at the first handshake, where a bad file
looks like a refused connection on the other side.
"""

from __future__ import annotations

import ssl
from typing import NamedTuple

import grpc


class TlsConfigError(ValueError):
    """The --tls-* files are missing, unreadable, not PEM, or do not belong together."""


class TlsUsageError(TlsConfigError):
    """Only some of the three --tls-* flags were given (a command-line mistake, exit code 2)."""


class TlsFiles(NamedTuple):
    ca: bytes
    cert: bytes
    key: bytes
    #: The DNS name the HostService's certificate must carry (empty: the host of --host-address).
    server_name: str


def _read(what: str, flag: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TlsConfigError(f"{flag} {path}: cannot read the {what} ({exc.strerror or exc})") from None
    if b"-----BEGIN " not in data:
        raise TlsConfigError(f"{flag} {path}: the {what} is not PEM (no -----BEGIN line)")
    return data


def load_tls(ca: str, cert: str, key: str, server_name: str = "") -> TlsFiles | None:
    """The three files as bytes, checked with Python's ssl module (a CA that parses, a certificate
    and key that parse and match); None when none of the three is given."""
    given = [f for f, v in (("--tls-ca", ca), ("--tls-cert", cert), ("--tls-key", key)) if v]
    if not given:
        return None
    if len(given) != 3:
        missing = [f for f in ("--tls-ca", "--tls-cert", "--tls-key") if f not in given]
        raise TlsUsageError(f"TLS needs all three of --tls-ca, --tls-cert and --tls-key; missing {', '.join(missing)}")
    files = TlsFiles(
        _read("CA certificate", "--tls-ca", ca),
        _read("certificate", "--tls-cert", cert),
        _read("private key", "--tls-key", key),
        server_name,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_verify_locations(cadata=files.ca.decode("ascii", "replace"))
    except (ssl.SSLError, ValueError) as exc:
        raise TlsConfigError(f"--tls-ca {ca}: not a usable CA certificate ({exc})") from None
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(
            f"--tls-cert {cert} / --tls-key {key}: not a certificate and its private key ({exc}); "
            "issue them together (trellis certs issue <node>)"
        ) from None
    return files


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Client certificates required, and checked against the CA."""
    return grpc.ssl_server_credentials([(files.key, files.cert)], root_certificates=files.ca, require_client_auth=True)


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=files.ca, private_key=files.key, certificate_chain=files.cert)
