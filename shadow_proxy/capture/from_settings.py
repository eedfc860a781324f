"""From `[capture]` settings to a recorder."""

from __future__ import annotations

from config.settings import CaptureSettings
from shadow_proxy.capture.recorder import CaptureRecorder
from datasets.scrub import Scrubber


def scrubber_from_settings(settings: CaptureSettings) -> Scrubber:
    return Scrubber(settings.pseudonym_key or None, keep_text=settings.keep_text,
                    keep_pseudonyms=settings.keep_pseudonyms)


def recorder_from_settings(settings: CaptureSettings) -> CaptureRecorder | None:
    """The recorder `[capture]` describes, or None when capture is disabled."""
    if not settings.enabled:
        return None
    return CaptureRecorder(settings.path, scrubber_from_settings(settings), sample_pct=settings.sample_pct,
                           buffer_size=settings.buffer_size, salt=settings.sample_salt,
                           drain_timeout_s=settings.drain_timeout_s)

