"""A worker that listens with mTLS (issue 15: a worker an agent runs for a pool on another node).

Certificates are made with openssl in a temp dir: a cluster CA, a node certificate it signed (DNS
name trellis-node in its SANs, server and client auth), and a second CA with its own certificate.
The worker listens on loopback here (tests bind nothing else); what makes the address non-loopback
is refused or allowed before anything binds, and that part is checked on the parser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import NamedTuple

import grpc
import pytest
from conftest import json_payload
from test_host_service import FakeHost
from trellis_worker._stubs import host_service_pb2_grpc, tool_service_pb2_grpc
from trellis_worker._stubs import tool_service_pb2 as pb
from trellis_worker.server import ListenAddressError, parse_listen
from trellis_worker.tls import TlsConfigError, load_tls

NAME = "trellis-node"
EXIT_USAGE, EXIT_LISTEN, EXIT_TLS = 2, 4, 6


class Pki(NamedTuple):
    dir: Path
    ca: Path
    cert: Path
    key: Path
    other_ca: Path
    other_cert: Path
    other_key: Path

    def flags(self) -> list[str]:
        return ["--tls-ca", str(self.ca), "--tls-cert", str(self.cert), "--tls-key", str(self.key)]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    cnf = d / f"{name}.cnf"
    cnf.write_text(
        f"[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\nprompt=no\n[dn]\nCN={name}\n"
        "[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
    )
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key), cwd=d)
    _openssl("req", "-x509", "-new", "-key", str(key), "-config", str(cnf), "-days", "2", "-out", str(cert), cwd=d)
    return cert, key


def _leaf(d: Path, name: str, ca: Path, ca_key: Path) -> tuple[Path, Path]:
    ext = d / f"{name}.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:{NAME}\n"
    )
    key, csr, cert = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem"
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key), cwd=d)
    _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={name}", "-out", str(csr), cwd=d)
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(cert), cwd=d,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki() -> Iterator[Pki]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificates (apt-get install openssl)")
    d = Path(tempfile.mkdtemp(prefix="tw-tls-"))
    try:
        ca, ca_key = _ca(d, "ca")
        cert, key = _leaf(d, "node", ca, ca_key)
        other_ca, other_ca_key = _ca(d, "other-ca")
        other_cert, other_key = _leaf(d, "intruder", other_ca, other_ca_key)
        yield Pki(d, ca, cert, key, other_ca, other_cert, other_key)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _channel(address: str, ca: Path, cert: Path | None, key: Path | None) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=None if key is None else key.read_bytes(),
        certificate_chain=None if cert is None else cert.read_bytes(),
    )
    return grpc.secure_channel(address, creds, options=[("grpc.ssl_target_name_override", NAME)])


def _add(channel: grpc.Channel, secret: str | None = None) -> int:
    stub = tool_service_pb2_grpc.ToolServiceStub(channel)
    md = None if secret is None else [("trellis-secret", secret)]
    r = stub.Execute(pb.ExecuteRequest(tool="add", payload=json_payload({"a": 2, "b": 3})), timeout=10, metadata=md)
    return json.loads(r.result.data)


def test_a_tls_worker_serves_a_client_with_a_certificate_of_its_ca(workers, pki):
    w = workers.start(*pki.flags(), listen="127.0.0.1:0")
    assert w.address.startswith("127.0.0.1:")
    with _channel(w.address, pki.ca, pki.cert, pki.key) as ch:
        assert _add(ch) == 5


@pytest.mark.parametrize("who", ["no certificate", "another CA's certificate", "plain TCP"])
def test_a_tls_worker_refuses_clients_without_a_certificate_of_its_ca(workers, pki, who):
    w = workers.start(*pki.flags(), listen="127.0.0.1:0")
    if who == "no certificate":
        ch = _channel(w.address, pki.ca, None, None)
    elif who == "another CA's certificate":
        ch = _channel(w.address, pki.ca, pki.other_cert, pki.other_key)
    else:
        ch = grpc.insecure_channel(w.address)
    with ch, pytest.raises(grpc.RpcError) as info:
        _add(ch)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # the handshake failed: no call was made
    # The worker is still serving its rightful clients.
    with _channel(w.address, pki.ca, pki.cert, pki.key) as ok:
        assert _add(ok) == 5


def test_the_per_run_secret_is_still_checked_over_tls(workers, pki):
    w = workers.start(*pki.flags(), listen="127.0.0.1:0", env={"TRELLIS_WORKER_SECRET": "s3cret"})
    with _channel(w.address, pki.ca, pki.cert, pki.key) as ch:
        with pytest.raises(grpc.RpcError) as info:
            _add(ch)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert _add(ch, "s3cret") == 5


def test_host_tools_over_tls(workers, pki):
    """--host-address is dialled with the same files; the host checks the worker's certificate."""
    fake = FakeHost()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    host_service_pb2_grpc.add_HostServiceServicer_to_server(fake, server)
    creds = grpc.ssl_server_credentials(
        [(pki.key.read_bytes(), pki.cert.read_bytes())], root_certificates=pki.ca.read_bytes(), require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    try:
        w = workers.start(
            *pki.flags(), "--tls-server-name", NAME, "--host-address", f"127.0.0.1:{port}", listen="127.0.0.1:0"
        )
        with _channel(w.address, pki.ca, pki.cert, pki.key) as ch:
            stub = tool_service_pb2_grpc.ToolServiceStub(ch)
            args = {"tool": "host_upper", "args": {"text": "over tls"}}
            r = stub.Execute(pb.ExecuteRequest(tool="call_host", payload=json_payload(args)), timeout=10)
        assert json.loads(r.result.data) == "OVER TLS"
        assert [c.tool for c in fake.tool_calls] == ["host_upper"]
    finally:
        server.stop(None).wait(5)


def test_a_non_loopback_listen_needs_tls(workers):
    w = workers.start(listen="10.255.255.1:0", wait_ready=False)
    assert w.proc.wait(20) == EXIT_LISTEN
    assert "--tls-ca" in w.stderr() and "10.255.255.1:0" in w.stderr()


def test_the_listen_parser_allows_other_addresses_only_with_tls():
    for address in ("10.1.2.3:0", "0.0.0.0:7000", "[fd00::1]:0", "node-a.example:9000"):
        with pytest.raises(ListenAddressError, match="--tls-ca"):
            parse_listen(address)
        assert parse_listen(address, tls=True) == (address, address.rpartition(":")[0])
    for address in ("10.1.2.3", "10.1.2.3:x", ":0"):
        with pytest.raises(ListenAddressError):
            parse_listen(address, tls=True)


def test_tls_flags_come_in_threes(workers, pki):
    w = workers.start("--tls-ca", str(pki.ca), listen="127.0.0.1:0", wait_ready=False)
    assert w.proc.wait(20) == EXIT_USAGE
    assert "missing --tls-cert, --tls-key" in w.stderr()


@pytest.mark.parametrize("problem", ["unreadable", "not PEM", "key of another certificate"])
def test_bad_tls_files_are_refused_with_their_own_exit_code(workers, pki, problem, tmp_path):
    flags = {"--tls-ca": str(pki.ca), "--tls-cert": str(pki.cert), "--tls-key": str(pki.key)}
    if problem == "unreadable":
        flags["--tls-key"] = str(tmp_path / "missing.key")
        expect = "cannot read the private key"
    elif problem == "not PEM":
        garbage = tmp_path / "garbage.pem"
        garbage.write_bytes(os.urandom(300))
        flags["--tls-ca"] = str(garbage)
        expect = "not PEM"
    else:
        flags["--tls-key"] = str(pki.other_key)
        expect = "not a certificate and its private key"
    w = workers.start(*[x for kv in flags.items() for x in kv], listen="127.0.0.1:0", wait_ready=False)
    assert w.proc.wait(20) == EXIT_TLS
    assert expect in w.stderr()
    # The same checks, as a library call.
    with pytest.raises(TlsConfigError, match=expect):
        load_tls(flags["--tls-ca"], flags["--tls-cert"], flags["--tls-key"])
