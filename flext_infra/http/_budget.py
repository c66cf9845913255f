"""Layer 2: the total time budget of one logical request.

It only stamps a deadline on the request. The retry layer below honours it:
it clips every attempt's timeouts to the time left and never sleeps past it,
so the whole request (attempts, waits, Retry-After) ends within the budget.
"""

from __future__ import annotations

from flext_infra.http._httpx import BaseTransport, Request, Response
from flext_infra.http._observe import DEADLINE, Waits


class TotalBudgetTransport(BaseTransport):
    """Stamps ``now + total_timeout`` on each request as its deadline."""

    def __init__(self, inner: BaseTransport, total_timeout: float | None, waits: Waits) -> None:
        self.inner = inner
        self.total_timeout = total_timeout
        self._waits = waits

    def handle_request(self, request: Request) -> Response:
        if self.total_timeout is not None:
            deadline = self._waits.now() + self.total_timeout
            # A redirect or an auth round trip keeps the deadline it already has.
            if DEADLINE not in request.extensions:
                request.extensions = {**request.extensions, DEADLINE: deadline}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
