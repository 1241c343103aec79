"""The HTTP exchange's address checks: each hop resolved once, checked, and sent only there.

Real servers on 127.0.0.1 (and 127.0.0.2, ::1); the resolver answers for ``*.test`` names are
scripted by replacing ``socket.getaddrinfo``, so a name can rebind between two lookups.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stepline.integrations import http_call, web
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import HTTPCall
from tests.unit.integrations.conftest import MakeContext

Code = WorkflowErrorCode
# A public address no test listens on: a call pinned there fails to connect (or times out).
PUBLIC = "8.8.8.8"


class Resolver:
    """``socket.getaddrinfo`` with scripted answers: each lookup of a scripted name takes the
    next answer (the last one repeats) — an address, a tuple of them, or ``()`` for "no such
    name"; any other name is resolved for real."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.answers: dict[str, list[str | tuple[str, ...]]] = {}
        self.lookups: Counter[str] = Counter()

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self.real(host, port, *args, **kwargs)
        answers = self.answers[name]
        answer = answers[min(self.lookups[name], len(answers) - 1)]
        self.lookups[name] += 1
        if answer == ():
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        number = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, number, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, number))
            for address in ((answer,) if isinstance(answer, str) else answer)
        ]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    fake = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@dataclass
class Server:
    """A local HTTP(S) server that records what reaches it.

    ``/to/<url>`` redirects (302) to the percent-decoded ``<url>``; anything else answers
    ``{"server": name, "host": <Host header>, "path": path}``.
    """

    name: str
    port: int
    seen: list[tuple[str, str]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)


