"""Fault injection: kill each store server, the rewrite, the legacy consumer and the results database
mid-stream, one at a time, with the proxy running throughout.

Per fault: the client always gets the legacy's own answer (its error, when the legacy's store is the
one down); every offered exchange ends in its verdicts (none silently dropped), and those of the
outage are `unavailable`/`shadow_error`/`skipped`, never a mismatch; after the restart new writes
match again without touching the proxy. At the end: no production CDC event of a successful write
is missing, the consumer has caught up, and shutting the stack down leaks no task or file handle.
"""

from __future__ import annotations

import pytest

from tests.faults.campaign import FAULTS, Driver, FaultStack, driver, run_fault, stack  # noqa: F401

pytestmark = pytest.mark.timeout(240)


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_and_recovery(stack: FaultStack, driver: Driver, fault: str) -> None:
    await run_fault(stack, driver, fault)
