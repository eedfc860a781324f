"""The settings tree. Defaults describe a local development set-up; every field is documented."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

_STRICT = ConfigDict(extra="forbid", frozen=True)


class StoreSetSettings(BaseModel):
    """One set of stores: a PostgreSQL database, a Memcached server and a Redis database.

    `local = true` means tapcompare starts its own ephemeral servers (`tapcompare stores up`) and
    the addresses below are filled in from them; `local = false` points the set at existing servers.
    """

    model_config = _STRICT

    local: bool = True
    postgres: str | None = Field(default=None, description="PostgreSQL DSN, postgresql://user@host:port/db")
    memcached: str | None = Field(default=None, description="Memcached address, host:port")
    redis: str | None = Field(default=None, description="Redis URL, redis://host:port/db")


class StoresSettings(BaseModel):
    model_config = _STRICT

    production: StoreSetSettings = StoreSetSettings()
    sister: StoreSetSettings = StoreSetSettings()
    # Where `stores up` keeps the data directories and its state file (git-ignored).
    local_dir: str = ".tapcompare/stores"
    database: str = Field(default="comments", min_length=1)
    cdc_stream: str = Field(default="comments:cdc", min_length=1)


class LegacySettings(BaseModel):
    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(default=8101, ge=0, le=65535)
    # r2 shifts `created` by the server's timezone offset; seconds east of UTC.
    tz_offset_seconds: int = Field(default=-28800, ge=-50400, le=50400)


class NewServiceSettings(BaseModel):
    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(default=8102, ge=0, le=65535)
    mode: Literal["tap", "primary"] = "tap"
    # Shared with the proxy: identity headers are honoured only with this secret, only in tap mode.
    tap_secret: str = Field(default="change-me-tap-secret", min_length=8)
    # Role used for production reads in tap mode; it is granted SELECT only.
    readonly_role: str = Field(default="tapcompare_ro", min_length=1)
    memcached_pool_threads: int = Field(default=8, ge=1, le=256)


class ProxySettings(BaseModel):
    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=0, le=65535)
    admin_token: str = Field(default="change-me-admin-token", min_length=8)
    queue_size: int = Field(default=1000, ge=1)
    shadow_timeout_s: float = Field(default=2.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    # Extra named admin tokens (name -> token); the audit trail records the name. `admin_token` is "admin".
    admin_tokens: dict[str, str] = Field(default_factory=dict)
    legacy_timeout_s: float = Field(default=30.0, gt=0)
    legacy_pool_size: int = Field(default=100, ge=1)
    shadow_pool_size: int = Field(default=20, ge=1)
    shadow_workers: int = Field(default=8, ge=1)
    # Control-plane Redis for ramp state, its audit stream and the comment->link index.
    # None: the sister set's Redis, under `ramp_key_prefix:*` keys that no comparison reads.
    ramp_redis: str | None = None
    ramp_key_prefix: str = Field(default="tapcompare", min_length=1)
    ramp_refresh_s: float = Field(default=5.0, gt=0)  # fallback poll if a pub/sub message is missed
    link_cache_size: int = Field(default=100_000, ge=0)
    # On a read mismatch, read the legacy and the rewrite again (shadow pool): `raced` only when
    # every differing field is exactly what changed between the legacy's two answers.
    recheck_read_mismatches: bool = True
    # Largest response body (after decompression) the shadow reads and compares, per side: the
    # rewrite's answers, the rechecks and the legacy's own. A larger body is `skipped` with reason
    # `too_large` and counted, never compared cut.
    max_shadow_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    # Upper bound for one WriteValidator.validate (store capture + comparison of one write).
    validate_timeout_s: float = Field(default=30.0, gt=0)
    # How many of the newest events per CDC stream write validation reads to find a write's own (by
    # entity and version). A write judged after more later events than this on its stream is
    # `unavailable` with that reason, never a false mismatch: raise it when the judge lags heavy
    # write traffic. At most the streams' retention (MAXLEN ~100,000).
    cdc_scan_events: int = Field(default=2000, ge=10, le=100_000)
    # Automatic kill switch per endpoint over a sliding window of shadow verdicts.
    guard_enabled: bool = True
    guard_window_s: float = Field(default=60.0, gt=0)
    guard_min_samples: int = Field(default=20, ge=1)
    guard_max_error_rate: float = Field(default=0.5, ge=0, le=1)
    guard_max_mismatch_rate: float = Field(default=0.1, ge=0, le=1)
    # Where comparisons run: in the proxy ("inline"), or as jobs on a Redis Stream that
    # `tapcompare worker` processes consume in a consumer group ("stream"; docs/deployment.md).
    compare_mode: Literal["inline", "stream"] = "inline"
    jobs_redis: str | None = None          # None: the control-plane Redis (ramp_redis)
    jobs_stream: str = Field(default="tapcompare:jobs", min_length=1)
    jobs_group: str = Field(default="tapcompare-workers", min_length=1)
    jobs_maxlen: int = Field(default=100_000, ge=100)      # XADD MAXLEN ~: the stream stays bounded
    jobs_backlog_alert: int = Field(default=50_000, ge=1)  # backlog (lag + pending) that is logged and counted
    jobs_claim_idle_s: float = Field(default=30.0, gt=0)   # a dead worker's pending jobs are claimed after this
    # Circuit breakers on the shadow side's dependencies (the rewrite, the write validation's store
    # reads, the jobs Redis; judge/breaker.py): after `breaker_failures` failures in a row, calls are
    # not made for `breaker_open_s` (doubled after each failed probe, up to `breaker_max_open_s`); a
    # rewrite call not made is a `shadow_error` verdict with reason `circuit_open`.
    breaker_enabled: bool = True
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=2.0, gt=0)
    breaker_max_open_s: float = Field(default=10.0, gt=0)


class ReportSettings(BaseModel):
    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(default=8103, ge=0, le=65535)
    token: str = Field(default="change-me-report-token", min_length=8)
    # Results live in their own database; by default on the sister PostgreSQL server.
    results_database: str = Field(default="tapcompare_results", min_length=1)
    results_dsn: str | None = None
    redact_bodies: bool = True
    retention_days: int = Field(default=30, ge=1)
    # A path whose share (percent of its verdicts) of raced / unavailable / skipped verdicts is
    # above these is `inconclusive`, not green, in reports, exports and the replay gate; None: off.
    # Skipped is off by default: a write the legacy rejected is skipped by design.
    inconclusive_raced_pct: float | None = Field(default=1.0, ge=0, le=100)
    inconclusive_unavailable_pct: float | None = Field(default=1.0, ge=0, le=100)
    inconclusive_skipped_pct: float | None = Field(default=None, ge=0, le=100)


# Field-path globs (diff_reports.paths): `*`, `?`, `[*]`, `[n]`, dotted keys, `["quoted key"]`.
_GLOB = re.compile(r'(?:[^\s\[\]]|\[(?:\*|\d+|"(?:[^"\\]|\\.)*")\])+\Z')
DIFFERENCE_KINDS = Literal["changed", "added", "removed", "type_changed"]


def _check_globs(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        if not _GLOB.match(pattern):
            raise ValueError(
                f"field-path glob {pattern!r} is malformed (expected keys joined by dots, indices as [n] or [*], "
                "* and ? as wildcards, no spaces)"
            )
    return patterns


class CompareRuleSettings(BaseModel):
    """One declared ignore rule (`[[compare.rules]]`); every ignored difference is counted under `name`."""

    model_config = _STRICT

    name: str = Field(min_length=1, pattern=r"^\S+$")
    # Field-path globs, e.g. "*.created", "body.data.children[*].data.ups"; a match covers the subtree.
    paths: list[str] = Field(min_length=1)
    # Why these differences are acceptable; shown in reports next to every difference it ignores.
    reason: str = Field(min_length=1)
    # Comparison paths the rule applies to (fnmatch), e.g. "*.memcached.*", "read.*.response"; empty = all.
    applies_to: list[str] = []
    # Numeric tolerance: ignore only numbers with |a-b| <= tolerance_abs or <= tolerance_rel * max(|a|,|b|).
    tolerance_abs: float | None = Field(default=None, ge=0)
    tolerance_rel: float | None = Field(default=None, ge=0)
    # Difference kinds the rule ignores; empty = all.
    kinds: list[DIFFERENCE_KINDS] = []

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if name.startswith("noise:"):
            raise ValueError("a name not starting with 'noise:' (reserved for learned noise)")
        return name

    @field_validator("paths")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        return _check_globs(paths)


class CompareRoundSettings(BaseModel):
    """Round floats at matching fields before comparing (`[[compare.round]]`)."""

    model_config = _STRICT

    paths: list[str] = Field(min_length=1)
    digits: int = Field(ge=0, le=15)
    applies_to: list[str] = []

    @field_validator("paths")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        return _check_globs(paths)


class CompareSettings(BaseModel):
    """How responses and stored state are compared (diff_reports); rule names are unique (checked on load)."""

    model_config = _STRICT

    rules: list[CompareRuleSettings] = []
    # Fields removed before comparing, uncounted (prefer a rule: rules are counted and explained).
    drop_fields: list[str] = []
    round: list[CompareRoundSettings] = []
    # Learned noise (legacy vs legacy): pairs seen on a path, and pairs a field must differ in.
    noise_min_samples: int = Field(default=10, ge=1)
    noise_min_count: int = Field(default=2, ge=1)
    noise_file: str | None = None  # where learned noise is saved and loaded (JSON)
    # The harness's own rules (diff_reports/builtin_rules.py), e.g. the cache TTL countdown.
    builtin_rules: bool = True

    @field_validator("drop_fields")
    @classmethod
    def _drop_fields(cls, paths: list[str]) -> list[str]:
        return _check_globs(paths)


class CaptureSettings(BaseModel):
    """Live capture of sampled requests into a dataset request log (shadow_proxy.capture)."""

    model_config = _STRICT

    enabled: bool = False
    path: str = ".tapcompare/capture/capture.jsonl"  # written as <path>.part, renamed on stop
    sample_pct: float = Field(default=100.0, ge=0, le=100)  # sticky by thread, independent of the ramp
    sample_salt: str = Field(default="capture", min_length=1)  # other salt, other threads
    buffer_size: int = Field(default=10_000, ge=1)  # full buffer: the capture drops and counts
    # Keyed-hash pseudonyms for users; empty: a random key per capture (consistent within it only).
    pseudonym_key: str = ""
    # Keep comment text (with e-mails, URLs and IPs replaced); false: same-length filler.
    keep_text: bool = True
    # Names that already are dataset pseudonyms (user_<10 hex>, voter_NNN) are kept as they are.
    keep_pseudonyms: bool = True
    drain_timeout_s: float = Field(default=5.0, gt=0)


class RampPolicySettings(BaseModel):
    """When `tapcompare ramp advise` says go, hold or roll back (`[ramp.policy]`; results/advice).

    Per path, failures are mismatches plus shadow errors among the conclusive verdicts (match,
    ignored, mismatch, shadow_error) since the endpoint's percentage was set. Go needs the one-sided
    `confidence` upper bound on every path's failure rate below `max_mismatch_rate_pct`; roll back
    when a path's lower bound is above it (the rate is too high with that confidence) or a fixed
    group regressed; anything in between, or too little evidence, holds."""

    model_config = _STRICT

    max_mismatch_rate_pct: float = Field(default=0.1, gt=0, le=100)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    bound: Literal["clopper_pearson", "wilson"] = "clopper_pearson"  # exact (conservative) or Wilson score
    min_samples: int = Field(default=100, ge=1)  # conclusive verdicts a path needs before it can say go
    max_inconclusive_pct: float = Field(default=1.0, ge=0, le=100)  # raced + unavailable share of a path
    min_step_minutes: float = Field(default=10.0, ge=0)  # time at the current percentage before go; 0: off
    hold_on_open_groups: bool = True  # an open mismatch group seen at this step must be reviewed first
    rollback_on_regressed: bool = True  # a fixed group seen again at this step rolls back
    # Latency (response paths): a regression is significant (one-sided Mann-Whitney U, rewrite
    # slower, p < latency_alpha) and large (p50 or p99 ratio rewrite/legacy above its limit).
    latency_alpha: float = Field(default=0.01, gt=0, lt=1)
    max_p50_ratio: float = Field(default=1.5, gt=0)
    max_p99_ratio: float = Field(default=2.0, gt=0)
    min_latency_samples: int = Field(default=20, ge=2)  # per side, for the test to be run
    latency_max_samples: int = Field(default=5000, ge=10)  # newest samples per side read for the test
    max_sql_ratio: float | None = Field(default=None, gt=0)  # mean SQL statements rewrite/legacy; None: report only


RAMP_ENDPOINT = Literal["info", "comments", "morechildren", "create", "update", "increment"]


class RampPlanSettings(BaseModel):
    """One declared ramp plan (`[[ramp.plan]]`; `tapcompare ramp plan start ENDPOINT` runs it).

    At each step the plan waits until the step has lasted `min_minutes` and the endpoint's response
    path has `min_samples` verdicts, then asks the advisor with `policy` (`[ramp.policy]` with this
    plan's overrides; the step's `min_minutes` and `min_samples` in place of the policy's
    `min_step_minutes` and `min_samples`): go sets the next step, hold pauses, roll back ramps down
    to the previous step (`rollback_to = "previous"`, 0 from the first) or to 0 (`"zero"`)."""

    model_config = _STRICT

    endpoint: RAMP_ENDPOINT
    steps: list[float] = Field(min_length=1)  # percentages, rising strictly, e.g. [1, 5, 25, 50, 100]
    # Per step: one number for every step or a list as long as `steps`; unset: the policy's
    # min_step_minutes / min_samples.
    min_minutes: float | list[float] | None = None
    min_samples: int | list[int] | None = None
    rollback_to: Literal["previous", "zero"] = "previous"
    policy: RampPolicySettings = RampPolicySettings()  # [ramp.policy] merged with [ramp.plan.policy]

    @field_validator("steps")
    @classmethod
    def _rising(cls, steps: list[float]) -> list[float]:
        if any(not 0 < s <= 100 or round(s, 2) != s for s in steps) or any(b <= a for a, b in zip(steps, steps[1:])):
            raise ValueError("percentages above 0 and at most 100 (two decimals), rising strictly, "
                             "e.g. [1, 5, 25, 50, 100]")
        return steps

    @field_validator("min_minutes", "min_samples")
    @classmethod
    def _per_step(cls, value: float | list[float] | int | list[int] | None, info: ValidationInfo
                  ) -> float | list[float] | int | list[int] | None:
        values = value if isinstance(value, list) else [] if value is None else [value]
        if any(v < 0 or (info.field_name == "min_samples" and v < 1) for v in values):
            raise ValueError("at least 1 sample" if info.field_name == "min_samples" else "minutes of 0 or more")
        steps = info.data.get("steps")
        if isinstance(value, list) and steps is not None and len(value) != len(steps):
            raise ValueError(f"one number for every step, or a list of {len(steps)} (one per step of {steps})")
        return value

    def _per(self, value: float | list[float] | int | list[int] | None, default: float) -> tuple[float, ...]:
        if isinstance(value, list):
            return tuple(float(v) for v in value)
        return (float(default if value is None else value),) * len(self.steps)

    @property
    def step_minutes(self) -> tuple[float, ...]:
        return self._per(self.min_minutes, self.policy.min_step_minutes)

    @property
    def step_samples(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self._per(self.min_samples, self.policy.min_samples))


class RampSettings(BaseModel):
    model_config = _STRICT

    policy: RampPolicySettings = RampPolicySettings()
    plan: list[RampPlanSettings] = []
    # The plan executor (`tapcompare ramp plan run`): how often it looks, and the Redis lease that
    # lets one executor of the fleet act (renewed every tick; another takes over once it lapses).
    plan_tick_s: float = Field(default=5.0, gt=0)
    plan_lease_s: float = Field(default=30.0, gt=0)
    # Every `proxy serve` with a [[ramp.plan]] runs an executor too (only the lease holder acts), so a
    # started plan advances with no process of its own; false leaves it to `tapcompare ramp plan run`.
    plan_in_proxy: bool = True

    @model_validator(mode="before")
    @classmethod
    def _plan_policies(cls, data: Any) -> Any:
        """Each plan's policy is [ramp.policy] with the plan's own [ramp.plan.policy] keys over it."""
        if not isinstance(data, dict) or not isinstance(data.get("plan"), list):
            return data
        base = data.get("policy", {})
        base = base.model_dump(exclude_defaults=True) if isinstance(base, BaseModel) else base
        if not isinstance(base, dict):
            return data
        plans = []
        for plan in data["plan"]:
            if isinstance(plan, dict):
                own = plan.get("policy", {})
                if isinstance(own, dict):
                    plan = {**plan, "policy": {**base, **own}}
            plans.append(plan)
        return {**data, "plan": plans}

    @field_validator("plan")
    @classmethod
    def _one_per_endpoint(cls, plans: list[RampPlanSettings]) -> list[RampPlanSettings]:
        seen = [p.endpoint for p in plans]
        twice = sorted({e for e in seen if seen.count(e) > 1})
        if twice:
            raise ValueError(f"one plan per endpoint; {', '.join(twice)} has more than one")
        return plans

    @model_validator(mode="after")
    def _lease_outlives_tick(self) -> RampSettings:
        if self.plan_lease_s <= self.plan_tick_s:
            raise ValueError(f"plan_lease_s above plan_tick_s ({self.plan_tick_s:g}), so the executor renews "
                             "its lease before it lapses")
        return self

    def plan_for(self, endpoint: str) -> RampPlanSettings | None:
        return next((p for p in self.plan if p.endpoint == endpoint), None)


class Settings(BaseModel):
    model_config = _STRICT

    stores: StoresSettings = StoresSettings()
    legacy: LegacySettings = LegacySettings()
    new_service: NewServiceSettings = NewServiceSettings()
    proxy: ProxySettings = ProxySettings()
    reports: ReportSettings = ReportSettings()
    compare: CompareSettings = CompareSettings()
    capture: CaptureSettings = CaptureSettings()
    ramp: RampSettings = RampSettings()
