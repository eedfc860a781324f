"""The API's error table: each code with its HTTP status and message."""

from __future__ import annotations

# code -> (status, message), as the golden contract (tests/contract/golden) records them.
ERRORS: dict[str, tuple[int, str]] = {
    "USER_REQUIRED": (403, "please login to do that"),
    "NO_THING_ID": (400, "id not specified"),
    "NO_TEXT": (400, "we need something here"),
    "TOO_LONG": (400, "this is too long (max: 10000)"),
    "INVALID_OPTION": (400, "that option is not valid"),
    "BAD_ENCODING": (400, "the request is not valid utf-8"),
    "NOT_FOUND": (404, "that thing does not exist"),
    "NOT_AUTHOR": (403, "only the author can do that"),
    "DELETED_COMMENT": (400, "that comment has been deleted"),
    "FORBIDDEN": (403, "forbidden"),
    "TAP_REFUSED": (403, "tap headers are not accepted here"),
    # Not in the spec's table: the update lock could not be taken within 2 s (nothing was written).
    "LOCK_TIMEOUT": (503, "the thing is busy, try again"),
}


class ApiError(Exception):
    """Raised anywhere in a request; rendered as `{"json": {"errors": [[code, message, field]]}}`."""

    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.status, self.message = ERRORS[code]

    def body(self) -> dict:
        return {"json": {"errors": [[self.code, self.message, self.field]]}}