def _handler(record: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = self.headers.get("host", "")
            record.seen.append((host, self.path))
            if self.path.startswith("/to/"):
                self.send_response(302)
                self.send_header("location", unquote(self.path[len("/to/") :]))
                self.send_header("content-length", "0")
                self.end_headers()
                return
            data = json.dumps({"server": record.name, "host": host, "path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


class IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start a server: ``serve(name, address="127.0.0.1", port=0, tls=None)``."""
    started: list[ThreadingHTTPServer] = []

    def start(
        name: str, address: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> Server:
        kind = IPv6Server if ":" in address else ThreadingHTTPServer
        httpd = kind((address, port), BaseHTTPRequestHandler)  # loopback v4 and v6: CI has both
        record = Server(name, httpd.server_address[1])
        httpd.RequestHandlerClass = _handler(record)
        if tls is not None:
            tls.sni_callback = lambda _sock, sni, _ctx: record.server_names.append(sni)
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        started.append(httpd)
        return record

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def get(url: str, ctx: Any) -> Any:
    return http_call.call(HTTPCall.model_validate({"url": url}), {}, ctx)


def test_a_name_that_rebinds_to_loopback_never_reaches_the_loopback_server(
    resolver: Resolver, serve: Callable[..., Server], make_ctx: MakeContext
) -> None:
    local = serve("loopback")
    resolver.answers["rebind.test"] = [PUBLIC, "127.0.0.1"]
    ctx = replace(make_ctx({}), timeout=0.5)
    with pytest.raises(StepFailure) as caught:
        get(f"http://rebind.test:{local.port}/secret", ctx)
    assert caught.value.code in (Code.STEP_TIMEOUT, Code.HTTP_CALL_503)  # tried 8.8.8.8 only
    assert local.seen == []
    assert resolver.lookups["rebind.test"] == 1


def test_a_name_that_resolves_to_loopback_is_refused_naming_host_and_address(
    resolver: Resolver, serve: Callable[..., Server], make_ctx: MakeContext
) -> None:
    local = serve("loopback")
    resolver.answers["rebind.test"] = ["127.0.0.1", PUBLIC]
    with pytest.raises(StepFailure) as caught:
        get(f"http://rebind.test:{local.port}/secret", make_ctx({}))
    assert caught.value.code == Code.STEP_PERMISSION_DENIED
    assert "rebind.test resolves to 127.0.0.1" in str(caught.value)
    assert "loopback" in str(caught.value)
    assert local.seen == []


def test_an_allowed_host_is_called_at_the_address_it_first_resolved_to(
    resolver: Resolver, serve: Callable[..., Server], make_ctx: MakeContext
) -> None:
    first = serve("first")
    second = serve("second", "127.0.0.2", first.port)
    resolver.answers["pinned.test"] = ["127.0.0.1", "127.0.0.2"]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"pinned.test"}))
    output = get(f"http://pinned.test:{first.port}/x", ctx)
    assert output == {"server": "first", "host": f"pinned.test:{first.port}", "path": "/x"}
    assert second.seen == []
    assert resolver.lookups["pinned.test"] == 1


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(
    resolver: Resolver, serve: Callable[..., Server], make_ctx: MakeContext
) -> None:
    server = serve("only")  # nothing listens on 127.0.0.2 at this port
    resolver.answers["two.test"] = [("127.0.0.2", "127.0.0.1")]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"two.test"}))
    output = get(f"http://two.test:{server.port}/f", ctx)
    assert output == {"server": "only", "host": f"two.test:{server.port}", "path": "/f"}


def test_each_redirect_hop_is_resolved_once_and_sent_where_it_was_checked(
    resolver: Resolver, serve: Callable[..., Server], make_ctx: MakeContext
) -> None:
    first = serve("first")
    second = serve("second", "127.0.0.2", first.port)
    resolver.answers["hop.test"] = ["127.0.0.1", "127.0.0.2"]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"127.0.0.1", "hop.test"}))
    output = get(f"http://127.0.0.1:{first.port}/to/http://hop.test:{first.port}/y", ctx)
    assert output == {"server": "first", "host": f"hop.test:{first.port}", "path": "/y"}
    assert second.seen == []
    assert resolver.lookups["hop.test"] == 1


def test_an_allowed_ipv6_host_is_called_at_its_checked_address(
    resolver: Resolver, serve: Callable[..., Server], make_ctx: MakeContext
) -> None:
    server = serve("six", "::1")
    resolver.answers["six.test"] = ["::1", PUBLIC]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"::1", "six.test"}))
    by_name = get(f"http://six.test:{server.port}/n", ctx)
    literal = get(f"http://[::1]:{server.port}/l", ctx)
    assert by_name == {"server": "six", "host": f"six.test:{server.port}", "path": "/n"}
    assert literal == {"server": "six", "host": f"[::1]:{server.port}", "path": "/l"}
    assert resolver.lookups["six.test"] == 1


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/",
        "http://localhost:{port}/",
        "http://internal.test:{port}/",
        "http://cgnat.test/",
    ],
)
def test_a_redirect_to_a_private_host_is_refused(
    target: str, resolver: Resolver, serve: Callable[..., Server], make_ctx: MakeContext
) -> None:
    local = serve("local")
    resolver.answers["internal.test"] = ["10.1.2.3"]
    resolver.answers["cgnat.test"] = ["100.64.1.1"]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"127.0.0.1"}))
    with pytest.raises(StepFailure) as caught:
        get(f"http://127.0.0.1:{local.port}/to/{target.format(port=local.port)}", ctx)
    assert caught.value.code == Code.STEP_PERMISSION_DENIED
    assert [path for _host, path in local.seen] == [f"/to/{target.format(port=local.port)}"]


REFUSED = [
    ("127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("100.64.1.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.1", "benchmarking"),
    ("192.0.0.8", "IETF protocol assignments"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.1", "documentation"),
    ("203.0.113.1", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("100::1", "discard-only"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("::ffff:127.0.0.1", "loopback (as IPv4-mapped 127.0.0.1)"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:100.64.0.1", "carrier-grade NAT"),
    ("::127.0.0.1", "loopback (as IPv4-compatible 127.0.0.1)"),
    ("::10.0.0.1", "private"),
    ("64:ff9b::a00:1", "private (RFC 1918) (as NAT64 10.0.0.1)"),
    ("64:ff9b::7f00:1", "loopback (as NAT64 127.0.0.1)"),
    ("64:ff9b:1::a9fe:a9fe", "link-local (instance metadata) (as NAT64 169.254.169.254)"),
    ("64:ff9b:1:a00:0:100::", "private (RFC 1918) (as NAT64 10.0.0.1)"),
    ("2002:7f00:1::", "loopback (as 6to4 127.0.0.1)"),
    ("2002:a9fe:a9fe::1", "link-local"),
    ("::ffff:0:a00:1", "reserved"),
    ("fec0::1", "site-local"),
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_addresses_in_refused_ranges_are_permission_denied(
    address: str, why: str, resolver: Resolver, make_ctx: MakeContext
) -> None:
    resolver.answers["target.test"] = [address]
    with pytest.raises(StepFailure) as caught:
        get("http://target.test/", make_ctx({}))
    assert caught.value.code == Code.STEP_PERMISSION_DENIED
    message = str(caught.value)
    assert f"target.test resolves to {address}, which is " in message
    assert why in message


@pytest.mark.parametrize(
    "address", ["100.64.1.1", "198.18.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "ff02::1"]
)
def test_ip_literal_urls_in_refused_ranges_are_permission_denied(
    address: str, make_ctx: MakeContext
) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(StepFailure) as caught:
        get(f"http://{host}:8080/", make_ctx({}))
    assert caught.value.code == Code.STEP_PERMISSION_DENIED
    assert f"{address} is " in str(caught.value)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "100.128.0.1",  # just past carrier-grade NAT
        "198.20.0.1",  # just past benchmarking
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "64:ff9b:1::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_and_their_ipv6_forms_are_allowed(address: str) -> None:
    assert web.refusal(ipaddress.ip_address(address)) is None
    assert web.check_host(address, frozenset()) == [address]


def test_a_name_that_does_not_resolve_is_an_invalid_argument(
    resolver: Resolver, make_ctx: MakeContext
) -> None:
    resolver.answers["nothing.test"] = [()]
    with pytest.raises(StepFailure) as caught:
        get("http://nothing.test/", make_ctx({}, allow_private_hosts=frozenset("*")))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT
    assert "cannot resolve nothing.test" in str(caught.value)


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    resolver: Resolver, make_ctx: MakeContext
) -> None:
    resolver.answers["mixed.test"] = [(PUBLIC, "2606:4700:4700::1111", "10.0.0.7")]
    with pytest.raises(StepFailure) as caught:
        get("http://mixed.test/", make_ctx({}))
    assert caught.value.code == Code.STEP_PERMISSION_DENIED
    assert "mixed.test resolves to 10.0.0.7" in str(caught.value)


# -- https: the connection goes to the checked IP, TLS still names the host ------------------


@dataclass(frozen=True)
class Authority:
    """A throwaway CA and what a client needs to trust it."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=self.pem.decode())
        return context

    def issue(self, name: str) -> tuple[bytes, bytes]:
        """A private key and a certificate for ``name`` (PEM), signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(name, key.public_key(), self.cert.subject)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return key_pem, cert.public_bytes(serialization.Encoding.PEM)

    def server_context(self, name: str, tmp: Path) -> ssl.SSLContext:
        key_pem, cert_pem = self.issue(name)
        cert_file, key_file = tmp / f"{name}.crt", tmp / f"{name}.key"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context


def _builder(name: str, key: Any, issuer: x509.Name) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )


@pytest.fixture(scope="module")
def authority() -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stepline test CA")])
    cert = (
        _builder("stepline test CA", key.public_key(), name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


@pytest.fixture
def trust(authority: Authority, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exchange trusts the test CA (instead of the system roots)."""
    monkeypatch.setattr(web, "_tls", authority.client_context)


@pytest.mark.usefixtures("trust")
def test_an_allowed_https_host_is_verified_by_name_at_the_pinned_address(
    authority: Authority,
    tmp_path: Path,
    resolver: Resolver,
    serve: Callable[..., Server],
    make_ctx: MakeContext,
) -> None:
    server = serve("tls", tls=authority.server_context("secure.test", tmp_path))
    resolver.answers["secure.test"] = ["127.0.0.1", PUBLIC]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"secure.test"}))
    output = get(f"https://secure.test:{server.port}/z", ctx)
    assert output == {"server": "tls", "host": f"secure.test:{server.port}", "path": "/z"}
    assert server.server_names == ["secure.test"]
    assert resolver.lookups["secure.test"] == 1


@pytest.mark.usefixtures("trust")
def test_an_https_certificate_for_another_name_fails_the_call(
    authority: Authority,
    tmp_path: Path,
    resolver: Resolver,
    serve: Callable[..., Server],
    make_ctx: MakeContext,
) -> None:
    server = serve("tls", tls=authority.server_context("other.test", tmp_path))
    resolver.answers["secure.test"] = ["127.0.0.1"]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"secure.test"}))
    with pytest.raises(StepFailure) as caught:
        get(f"https://secure.test:{server.port}/z", ctx)
    assert caught.value.code == Code.HTTP_CALL_503
    assert "certificate" in str(caught.value).lower()
    assert server.seen == []
