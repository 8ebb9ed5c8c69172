"""Errors the API returns, and their one mapping to HTTP.

    ApiError                         base: status, code, message, optional field
    ├── BadRequest (400)             the request is malformed; ``field`` names the culprit
    │   └── TenantMismatch (400)     two sources name different tenants (fix the URL or header)
    ├── Unauthorized (401)           no valid credential (log in again)
    ├── Forbidden (403)              the credential may not do this here
    │   ├── FeatureDisabled (403)    the tenant's plan has the feature off
    │   ├── TenantSuspended (403)    the tenant is suspended; reads only (the message gives the reason)
    │   ├── ReadOnly (403)           an operator's support view reads, never writes (end it first)
    │   └── CsrfFailed (403)         a cookie-authenticated form without its CSRF token
    ├── NotFound (404)               unknown tenant or resource
    ├── Conflict (409)               the change clashes with the current state
    │   └── ProviderUnavailable (409) the payment provider gave no final answer; the change is kept
    │                                pending and completes when the request is sent again
    ├── TooLarge (413)               the body is larger than the route accepts (send less)
    └── TooManyRequests (429)        slow down; ``retry_after`` says for how long

Clients always get ``{"error": {"code", "message", "field"}}``; never a traceback.
"""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class TenantMismatch(BadRequest):
    code = "tenant_mismatch"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class FeatureDisabled(Forbidden):
    code = "feature_disabled"


class PlanLimit(Forbidden):
    """The shop's plan allows no more of this (orders this month): said for the shopper, with the limit
    named in ``field`` for the shop's people (their admin's audit log has the plan's own words)."""
    code = "plan_limit"


class TenantSuspended(Forbidden):
    code = "tenant_suspended"


class ReadOnly(Forbidden):
    code = "read_only"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class ProviderUnavailable(Conflict):
    code = "provider_unavailable"


class TooLarge(ApiError):
    status, code = 413, "request_too_large"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
