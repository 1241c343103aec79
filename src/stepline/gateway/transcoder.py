"""The gRPC endpoint of the official clients, transcoded onto Stepline's HTTP API.

Every RPC of ``yandex.cloud.serverless.workflows.v1.ExecutionService`` and ``WorkflowService``
and of ``yandex.cloud.operation.OperationService`` is served from the official protos (the
``yandexcloud`` package), and Stepline's extensions (redrive, pause, resume, the task answers)
from its own, ``stepline.workflows.v1`` in ``extensions.proto`` beside this module: the request
message becomes the HTTP request its method's
``google.api.http`` rule names (path fields in the path, the rest in the JSON body when the
rule has one, else in the query), signed with SigV4 as the CLI signs its requests; the JSON
answer becomes the response message, and an error answer the gRPC status of its ``code``.

So there is one implementation of the API — the HTTP handlers over the service layer, behind
API Gateway's IAM authorisation — and this is a translator in front of it: on the dev stack
(``stepline dev --grpc-port``) against the stack's own API, and beside a deployed stack
(``stepline grpc-gateway --api URL``) against API Gateway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import quote

import grpc
import httpx
from google.api import annotations_pb2  # type: ignore[import-untyped]
from google.protobuf import field_mask_pb2, json_format
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from stepline.cli import client as http_client
from stepline.cli.client import ApiError
from stepline.client.auth import SigV4
from stepline.errors import Code

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
_STATUS_BY_CODE = {status.value[0]: status for status in grpc.StatusCode}
_UPDATE_MASK = "update_mask"
_NOT_JSON = re.compile(r"serialize (-?Infinity|NaN) for")
FORWARDED_METADATA = ("idempotency-key",)
"""gRPC metadata sent on as the HTTP header of the same name (the official clients pass an
``Idempotency-Key`` as metadata)."""


def service_modules() -> tuple[ModuleType, ...]:
    """The ``*_pb2`` modules whose services this endpoint serves: the official protos', and
    Stepline's extensions."""
    # google.protobuf.Empty is the response of Delete's and the access-binding calls'
    # Operations: importing it registers it for their Any, which would not parse without.
    from google.protobuf import empty_pb2  # noqa: F401
    from yandex.cloud.operation import operation_service_pb2
    from yandex.cloud.serverless.workflows.v1 import execution_service_pb2, workflow_service_pb2

    from stepline.gateway import extensions_pb2

    return (execution_service_pb2, workflow_service_pb2, operation_service_pb2, extensions_pb2)


@dataclass(frozen=True)
class Route:
    """One RPC and the HTTP request its ``google.api.http`` rule maps it to."""

    service: str
    """The service's full name, e.g. ``yandex.cloud.serverless.workflows.v1.ExecutionService``."""
    method: str
    verb: str
    path: str
    body: str
    request: type[Message]
    response: type[Message]

    @classmethod
    def of(cls, method: MethodDescriptor) -> Route:
        """The route of one method of the official protos."""
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        verb = rule.WhichOneof("pattern")
        if verb is None or verb == "custom":
            raise ValueError(f"{method.full_name} has no HTTP rule")
        return cls(
            service=method.containing_service.full_name,
            method=method.name,
            verb=verb.upper(),
            path=getattr(rule, verb),
            body=rule.body,
            request=GetMessageClass(method.input_type),
            response=GetMessageClass(method.output_type),
        )

    def http(self, request: Message) -> tuple[str, dict[str, str], dict[str, Any] | None]:
        """The path, query and JSON body carrying ``request``; :class:`ApiError`
        (INVALID_ARGUMENT) for a request that has no JSON form."""
        fields = _whole_numbers(_fields(request))
        in_path: set[str] = set()

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            field = request.DESCRIPTOR.fields_by_name[name]
            in_path.add(field.json_name)
            # One path segment, whatever it holds: an id with "/" or ".." stays in its place
            # (the API answers it as the malformed id it is).
            return quote(str(getattr(request, name)), safe="")

        path = _PLACEHOLDER.sub(substitute, self.path)
        rest = {name: value for name, value in fields.items() if name not in in_path}
        if self.body == "*":
            return path, {}, rest
        if self.body:
            carried = request.DESCRIPTOR.fields_by_name[self.body].json_name
            return path, _query(rest, skip=carried), rest.get(carried, {})
        return path, _query(rest), None


