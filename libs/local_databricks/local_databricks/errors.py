"""The Databricks error shape: an HTTP status plus {"error_code", "message"}."""

from __future__ import annotations


class ApiError(Exception):
    """Raised by handlers; the server turns it into the JSON error response."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def malformed(message: str) -> ApiError:
    """What the service answers when it cannot parse the request (bad JSON, wrong types)."""
    return ApiError(400, "MALFORMED_REQUEST", message)


class InvalidPath(ApiError, ValueError):
    """A path the service refuses; a ValueError too, for the code that resolves paths outside
    a request (the task runner, library installs)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "INVALID_PARAMETER_VALUE", message)
