"""Reading an answer of the platform, at most a given number of bytes of it.

A runaway or hostile answer (a proxy streaming a file, a padded body) must never fill
memory: an answer whose declared length is over the cap is not read at all, and one without
a declared length (chunked, or compressed) is read chunk by chunk and given up once over it.
"""

from __future__ import annotations

import httpx

_BODY_HEADERS = ("content-length", "content-encoding", "transfer-encoding")


def _with_body(response: httpx.Response, body: bytes) -> httpx.Response:
    """Return a copy of the streamed ``response`` holding ``body``, already decoded, as its content."""
    headers = [(name, value) for name, value in response.headers.multi_items() if name.lower() not in _BODY_HEADERS]
    return httpx.Response(response.status_code, headers=headers, content=body, request=response.request)


async def read_capped(response: httpx.Response, cap: int) -> tuple[httpx.Response, bool]:
    """Read the streamed ``response``, at most ``cap`` bytes of its body (after decompression), and close it.

    Returns the answer with its body read, and whether the body was larger than ``cap``; a
    too-large answer comes back with an empty body (its status and headers kept). Raises
    what ``httpx`` raises for a failed transport.
    """
    try:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return _with_body(response, b""), True
        if declared.isdigit() and "content-encoding" not in response.headers:
            # Uncompressed, of a declared length within the cap: the HTTP parser reads no more
            # than that, so the body is read whole, into this very response (no copy of it).
            if len(await response.aread()) > cap:  # an in-process transport may lie
                return _with_body(response, b""), True
            return response, False
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > cap:
                return _with_body(response, b""), True
        return _with_body(response, bytes(body)), False
    finally:
        await response.aclose()
