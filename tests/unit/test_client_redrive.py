"""The public client's redrive: one POST to the custom method, never sent again by itself."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from stepline.client import AsyncClient, Client
from stepline.errors import FailedPrecondition

EXECUTION_ID = "swexample-00000000-0000-4000-8000-000000000000"


def _transport(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return httpx.MockTransport(handle)


def test_redrive_posts_the_custom_method_and_returns_the_count() -> None:
    seen: list[httpx.Request] = []
    answer = httpx.Response(200, json={"executionId": EXECUTION_ID, "redriveCount": "2"})
    client = Client("http://127.0.0.1:1", transport=_transport([answer], seen), retries=2)

    assert client.redrive(EXECUTION_ID) == 2

    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == f"/workflows/v1/execution/{EXECUTION_ID}:redrive"


def test_a_refused_redrive_is_not_sent_again() -> None:
    seen: list[httpx.Request] = []
    refused = httpx.Response(
        400, json={"code": 9, "message": "execution is FINISHED; it finished", "details": []}
    )
    client = Client("http://127.0.0.1:1", transport=_transport([refused], seen), retries=2)

    with pytest.raises(FailedPrecondition, match="FINISHED"):
        client.redrive(EXECUTION_ID)
    assert len(seen) == 1


def test_the_async_client_redrives_too() -> None:
    seen: list[httpx.Request] = []
    answer = httpx.Response(200, json={"executionId": EXECUTION_ID, "redriveCount": "1"})

    async def go() -> int:
        client = AsyncClient("http://127.0.0.1:1", transport=_transport([answer], seen))
        return await client.redrive(EXECUTION_ID)

    # In a thread of its own: a browser test before this one in the process may have left an
    # event loop running in this thread (Playwright's sync API does), where asyncio.run refuses.
    with ThreadPoolExecutor(1) as thread:
        assert thread.submit(asyncio.run, go()).result() == 1
    assert seen[0].url.path.endswith(":redrive")
