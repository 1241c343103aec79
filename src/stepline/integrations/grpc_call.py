"""GRPCCall → a unary gRPC call found through server reflection (REFERENCE §4.3).

``endpoint`` renders to ``host:port`` (TLS with the system roots), ``grpcs://host:port``
(TLS) or ``grpc://host:port`` (plaintext); ``method`` to ``package.Service/Method``
(``package.Service.Method`` is accepted too). The method's request and response types are
read from the server's reflection service (``grpc.reflection.v1alpha``); the rendered
``body`` (JSON text or a JSON value; empty means ``{}``) is parsed into the request message
with protobuf's ``json_format``; rendered ``headers`` go out as metadata (names lower-cased).
Every network step uses the attempt's remaining time as its deadline. Loopback and private
hosts are refused unless allowed, as for ContainerCall: the host is resolved once, every address is
checked, and the channel connects to those addresses only (TLS still checks the host's name), so
a second, different DNS answer cannot redirect the call. ``useServiceAccount`` has no AWS
counterpart: put a bearer token into ``headers`` (e.g. from ``lockboxPayload``) instead;
``true`` is rejected.

Output: the response message as proto3 JSON (``json_format.MessageToDict``: lowerCamelCase
names, 64-bit integers as strings).

Errors: the call's gRPC status → ``GRPC_CALL_<status>`` for CANCELLED, DEADLINE_EXCEEDED,
UNIMPLEMENTED, UNAVAILABLE, UNKNOWN, INTERNAL, RESOURCE_EXHAUSTED and UNAUTHENTICATED; the
statuses YaWL has no GRPC_CALL code for map to the step codes nearest in meaning —
INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE → ``STEP_INVALID_ARGUMENT``; PERMISSION_DENIED →
``STEP_PERMISSION_DENIED``; FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED →
``STEP_FAILED_PRECONDITION``; DATA_LOSS → ``GRPC_CALL_INTERNAL``. A bad endpoint, method, body or
header → ``GRPC_CALL_INVALID_OPTIONS``; a service or method the server does not describe →
``GRPC_CALL_UNIMPLEMENTED``; no reflection service or an unusable reflection reply →
``GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE``; a response over 2 MB →
``GRPC_CALL_RESOURCE_EXHAUSTED``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stepline.integrations import CallContext
from stepline.integrations.web import check_host
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import GRPCCall

MAX_MESSAGE_BYTES = 2 * 1024 * 1024
Code = WorkflowErrorCode
_STATUS_CODES: dict[grpc.StatusCode, WorkflowErrorCode] = {
    grpc.StatusCode.CANCELLED: Code.GRPC_CALL_CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED: Code.GRPC_CALL_DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED: Code.GRPC_CALL_UNIMPLEMENTED,
    grpc.StatusCode.UNAVAILABLE: Code.GRPC_CALL_UNAVAILABLE,
    grpc.StatusCode.UNKNOWN: Code.GRPC_CALL_UNKNOWN,
    grpc.StatusCode.INTERNAL: Code.GRPC_CALL_INTERNAL,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Code.GRPC_CALL_RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAUTHENTICATED: Code.GRPC_CALL_UNAUTHENTICATED,
    grpc.StatusCode.INVALID_ARGUMENT: Code.STEP_INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND: Code.STEP_INVALID_ARGUMENT,
    grpc.StatusCode.OUT_OF_RANGE: Code.STEP_INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED: Code.STEP_PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION: Code.STEP_FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS: Code.STEP_FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED: Code.STEP_FAILED_PRECONDITION,
    grpc.StatusCode.DATA_LOSS: Code.GRPC_CALL_INTERNAL,
}


def call(step: GRPCCall, step_input: Any, ctx: CallContext) -> Any:
    """Call the method with the rendered body and return the response as JSON."""
    if step.use_service_account:
        raise _options("useServiceAccount has no AWS counterpart; send a token in headers")
    target, secure = parse_endpoint(_text(ctx.render(step.endpoint), "endpoint"))
    addresses = check_host(target.rsplit(":", 1)[0].strip("[]"), ctx.allow_private_hosts)
    service, method = parse_method(_text(ctx.render(step.method), "method"))
    body = ctx.render(step.body) if step.body else ""
    metadata = tuple(
        (name.lower(), _text(ctx.render(value), f"headers.{name}"))
        for name, value in step.headers.items()
    )
    deadline = time.monotonic() + ctx.timeout
    with _channel(target, addresses, secure) as channel:
        descriptor = find_method(channel, service, method, deadline)
        request_class = message_factory.GetMessageClass(descriptor.input_type)
        response_class = message_factory.GetMessageClass(descriptor.output_type)
        request = _request(request_class, body)
        stub = channel.unary_unary(
            f"/{service}/{method}",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        response = _rpc(lambda: stub(request, timeout=_left(deadline), metadata=metadata))
    return json_format.MessageToDict(response)


def parse_endpoint(endpoint: str) -> tuple[str, bool]:
    """``host:port`` and whether to use TLS, from a rendered endpoint."""
    secure = True
    target = endpoint.strip()
    for scheme, tls in (("grpcs://", True), ("grpc://", False), ("https://", True)):
        if target.startswith(scheme):
            target, secure = target[len(scheme) :], tls
    host, _, port = target.rstrip("/").rpartition(":")
    if not host or not port.isdigit() or "/" in target.rstrip("/"):
        raise _options(f"endpoint {endpoint!r} must be host:port")
    return target.rstrip("/"), secure


def parse_method(text: str) -> tuple[str, str]:
    """(service, method) of ``package.Service/Method`` or ``package.Service.Method``."""
    name = text.strip().lstrip("/")
    service, sep, method = name.rpartition("/")
    if not sep:
        service, _, method = name.rpartition(".")
    if not service or not method or "/" in service:
        raise _options(f"method {text!r} must be package.Service/Method")
    return service, method


def pinned_target(addresses: list[str], port: str) -> str:
    """A gRPC target naming only the checked addresses (those of the first one's family)."""
    if ":" not in addresses[0]:
        return "ipv4:" + ",".join(f"{a}:{port}" for a in addresses if ":" not in a)
    return "ipv6:" + ",".join(f"[{a.replace('%', '%25')}]:{port}" for a in addresses if ":" in a)


@contextmanager
def _channel(target: str, addresses: list[str], secure: bool) -> Iterator[grpc.Channel]:
    """A channel to the checked ``addresses``, with ``target``'s host as authority and TLS name."""
    host, _, port = target.rpartition(":")
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.enable_retries", 0),
        ("grpc.default_authority", target),
    ]
    pinned = pinned_target(addresses, port)
    if secure:
        options.append(("grpc.ssl_target_name_override", host.strip("[]")))
        channel = grpc.secure_channel(pinned, grpc.ssl_channel_credentials(), options=options)
    else:
        channel = grpc.insecure_channel(pinned, options=options)
    try:
        yield channel
    finally:
        channel.close()


