"""JUnit XML: one test case per validation path (the 18 write paths and the response paths).

A path fails when it has open or regressed groups of a reviewable verdict (mismatch,
shadow_error) or is inconclusive (too many raced/unavailable/skipped verdicts to be judged), is
skipped with a message when it was never exercised, and passes otherwise.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def to_junit(report: dict[str, Any], suite: str = "tapcompare") -> str:
    paths = report["paths"]
    groups = {g["id"]: g for g in report["groups"]}
    failures = sum(p["status"] in ("fail", "inconclusive") for p in paths)
    skipped = sum(p["status"] == "not_exercised" for p in paths)
    root = ET.Element("testsuites", name=suite, tests=str(len(paths)), failures=str(failures), errors="0",
                      skipped=str(skipped))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(paths)), failures=str(failures), errors="0",
                       skipped=str(skipped), timestamp=(report["generated_at"] or "").rstrip("Z"))
    props = ET.SubElement(ts, "properties")
    for name, value in (("total_results", report["total"]), ("needing_review", report["needing_review"]),
                        ("match_rate", report["match_rate"])):
        ET.SubElement(props, "property", name=name, value="" if value is None else str(value))
    for p in paths:
        case = ET.SubElement(ts, "testcase", classname=f"tapcompare.{p['kind']}", name=p["path"], time="0")
        counts = ", ".join(f"{k}={v}" for k, v in p["counts"].items() if v)
        if p["status"] == "fail":
            failing = [groups[g] for g in p["failing_groups"] if g in groups]
            fail = ET.SubElement(case, "failure", type="UnresolvedMismatchGroups",
                                 message=f"{len(failing)} open/regressed group(s) on {p['path']}")
            fail.text = "\n".join(f"[{g['status']}] {g['id']} {g['verdict']}: {g['title']} "
                                  f"({g['occurrences']} occurrence(s), last {g['last_seen']}, "
                                  f"example requests {', '.join(g['example_request_ids'][:3]) or '-'})"
                                  for g in failing)
        elif p["status"] == "inconclusive":
            fail = ET.SubElement(case, "failure", type="Inconclusive",
                                 message=f"{p['path']} is inconclusive: {p.get('inconclusive_reason')}")
            fail.text = f"{p.get('inconclusive_reason')}; verdicts: {counts}"
        elif p["status"] == "not_exercised":
            ET.SubElement(case, "skipped", message=f"{p['path']} was never exercised")
        ET.SubElement(case, "system-out").text = counts or "no results"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
