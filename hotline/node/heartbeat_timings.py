"""How a node watches its paths: heartbeat interval, timeouts and the limits that
make a path degraded or down (``heartbeats`` in ``node.json``, see
:mod:`hotline.node.paths.liveness`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class HeartbeatTimings(BaseModel):
    """How a node watches its paths, the same for all its links. A path that stops
    answering is down after ``down_after_ms`` of silence or ``down_after_failures``
    misses in a row, whichever comes first; the defaults suit a terrestrial path,
    and a satellite path needs longer ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval_s: float = Field(default=1.0, ge=0.1, le=300)  # between heartbeats on a path
    timeout_s: float = Field(default=0.8, gt=0, le=300)  # for the signed echo
    connect_s: float = Field(default=0.5, gt=0, le=300)  # for a new connection
    slow_rtt_ms: int = Field(default=500, ge=1, le=600_000)  # slower answers: degraded
    down_after_ms: int = Field(default=1_600, ge=100, le=3_600_000)  # without a good answer
    down_after_failures: int = Field(default=2, ge=1, le=100)  # in a row
    failback_successes: int = Field(default=3, ge=1, le=100)  # before moving back

    @model_validator(mode="after")
    def _consistent(self) -> HeartbeatTimings:
        if self.connect_s > self.timeout_s:
            raise ValueError("connect_s must not be longer than timeout_s")
        if self.down_after_ms < self.interval_s * 1000:
            raise ValueError(
                "down_after_ms must be at least interval_s: a path would go down "
                "between two heartbeats"
            )
        return self


DEFAULT_TIMINGS = HeartbeatTimings()