def _fields(request: Message) -> dict[str, Any]:
    """``request`` as proto3 JSON. proto3 leaves out every field holding its default, so where
    the request has an ``update_mask`` each field it names is added with its value, default
    included (``""``, ``{}``, ``false``; ``null`` for an unset message): the mask then resets
    it, as the same mask does over REST. The mask goes as proto3 JSON writes it (comma-joined
    camelCase names), a path naming no field as given, for the API to refuse."""
    mask = _update_mask(request)
    if mask is None:
        return _json(request)
    unmasked = type(request)()
    unmasked.CopyFrom(request)
    unmasked.ClearField(_UPDATE_MASK)
    fields = _json(unmasked)
    everything = _json(unmasked, defaults=True)
    by_name = {f.name: f for f in request.DESCRIPTOR.fields} | {
        f.json_name: f for f in request.DESCRIPTOR.fields
    }
    paths = []
    for path in mask.paths:
        field = by_name.get(path)
        if field is None or field.name == _UPDATE_MASK:
            paths.append(path)
            continue
        paths.append(field.json_name)
        fields.setdefault(field.json_name, everything.get(field.json_name))
    return {**fields, by_name[_UPDATE_MASK].json_name: ",".join(paths)}


def _update_mask(request: Message) -> field_mask_pb2.FieldMask | None:
    """The request's ``update_mask`` when it has one set."""
    field = request.DESCRIPTOR.fields_by_name.get(_UPDATE_MASK)
    if field is None or field.message_type is not field_mask_pb2.FieldMask.DESCRIPTOR:
        return None
    if not request.HasField(_UPDATE_MASK):
        return None
    mask: field_mask_pb2.FieldMask = getattr(request, _UPDATE_MASK)
    return mask


def _json(message: Message, *, defaults: bool = False) -> dict[str, Any]:
    """``message`` as proto3 JSON (with the fields holding defaults when ``defaults``), or
    INVALID_ARGUMENT naming the field that has no JSON form (a NaN or infinite number in a
    ``google.protobuf.Value``)."""
    try:
        return json_format.MessageToDict(message, always_print_fields_with_no_presence=defaults)
    except json_format.SerializeToJsonError as exc:
        path, reason = _unwritable(message)
        raise ApiError(Code.INVALID_ARGUMENT, f"{path}: {reason}") from exc


