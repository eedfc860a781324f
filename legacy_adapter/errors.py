"""r2-style API errors: `{"json": {"errors": [[CODE, message, field]]}}` with a status."""

from __future__ import annotations

STATUS = {
    "USER_REQUIRED": 403, "NO_THING_ID": 400, "NO_TEXT": 400, "TOO_LONG": 400, "INVALID_OPTION": 400,
    "BAD_ENCODING": 400, "NOT_FOUND": 404, "NOT_AUTHOR": 403, "DELETED_COMMENT": 400, "FORBIDDEN": 403,
}
MESSAGES = {
    "USER_REQUIRED": "please login to do that",
    "NO_THING_ID": "id not specified",
    "NO_TEXT": "we need something here",
    "TOO_LONG": "this is too long (max: 10000)",
    "INVALID_OPTION": "that option is not valid",
    "BAD_ENCODING": "the request is not valid utf-8",
    "NOT_FOUND": "that thing does not exist",
    "NOT_AUTHOR": "only the author can do that",
    "DELETED_COMMENT": "that comment has been deleted",
    "FORBIDDEN": "forbidden",
}


class ApiError(Exception):
    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.status = STATUS[code]
        self.message = MESSAGES[code]