def find_method(
    channel: grpc.Channel, service: str, method: str, deadline: float
) -> MethodDescriptor:
    """The descriptor of ``service/method``, read from the server's reflection service."""
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    pool = descriptor_pool.DescriptorPool()
    files = _reflect(stub, deadline, file_containing_symbol=service)
    _add_files(stub, pool, files, deadline)
    try:
        descriptor = pool.FindServiceByName(service)  # type: ignore[no-untyped-call]
    except KeyError:
        raise StepFailure(
            Code.GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE,
            f"reflection described no service {service}",
        ) from None
    found: MethodDescriptor | None = descriptor.methods_by_name.get(method)
    if found is None:
        raise StepFailure(Code.GRPC_CALL_UNIMPLEMENTED, f"{service} has no method {method}")
    if found.client_streaming or found.server_streaming:
        raise _options(f"{service}/{method} is a streaming method; only unary calls are made")
    return found


def _add_files(
    stub: Any,
    pool: descriptor_pool.DescriptorPool,
    files: list[descriptor_pb2.FileDescriptorProto],
    deadline: float,
) -> None:
    """Add files to the pool, dependencies first, asking reflection for the ones missing."""
    known = {proto.name: proto for proto in files}
    added: set[str] = set()

    def add(proto: descriptor_pb2.FileDescriptorProto, path: tuple[str, ...]) -> None:
        if proto.name in added or proto.name in path:
            return
        for dependency in proto.dependency:
            if dependency not in known:
                for fetched in _reflect(stub, deadline, file_by_filename=dependency):
                    known.setdefault(fetched.name, fetched)
            if dependency not in known:
                raise StepFailure(
                    Code.GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE,
                    f"reflection did not return {dependency}, needed by {proto.name}",
                )
            add(known[dependency], (*path, proto.name))
        try:
            pool.Add(proto)  # type: ignore[no-untyped-call]
        except (TypeError, ValueError) as exc:
            raise StepFailure(
                Code.GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE,
                f"reflection returned an unusable {proto.name}: {exc}",
            ) from exc
        added.add(proto.name)

    for proto in files:
        add(proto, ())


