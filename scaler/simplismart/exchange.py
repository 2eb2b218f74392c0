"""Building and sending one request of the client through its ``httpx.AsyncClient``, without the
per-request work that gives the client nothing.

``AsyncClient.build_request`` parses the relative path, merges it into the base URL by
parsing that again, merges cookies and query parameters; ``AsyncClient.send`` then runs
an authentication flow, a redirect loop and the cookie jar around the transport. With no
client-level authentication, cookies or query parameters, and redirects not followed,
all of that amounts to: the base URL plus the path, the client's headers plus the
request's, its timeouts, and the transport's answer. At thousands of health requests a
minute it cost about a quarter of the client's CPU per request.

:class:`Exchange` does exactly that, and hands everything else to httpx itself:

- a call with query parameters, or while the client holds cookies (a server set one),
  is built by ``build_request``; a base URL with credentials or a query is always sent
  through ``AsyncClient.send``, so httpx's own rules apply where they do anything;
- an answer that sets a cookie is stored in the client's jar, as ``send`` would, so the
  next requests carry it;
- a transport error carries its request, and a closed client refuses to send, as with
  ``send``.

The result is the request ``build_request`` would build (a test compares them) and the
response ``send(request, stream=True)`` would return, body unread.
"""

from __future__ import annotations

import functools
from typing import Any

import httpx

#: Parsed URLs kept at most: one per deployment and endpoint called (a health poll calls one per
#: running deployment). About 450 bytes each, so at most about 15 MB; the least recently used go first.
URL_CACHE_SIZE = 32_768

#: httpx's own message for a request on a closed client.
CLOSED_MESSAGE = "Cannot send a request, as the client has been closed."


class Exchange:
    """Builds and sends the requests of one ``httpx.AsyncClient`` through its ``transport``."""

    def __init__(self, http: httpx.AsyncClient, transport: httpx.AsyncBaseTransport) -> None:
        """``transport`` must be the one ``http`` was built with (``http`` has no mounts)."""
        self._http = http
        self._transport = transport
        base = http.base_url
        self._plain_base = not base.userinfo and not base.query and not base.fragment
        self._prefix = str(base).rstrip("/")
        self._timeout = http.timeout.as_dict()
        self._client_headers = http.headers.raw
        self._url = functools.lru_cache(maxsize=URL_CACHE_SIZE)(self._parse_url)
        """The base URL plus a path, parsed once per path: the same few paths per deployment recur every poll."""

    def build(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Request:
        """Return the request ``AsyncClient.build_request`` would build for ``path`` (relative to the base URL)."""
        if params or not self._plain_base or self._http.cookies:
            return self._http.build_request(method, path, params=params, json=json, headers=headers)
        # The client's headers, then the call's, each replacing any of the same name (Headers.update).
        replaced = {name.lower().encode("ascii") for name in headers}
        merged = [(name, value) for name, value in self._client_headers if name.lower() not in replaced]
        merged += [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
        return httpx.Request(method, self._url(path), headers=merged, json=json, extensions={"timeout": self._timeout})

    def _parse_url(self, path: str) -> httpx.URL:
        return httpx.URL(self._prefix + path)

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; return the response with its body not yet read (the caller reads and closes it).

        Raises ``RuntimeError`` on a closed client and what the transport raises (an
        ``httpx.RequestError`` carrying ``request``) when it gets no answer.
        """
        if not self._plain_base:
            return await self._http.send(request, stream=True)
        if self._http.is_closed:
            raise RuntimeError(CLOSED_MESSAGE)
        try:
            response = await self._transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        response.request = request
        if "set-cookie" in response.headers:
            self._http.cookies.extract_cookies(response)
        return response
