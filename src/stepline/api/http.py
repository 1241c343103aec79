"""The HTTP edge shared by every API handler: one resolver factory, parsing, error mapping.

Handlers build their resolver with :func:`make_app`, parse with :func:`parse_body` and
:func:`query`, and let errors propagate: the exception handlers registered here are the only
place where exceptions become HTTP responses:

* a :class:`~stepline.errors.SteplineError` → its code and status (``Retry-After`` for
  RESOURCE_EXHAUSTED and UNAVAILABLE; :mod:`stepline.api.errors` holds the table);
* a pydantic ``ValidationError`` → INVALID_ARGUMENT (400), naming the field;
* AWS throttling (store ``Throttled``) → RESOURCE_EXHAUSTED (429, ``Retry-After: 1``);
* AWS unavailable (store ``Unavailable``: 5xx, no connection, a timeout) → UNAVAILABLE (503,
  ``Retry-After: 2``);
* any other store failure (its message is not for callers) and anything else, a bug →
  INTERNAL (500), its message naming the request id the logs carry.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import BaseModel, ValidationError

from stepline.access import Principal
from stepline.api import errors
from stepline.errors import (
    Internal,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    SteplineError,
    Unavailable,
)
from stepline.store.errors import StoreError, Throttled, Transient
from stepline.telemetry import logger as logger  # re-exported for the functions
from stepline.telemetry import metrics as metrics
from stepline.telemetry import tracer as tracer

MAX_BODY_BYTES = 6 * 1024 * 1024

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


Handler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]

Model = TypeVar("Model", bound=BaseModel)


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _error_response(error: SteplineError) -> Response[str]:
    with single_metric(name="ApiErrors", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="code", value=error.code.name)
    retry_after = errors.retry_after(error)
    return Response(
        status_code=errors.http_status(error),
        content_type="application/json",
        body=_compact(errors.body(error)),
        headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
    )


def _on_api_error(error: SteplineError) -> Response[str]:
    logger.info("request refused", extra={"code": error.code.name, "reason": error.message})
    return _error_response(error)


def _on_validation_error(error: ValidationError) -> Response[str]:
    return _on_api_error(InvalidArgument(describe_validation_error(error)))


def _on_aws_trouble(error: Transient) -> Response[str]:
    """AWS throttled the request (RESOURCE_EXHAUSTED) or could not serve it (UNAVAILABLE)."""
    throttled = isinstance(error, Throttled)
    logger.warning(
        "AWS throttled the request" if throttled else "AWS unavailable",
        extra={"service": error.service, "reason": error.reason},
    )
    if throttled:
        api_error: SteplineError = ResourceExhausted("too many requests right now; retry later")
    else:
        api_error = Unavailable("the service is unavailable right now; retry later")
    return _error_response(api_error)


def make_app() -> APIGatewayHttpResolver:
    """A resolver whose exception handlers render every error as ``{code, message, details}``."""
    app = APIGatewayHttpResolver(serializer=_compact)

    def no_route(_: Exception) -> Response[str]:
        return _on_api_error(_no_such_call(app))

    def unexpected(_: Exception) -> Response[str]:
        logger.exception("unexpected failure")
        context = app.current_event.raw_event.get("requestContext") or {}
        request_id = context.get("requestId") or logger.get_correlation_id() or "unknown"
        message = f"internal error; request id {request_id} (the logs have the details)"
        return _error_response(Internal(message))

    app.exception_handler(SteplineError)(_on_api_error)
    app.exception_handler(StoreError)(unexpected)  # a store failure the core did not translate
    app.exception_handler(ValidationError)(_on_validation_error)
    app.exception_handler(Transient)(_on_aws_trouble)
    app.exception_handler(Exception)(unexpected)
    app.not_found(no_route)
    return app


def make_handler(app: APIGatewayHttpResolver) -> Handler:
    """The Lambda entry point of ``app``: logs correlated by request id, metrics, tracing."""
    traced: list[Handler] = []

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if not traced:
            traced.append(tracer().capture_lambda_handler(app.resolve))
        return traced[0](event, context)

    return lambda_handler


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the field: ``input.inputJson: Input should be ...``."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"]
        if item["type"] == "json_invalid":
            message = f"not valid JSON ({item.get('ctx', {}).get('error', 'parse error')})"
        elif item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def body_text(app: APIGatewayHttpResolver) -> str:
    """The request body as text, decoded and size-checked."""
    event = app.current_event
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidArgument("body: invalid base64 encoding") from exc
    else:
        data = raw.encode()
    if len(data) > MAX_BODY_BYTES:
        raise InvalidArgument(f"body: {len(data)} bytes exceeds the limit of {MAX_BODY_BYTES}")
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise InvalidArgument("body: not UTF-8 text") from exc


def parse_body(app: APIGatewayHttpResolver, model: type[Model]) -> Model:
    """Validate the JSON body against ``model``; an empty body is an empty object."""
    text = body_text(app)
    return model.model_validate_json(text if text.strip() else "{}")


def query(app: APIGatewayHttpResolver, name: str) -> str | None:
    """A query parameter by its camelCase name, also accepted in snake_case."""
    event = app.current_event
    value = event.get_query_string_value(name)
    if value is None:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
        value = event.get_query_string_value(snake)
    return value


def header(app: APIGatewayHttpResolver, name: str) -> str | None:
    """A request header (case-insensitive)."""
    return app.current_event.headers.get(name.lower())


ANONYMOUS = "anonymous"


def caller(app: APIGatewayHttpResolver) -> str:
    """The authenticated principal (IAM ARN), or ``anonymous@<source address>`` for a request
    without an identity (the public API's start by link): anonymous callers are told apart
    by where they call from, so one's Idempotency-Key never answers another's start."""
    context = app.current_event.raw_event.get("requestContext") or {}
    iam = (context.get("authorizer") or {}).get("iam") or {}
    signed = iam.get("userArn") or iam.get("userId")
    if signed:
        return str(signed)
    source = ((context.get("http") or {}).get("sourceIp")) or "unknown"
    return f"{ANONYMOUS}@{source}"


def principal(app: APIGatewayHttpResolver) -> Principal | None:
    """The signed caller, whose access bindings the core checks; None for a request without
    an identity (the public API's unauthenticated start by link)."""
    context = app.current_event.raw_event.get("requestContext") or {}
    iam = (context.get("authorizer") or {}).get("iam") or {}
    if not iam:
        return None
    account = context.get("accountId") or ""
    return Principal(str(iam.get("userArn") or ""), str(account))


def custom_method(app: APIGatewayHttpResolver, segment: str, *verbs: str) -> tuple[str, str | None]:
    """Split a path segment ``<id>:<verb>`` into the id and one of ``verbs`` (a plain ``<id>``
    has none); any other verb is no such call.

    Custom methods (``…/workflow/{id}:listAccessBindings``) share the route of the resource's
    last segment: API Gateway takes a path variable only as a whole segment. The colon may come
    percent-encoded (``%3A``): the resolver matches the raw path.
    """
    resource, colon, verb = unquote(segment).partition(":")
    if not colon:
        return resource, None
    if verb not in verbs:
        raise _no_such_call(app)
    return resource, verb


def custom_verb(app: APIGatewayHttpResolver, segment: str, *verbs: str) -> tuple[str, str]:
    """:func:`custom_method` on a route that serves custom methods only."""
    resource, verb = custom_method(app, segment, *verbs)
    if verb is None:
        raise _no_such_call(app)
    return resource, verb


def _no_such_call(app: APIGatewayHttpResolver) -> NotFound:
    event = app.current_event
    return NotFound(f"no such call: {event.http_method} {event.path}")


def base_url(app: APIGatewayHttpResolver) -> str:
    """The public base URL of this API, as the caller reached it."""
    event = app.current_event
    context = event.raw_event.get("requestContext") or {}
    host = context.get("domainName") or event.headers.get("host") or "localhost"
    scheme = event.headers.get("x-forwarded-proto", "https")
    return f"{scheme}://{host}"