def _reflect(stub: Any, deadline: float, **query: str) -> list[descriptor_pb2.FileDescriptorProto]:
    request = reflection_pb2.ServerReflectionRequest()
    for field, value in query.items():
        setattr(request, field, value)
    try:
        replies = list(stub.ServerReflectionInfo(iter([request]), timeout=_left(deadline)))
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            raise StepFailure(
                Code.GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE,
                "the server does not offer gRPC reflection",
            ) from exc
        raise _rpc_failure(exc) from exc
    if len(replies) != 1:
        raise StepFailure(
            Code.GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE,
            f"reflection answered {len(replies)} messages to one request",
        )
    reply = replies[0]
    if reply.HasField("error_response"):
        what = next(iter(query.values()))
        raise StepFailure(
            Code.GRPC_CALL_UNIMPLEMENTED,
            f"reflection does not know {what}: {reply.error_response.error_message}",
        )
    if not reply.HasField("file_descriptor_response"):
        raise StepFailure(
            Code.GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE,
            "reflection answered without file descriptors",
        )
    try:
        return [
            descriptor_pb2.FileDescriptorProto.FromString(raw)
            for raw in reply.file_descriptor_response.file_descriptor_proto
        ]
    except DecodeError as exc:
        raise StepFailure(
            Code.GRPC_CALL_INVALID_REFLECTION_SERVER_RESPONSE,
            f"reflection returned a malformed file descriptor: {exc}",
        ) from exc


def _request(request_class: type[Message], body: Any) -> Message:
    text = body if isinstance(body, str) else json.dumps(body)
    try:
        return json_format.Parse(text or "{}", request_class())
    except json_format.ParseError as exc:
        raise _options(f"body does not fit {request_class.DESCRIPTOR.full_name}: {exc}") from None


def _rpc(send: Any) -> Message:
    try:
        response: Message = send()
    except grpc.RpcError as exc:
        raise _rpc_failure(exc) from exc
    except ValueError as exc:  # grpc rejects bad metadata before sending
        raise _options(str(exc)) from exc
    return response


def _rpc_failure(exc: grpc.RpcError) -> StepFailure:
    status = exc.code()
    details = exc.details()
    code = _STATUS_CODES.get(status, Code.GRPC_CALL_UNKNOWN)
    return StepFailure(code, f"gRPC {status.name}: {details}")


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise StepFailure(Code.GRPC_CALL_DEADLINE_EXCEEDED, "the step timeout passed")
    return left


def _text(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return json.dumps(value)
    raise _options(f"{field} must render to a string")


def _options(message: str) -> StepFailure:
    return StepFailure(Code.GRPC_CALL_INVALID_OPTIONS, f"grpcCall: {message}")
