"""Loading the legacy's pickles without running them: one allow-list of the globals its formats
reference (datetimes, the protocol-0 object and set helpers), anything else refused unexecuted.
Used by the stored-form decoder (parity) and the normaliser (EAV rows, cache values)."""

from __future__ import annotations

import io
import pickle
from typing import Any

LEGACY_GLOBALS = frozenset({
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"), ("datetime", "timedelta"),
    ("datetime", "timezone"), ("_codecs", "encode"), ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"), ("__builtin__", "object"), ("builtins", "object"),
    ("__builtin__", "set"), ("builtins", "set"), ("__builtin__", "frozenset"), ("builtins", "frozenset"),
})


class UnsafePickle(pickle.UnpicklingError):
    """The bytes reference a global outside the legacy formats; they were not unpickled."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in LEGACY_GLOBALS:
            raise UnsafePickle(f"pickle references {module}.{name}, which the legacy formats never store")
        return super().find_class(module, name)


def restricted_load(raw: bytes, *, encoding: str = "ASCII") -> Any:
    """The unpickled object, or UnsafePickle (a global outside LEGACY_GLOBALS) or another
    UnpicklingError (not a pickle). `encoding` decodes protocol-0/2 str instances, as pickle's."""
    return _Restricted(io.BytesIO(raw), encoding=encoding).load()
