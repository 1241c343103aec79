"""GRPCCall → unary calls through reflection, against a server the test starts on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection

from stepline.integrations import grpc_call
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import GRPCCall
from tests.unit.integrations.conftest import MakeContext
from tests.unit.integrations.test_web import (
    PUBLIC,
    Authority,
    Resolver,
    authority,  # noqa: F401 - a fixture
    resolver,  # noqa: F401 - a fixture
)

Code = WorkflowErrorCode
SERVICE = "demo.v1.Greeter"
LOCAL = frozenset({"127.0.0.1"})
RELEASE = threading.Event()


def _pool() -> descriptor_pool.DescriptorPool:
    """demo/v1/greeter.proto, built in code: Greeter.Hello(HelloRequest) -> HelloReply."""
    proto = descriptor_pb2.FileDescriptorProto(name="demo/v1/greeter.proto", package="demo.v1")
    proto.syntax = "proto3"
    request = proto.message_type.add(name="HelloRequest")
    request.field.add(name="name", number=1, type=9, label=1, json_name="name")
    request.field.add(name="fail_with", number=2, type=9, label=1, json_name="failWith")
    request.field.add(name="times", number=3, type=5, label=1, json_name="times")
    reply = proto.message_type.add(name="HelloReply")
    reply.field.add(name="message", number=1, type=9, label=1, json_name="message")
    reply.field.add(name="caller_token", number=2, type=9, label=1, json_name="callerToken")
    service = proto.service.add(name="Greeter")
    service.method.add(
        name="Hello", input_type=".demo.v1.HelloRequest", output_type=".demo.v1.HelloReply"
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)  # type: ignore[no-untyped-call]
    return pool


POOL = _pool()
Request = message_factory.GetMessageClass(POOL.FindMessageTypeByName("demo.v1.HelloRequest"))  # type: ignore[no-untyped-call]
Reply = message_factory.GetMessageClass(POOL.FindMessageTypeByName("demo.v1.HelloReply"))  # type: ignore[no-untyped-call]


def hello(request: Any, context: grpc.ServicerContext) -> Any:
    if request.fail_with == "HANG":
        RELEASE.wait(5)
    elif request.fail_with:
        context.abort(grpc.StatusCode[request.fail_with], f"asked to fail with {request.fail_with}")
    token = dict(context.invocation_metadata()).get("x-token", "")
    return Reply(message=f"hello {request.name}" * max(request.times, 1), caller_token=token)


def start(
    with_reflection: bool, credentials: grpc.ServerCredentials | None = None
) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.unary_unary_rpc_method_handler(
        hello, request_deserializer=Request.FromString, response_serializer=Reply.SerializeToString
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Hello": handler}),)
    )
    if with_reflection:
        reflection.enable_server_reflection((SERVICE, reflection.SERVICE_NAME), server, pool=POOL)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, port


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server, port = start(with_reflection=True)
    yield f"grpc://127.0.0.1:{port}"
    RELEASE.set()
    server.stop(None)


def step(target: str, **fields: Any) -> GRPCCall:
    return GRPCCall.model_validate({"endpoint": target, "method": f"{SERVICE}/Hello", **fields})


def local(make_ctx: MakeContext, data: Any = None, **fields: Any) -> Any:
    return make_ctx({} if data is None else data, allow_private_hosts=LOCAL, **fields)


def test_call_sends_the_rendered_body_and_returns_json(
    endpoint: str, make_ctx: MakeContext
) -> None:
    data = {"port": endpoint.rsplit(":", 1)[1], "who": "Ann", "token": "t"}
    spec = step(
        "grpc://127.0.0.1:\\(.port)",
        method='\\("demo.v1.Greeter/Hello")',
        body="\\({name: .who})",
        headers={"X-Token": "\\(.token)"},
    )
    output = grpc_call.call(spec, data, local(make_ctx, data))
    assert output == {"message": "hello Ann", "callerToken": "t"}


def test_body_may_be_json_text_and_the_method_dotted(endpoint: str, make_ctx: MakeContext) -> None:
    spec = step(endpoint, method=f"{SERVICE}.Hello", body='{"name": "Bo"}')
    assert grpc_call.call(spec, {}, local(make_ctx)) == {"message": "hello Bo"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("CANCELLED", Code.GRPC_CALL_CANCELLED),
        ("UNIMPLEMENTED", Code.GRPC_CALL_UNIMPLEMENTED),
        ("UNAVAILABLE", Code.GRPC_CALL_UNAVAILABLE),
        ("UNKNOWN", Code.GRPC_CALL_UNKNOWN),
        ("INTERNAL", Code.GRPC_CALL_INTERNAL),
        ("RESOURCE_EXHAUSTED", Code.GRPC_CALL_RESOURCE_EXHAUSTED),
        ("UNAUTHENTICATED", Code.GRPC_CALL_UNAUTHENTICATED),
        ("DEADLINE_EXCEEDED", Code.GRPC_CALL_DEADLINE_EXCEEDED),
        ("INVALID_ARGUMENT", Code.STEP_INVALID_ARGUMENT),
        ("NOT_FOUND", Code.STEP_INVALID_ARGUMENT),
        ("PERMISSION_DENIED", Code.STEP_PERMISSION_DENIED),
        ("FAILED_PRECONDITION", Code.STEP_FAILED_PRECONDITION),
        ("ALREADY_EXISTS", Code.STEP_FAILED_PRECONDITION),
        ("DATA_LOSS", Code.GRPC_CALL_INTERNAL),
    ],
)
def test_grpc_statuses_map_to_workflow_codes(
    status: str, expected: Code, endpoint: str, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step(endpoint, body=f'{{"failWith": "{status}"}}'), {}, local(make_ctx))
    assert caught.value.code == expected


def test_slow_call_exceeds_the_deadline(endpoint: str, make_ctx: MakeContext) -> None:
    ctx = dataclasses.replace(local(make_ctx), timeout=0.3)
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step(endpoint, body='{"failWith": "HANG"}'), {}, ctx)
    assert caught.value.code == Code.GRPC_CALL_DEADLINE_EXCEEDED


def test_response_over_two_megabytes_is_resource_exhausted(
    endpoint: str, make_ctx: MakeContext
) -> None:
    body = '{"name": "%s", "times": 3}' % ("x" * (1024 * 1024))
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step(endpoint, body=body), {}, local(make_ctx))
    assert caught.value.code == Code.GRPC_CALL_RESOURCE_EXHAUSTED


@pytest.mark.parametrize("method", [f"{SERVICE}/Missing", "demo.v1.Nobody/Hello"])
def test_unknown_service_or_method_is_unimplemented(
    method: str, endpoint: str, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step(endpoint, method=method), {}, local(make_ctx))
    assert caught.value.code == Code.GRPC_CALL_UNIMPLEMENTED


@pytest.mark.parametrize(
    "fields",
    [
        {"body": '{"nope": 1}'},
        {"body": "not json"},
        {"method": "Hello"},
        {"endpoint": "127.0.0.1"},
        {"endpoint": "grpc://127.0.0.1:1/path"},
        {"useServiceAccount": True},
    ],
)
def test_bad_call_options_are_grpc_call_invalid_options(
    fields: dict[str, Any], endpoint: str, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step(endpoint, **fields), {}, local(make_ctx))
    assert caught.value.code == Code.GRPC_CALL_INVALID_OPTIONS


def test_server_without_reflection_is_an_invalid_reflection_response(
    make_ctx: MakeContext,
) -> None:
    server, port = start(with_reflection=False)
    try:
        with pytest.raises(StepFailure) as caught:
            grpc_call.call(step(f"grpc://127.0.0.1:{port}"), {}, local(make_ctx))
    finally:
        server.stop(None)
    assert caught.value.code == Code.GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE


def test_unreachable_server_is_unavailable(make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step("grpc://127.0.0.1:9"), {}, local(make_ctx))
    assert caught.value.code == Code.GRPC_CALL_UNAVAILABLE


def test_private_hosts_are_refused_unless_allowed(endpoint: str, make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step(endpoint), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_PERMISSION_DENIED


def test_a_host_name_is_called_at_the_address_it_was_checked_as(
    endpoint: str,
    resolver: Resolver,  # noqa: F811 - the imported fixture
    make_ctx: MakeContext,
) -> None:
    # gRPC's own resolver does not know greeter.test: only the pinned address can answer.
    resolver.answers["greeter.test"] = ["127.0.0.1", PUBLIC]
    port = endpoint.rsplit(":", 1)[1]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"greeter.test"}))
    spec = step(f"grpc://greeter.test:{port}", body='{"name": "Cy"}')
    assert grpc_call.call(spec, {}, ctx) == {"message": "hello Cy"}
    assert resolver.lookups["greeter.test"] == 1


def test_a_host_name_resolving_to_loopback_is_refused_naming_the_address(
    endpoint: str,
    resolver: Resolver,  # noqa: F811 - the imported fixture
    make_ctx: MakeContext,
) -> None:
    resolver.answers["rebind.test"] = ["127.0.0.1"]
    port = endpoint.rsplit(":", 1)[1]
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step(f"grpc://rebind.test:{port}"), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_PERMISSION_DENIED
    assert "rebind.test resolves to 127.0.0.1, which is loopback" in str(caught.value)


@pytest.fixture
def tls_endpoint(
    authority: Authority,  # noqa: F811 - the imported fixture
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """A TLS server whose certificate names greeter.test, and a client trusting its CA."""
    key, cert = authority.issue("greeter.test")
    server, port = start(True, grpc.ssl_server_credentials([(key, cert)]))
    trusted = grpc.ssl_channel_credentials(root_certificates=authority.pem)
    monkeypatch.setattr(grpc, "ssl_channel_credentials", lambda: trusted)
    yield f"grpcs://greeter.test:{port}"
    server.stop(None)


def test_tls_checks_the_host_name_at_the_pinned_address(
    tls_endpoint: str,
    resolver: Resolver,  # noqa: F811 - the imported fixture
    make_ctx: MakeContext,
) -> None:
    resolver.answers["greeter.test"] = ["127.0.0.1"]
    ctx = make_ctx({}, allow_private_hosts=frozenset({"greeter.test"}))
    assert grpc_call.call(step(tls_endpoint, body='{"name": "Di"}'), {}, ctx) == {
        "message": "hello Di"
    }


def test_tls_refuses_a_certificate_for_another_name(
    tls_endpoint: str,
    resolver: Resolver,  # noqa: F811 - the imported fixture
    make_ctx: MakeContext,
) -> None:
    resolver.answers["other.test"] = ["127.0.0.1"]
    ctx = dataclasses.replace(
        make_ctx({}, allow_private_hosts=frozenset({"other.test"})), timeout=1
    )
    port = tls_endpoint.rsplit(":", 1)[1]
    with pytest.raises(StepFailure) as caught:
        grpc_call.call(step(f"grpcs://other.test:{port}"), {}, ctx)
    assert caught.value.code in (Code.GRPC_CALL_UNAVAILABLE, Code.GRPC_CALL_DEADLINE_EXCEEDED)


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        (["10.0.0.1"], "ipv4:10.0.0.1:443"),
        (["10.0.0.1", "2001:db8::1", "10.0.0.2"], "ipv4:10.0.0.1:443,10.0.0.2:443"),
        (["::1"], "ipv6:[::1]:443"),
        (["fe80::1%eth0", "10.0.0.1"], "ipv6:[fe80::1%25eth0]:443"),
    ],
)
def test_the_channel_target_names_only_the_checked_addresses(
    addresses: list[str], expected: str
) -> None:
    assert grpc_call.pinned_target(addresses, "443") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host:443", ("host:443", True)),
        ("grpcs://host:8443", ("host:8443", True)),
        ("grpc://10.0.0.1:50051", ("10.0.0.1:50051", False)),
        ("[::1]:50051", ("[::1]:50051", True)),
    ],
)
def test_parse_endpoint_reads_scheme_and_target(text: str, expected: tuple[str, bool]) -> None:
    assert grpc_call.parse_endpoint(text) == expected
