"""The legacy alone serving a dataset's request log, with no proxy and no shadowing, as JSON figures.

`python legacy_once.py DATASET STORES_DIR RESULT.json`. The same stores, seed and legacy process
as `tapcompare replay` (replay.stores, replay.stack.ServiceProcess, the legacy with its CDC
consumer), and the same driver at the same concurrency with each thread's requests in order, sent
straight to the legacy (`--overlap`: no verdict to wait for). Its requests/s is the work the legacy
must do anyway; the replay's requests/s over it is the replay's `efficiency`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


async def drive(dataset_path: Path, stores_dir: Path) -> dict[str, object]:
    from config import load_settings
    from replay.dataset import load_dataset
    from replay.driver import Driver
    from replay.sink import CountingSink
    from replay.stack import ServiceProcess
    from replay.stores import open_stores, prepare, seed_both

    settings = load_settings(None)
    stores = open_stores(settings, str(stores_dir))
    try:
        dataset = load_dataset(dataset_path)
        await prepare(stores, settings, fresh=True)
        await seed_both(stores, settings, dataset.seed)
        legacy = await ServiceProcess.start("legacy", settings, stores.production, stores.sister)
        try:
            t0 = time.perf_counter()
            stats = await Driver(dataset, legacy.url, CountingSink(), concurrency=8, lockstep=False).run()
            seconds = time.perf_counter() - t0
        finally:
            await legacy.stop()
    finally:
        stores.down()
    return {"requests": len(dataset.requests), "sent": stats.sent, "drive_s": seconds,
            "transport_errors": sum(stats.transport_errors.values()), "unresolved": sum(stats.unresolved.values()),
            "statuses": {f"{op} {status}": n for (op, status), n in sorted(stats.statuses.items())}}


def main() -> None:
    dataset, stores_dir, result_path = (Path(a) for a in sys.argv[1:4])
    result_path.write_text(json.dumps(asyncio.run(drive(dataset, stores_dir))))


if __name__ == "__main__":
    main()