def _unwritable(message: Message, prefix: str = "") -> tuple[str, str]:
    """The dotted JSON name of the innermost field of ``message`` that proto3 JSON cannot
    write, and why."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        name = f"{prefix}{field.json_name}"  # type: ignore[attr-defined]
        if field.message_type.GetOptions().map_entry:
            items = list(value.values())
        else:
            items = list(value) if field.is_repeated else [value]
        for item in items:
            if not isinstance(item, Message):
                continue
            try:
                json_format.MessageToDict(item)
            except (json_format.Error, ValueError) as exc:
                if item.DESCRIPTOR.full_name.startswith("google.protobuf."):
                    return name, _reason(exc)
                return _unwritable(item, f"{name}.")
    return prefix.rstrip(".") or "request", "cannot be written as JSON"


def _reason(exc: Exception) -> str:
    """Why a value has no JSON form, e.g. ``NaN is not a JSON value``."""
    found = _NOT_JSON.search(str(exc))
    return f"{found.group(1)} is not a JSON value" if found else str(exc)


def _whole_numbers(value: Any) -> Any:
    """``value`` with whole doubles as integers: a ``google.protobuf.Value`` carries every
    number as a double, and an ``inputValue`` of ``{"n": 3}`` should reach the API as 3, not
    3.0 (the official clients have no other way to send an integer)."""
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _query(fields: Mapping[str, Any], *, skip: str = "", prefix: str = "") -> dict[str, str]:
    """Query parameters of the fields not in the path: nested messages as dotted names,
    repeated fields joined by commas (the API's lists take one value each)."""
    query: dict[str, str] = {}
    for name, value in fields.items():
        if name == skip:
            continue
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            query |= _query(value, prefix=f"{key}.")
        elif isinstance(value, list):
            query[key] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            query[key] = "true" if value else "false"
        else:
            query[key] = str(value)
    return query


def query_string(params: Mapping[str, str]) -> str:
    """``params`` encoded as SigV4 signs them: every byte but ``A-Za-z0-9-_.~`` as ``%XX``, a
    space as ``%20``. (A form encoding's ``+`` for a space is signed as it stands, while the
    receiving side reads it as a space and signs ``%20``: a filter holding `` AND `` would be
    refused as a bad signature.)"""
    return "&".join(f"{_escape(key)}={_escape(value)}" for key, value in params.items())


def _escape(text: str) -> str:
    return quote(text, safe="-_.~")


def routes() -> Iterator[Route]:
    """Every RPC of the served services."""
    for module in service_modules():
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield Route.of(method)


class Api:
    """The HTTP API at ``endpoint``, every request SigV4-signed as the CLI signs it (the dev
    stack's root key on a loopback endpoint unless a profile is named, else the standard AWS
    credential chain)."""

    def __init__(
        self, endpoint: str, *, profile: str | None = None, region: str | None = None
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        auth = SigV4(self.endpoint, profile=profile, region=region)
        self._http = httpx.Client(base_url=self.endpoint, timeout=http_client.TIMEOUT, auth=auth)

    def request(
        self,
        verb: str,
        path: str,
        *,
        params: dict[str, str],
        body: dict[str, Any] | None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request; its JSON answer, or :class:`ApiError` with the API's code."""
        target = f"{path}?{query_string(params)}" if params else path
        try:
            response = self._http.request(verb, target, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise ApiError(Code.UNAVAILABLE, f"cannot reach {self.endpoint}: {exc}") from exc
        return http_client.answer(response)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


class Transcoder:
    """Answers each RPC with the HTTP API's answer to its request."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def whole(
        self,
        route: Route,
        path: str,
        query: dict[str, str],
        body: dict[str, Any] | None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The API's answer to one RPC. Where the API pages what the proto answers whole (a
        GetHistory past 4 MB of JSON, whose response has no page token), the pages are read
        to the end and their lists joined."""
        data = self.api.request(route.verb, path, params=query, body=body, headers=headers)
        if "next_page_token" in route.response.DESCRIPTOR.fields_by_name:
            return data
        while token := data.pop("nextPageToken", None):
            more = self.api.request(
                route.verb, path, params={**query, "pageToken": token}, body=body, headers=headers
            )
            for name, value in more.items():
                if isinstance(value, list) and isinstance(data.get(name), list):
                    data[name] = [*data[name], *value]
                else:
                    data.setdefault(name, value)
            if "nextPageToken" in more:
                data["nextPageToken"] = more["nextPageToken"]
        return data

    def handler(self, route: Route) -> Callable[[Message, grpc.ServicerContext], Message]:
        """The unary handler of one route."""

        def answer(request: Message, context: grpc.ServicerContext) -> Message:
            try:
                path, query, body = route.http(request)
                data = self.whole(route, path, query, body, _headers(context))
            except ApiError as exc:
                status = _STATUS_BY_CODE.get(exc.code, grpc.StatusCode.UNKNOWN)
                context.abort(status, exc.message)
            response = route.response()
            try:
                json_format.ParseDict(data, response, ignore_unknown_fields=True)
            except json_format.ParseError as exc:
                context.abort(grpc.StatusCode.INTERNAL, f"the API's answer does not fit: {exc}")
            return response

        return answer

    def generic_handlers(self) -> list[grpc.GenericRpcHandler]:
        """One generic handler per service, with every method of its protos."""
        by_service: dict[str, dict[str, grpc.RpcMethodHandler[Any, Any]]] = {}
        for route in routes():
            by_service.setdefault(route.service, {})[route.method] = (
                grpc.unary_unary_rpc_method_handler(
                    self.handler(route),
                    request_deserializer=route.request.FromString,
                    response_serializer=route.response.SerializeToString,
                )
            )
        return [
            grpc.method_handlers_generic_handler(service, methods)
            for service, methods in by_service.items()
        ]


def _headers(context: grpc.ServicerContext) -> dict[str, str]:
    """The HTTP headers carrying the call's :data:`FORWARDED_METADATA`."""
    return {
        key: value
        for key, value in context.invocation_metadata()
        if key in FORWARDED_METADATA and isinstance(value, str)
    }


def serve(api: Api, *, host: str = "127.0.0.1", port: int = 0) -> tuple[grpc.Server, int]:
    """A started gRPC server transcoding onto ``api``; the server and its port."""
    from grpc_reflection.v1alpha import reflection

    # No SO_REUSEPORT (gRPC's default): a second server on a taken port must fail, not share it.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16), options=[("grpc.so_reuseport", 0)]
    )
    transcoder = Transcoder(api)
    server.add_generic_rpc_handlers(transcoder.generic_handlers())
    names = sorted({route.service for route in routes()})
    reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)
    cause: RuntimeError | None = None
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:  # grpcio raises where older versions returned 0
        bound, cause = 0, exc
    if bound == 0:
        raise OSError(f"gRPC port {port} on {host} is in use; pass another port") from cause
    server.start()
    return server, bound


__all__ = ["Api", "Route", "Transcoder", "query_string", "routes", "serve"]
