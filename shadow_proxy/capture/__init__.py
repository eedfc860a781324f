"""Live capture: the proxy records sampled requests as a dataset request log (PII scrubbed).

`CaptureRecorder` (recorder.py) is handed to `shadow_proxy.app.create_app(recorder=...)`;
`Scrubber` (scrub.py) pseudonymises users and scrubs text; `write_capture_dataset` (dataset.py)
joins a capture and a seed snapshot into a dataset that validates; `wiring.recorder_from_settings`
builds a recorder from `[capture]`. (No imports here: the importers use scrub.py alone.)
"""

