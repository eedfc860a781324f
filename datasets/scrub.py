"""PII scrubbing shared by live capture and file imports.

- Users (`X-Auth-User`) become `user_<10 hex>`: blake2b keyed with the capture key, the same
  scheme as `datasets.build.Anonymiser`, so one user is one pseudonym throughout a capture (and
  across captures that share the key). Names that already are dataset pseudonyms (`user_<10 hex>`,
  `voter_NNN`) are kept by default, so capturing a dataset replay gives back the same users.
- Comment text is kept by default, with e-mail addresses, URLs and IP addresses replaced by
  `[email]`, `[url]`, `[ip]`. `keep_text=False` replaces the whole text by filler of the same
  length (length matters: the 10,000-character limit is part of the behaviour under test).
"""

from __future__ import annotations

import hashlib
import re
import secrets

PSEUDONYM_RE = re.compile(r"(?:user_[0-9a-f]{10}|voter_\d{3})")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
URL_RE = re.compile(r"(?:https?|ftp)://[^\s<>\"')\]]+|www\.[^\s<>\"')\]]+", re.IGNORECASE)
IPV4_RE = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
# Full 8-group form, or a compressed form with `::` (so clock times like 12:30:45 are left alone).
IPV6_RE = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b"
                     r"|\b(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}\b")
_FILLER = "redacted "


class Scrubber:
    def __init__(self, key: str | bytes | None = None, *, keep_text: bool = True, keep_pseudonyms: bool = True) -> None:
        """`key` empty or None: a random key, so pseudonyms are consistent within this capture only."""
        if not key:
            key = secrets.token_bytes(32)
        self._key = key.encode() if isinstance(key, str) else key
        if len(self._key) > 64:  # blake2b keys are at most 64 bytes
            self._key = hashlib.sha256(self._key).digest()
        self.keep_text = keep_text
        self.keep_pseudonyms = keep_pseudonyms

    def user(self, name: str) -> str:
        """The pseudonym of an account name."""
        if name == "[deleted]" or (self.keep_pseudonyms and PSEUDONYM_RE.fullmatch(name)):
            return name
        return "user_" + hashlib.blake2b(name.encode("utf-8", "surrogatepass"), key=self._key, digest_size=5).hexdigest()

    def text(self, text: str) -> str:
        """Comment text with PII patterns replaced, or (keep_text=False) same-length filler."""
        if not self.keep_text:
            return (_FILLER * (len(text) // len(_FILLER) + 1))[:len(text)] if text else text
        text = EMAIL_RE.sub("[email]", text)
        text = URL_RE.sub("[url]", text)
        text = IPV6_RE.sub("[ip]", text)
        return IPV4_RE.sub("[ip]", text)
