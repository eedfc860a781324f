"""The recorder's file life cycle, driven with exchanges built by hand (no proxy needed)."""

from __future__ import annotations

from pathlib import Path

from multidict import CIMultiDict

from datasets.from_capture import read_records
from shadow_proxy.capture.recorder import CaptureRecorder
from datasets.scrub import Scrubber
from traffic.exchange import Exchange


def _info(n: int) -> Exchange:
    return Exchange(endpoint="info", request_id=f"r{n}", method="GET", raw_path=f"/api/info?id=t1_{n}",
                    path="/api/info", raw_query=f"id=t1_{n}", headers=CIMultiDict(), body=b"", status=200,
                    legacy_headers=CIMultiDict(), legacy_body=b"{}", legacy_duration_s=0.0)


async def test_stop_drains_flushes_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "cap" / "capture.jsonl"
    path.parent.mkdir()
    path.write_text("previous capture\n")
    recorder = CaptureRecorder(path, Scrubber("k"))
    assert not recorder.offer(_info(0)) and recorder.dropped == 1       # not started: dropped, counted
    await recorder.start()
    assert recorder.part_path.exists() and path.read_text() == "previous capture\n"
    for n in range(1, 4):
        assert recorder.offer(_info(n))
    assert await recorder.stop() == path                                # drains what was buffered
    assert [r["ids"] for r in read_records(path)] == [["t1_1"], ["t1_2"], ["t1_3"]]
    assert recorder.rotated_to is not None and recorder.rotated_to.read_text() == "previous capture\n"
    assert not recorder.part_path.exists()
    assert not recorder.offer(_info(4)) and recorder.dropped == 2       # stopped: dropped, counted
