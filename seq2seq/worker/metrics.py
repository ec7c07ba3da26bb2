"""Prometheus metrics of one worker, in their own registry (so several workers can live in one test process)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,  # noqa: F401  (re-exported for the server)
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from seq2seq.protocol import JOB_STATES

# Milliseconds matter here: the whole request usually takes a few of them.
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "banter_worker_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.replies = Counter("banter_worker_replies", "Replies produced", registry=r)
        self.rejected = Counter(
            "banter_worker_rejected", "Reply requests refused at once because the queue was full", registry=r
        )
        self.expired = Counter("banter_worker_deadline_exceeded", "Reply requests past their deadline", registry=r)
        self.stopped = Counter(
            "banter_worker_batches_stopped",
            "Batches stopped between decoding steps: every caller left or the deadline passed",
            registry=r,
        )
        self.queue_depth = Gauge("banter_worker_queue_depth", "Reply requests waiting for a batch", registry=r)
        self.batch_size = Histogram(
            "banter_worker_batch_size", "Conversations per decoded batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.latency = Histogram(
            "banter_worker_reply_latency_seconds",
            "Reply latency inside the worker",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decode = Histogram(
            "banter_worker_decode_seconds", "Decoding time per batch", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_wait = Histogram(
            "banter_worker_queue_wait_seconds",
            "Time a request waited for its batch",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model = Gauge("banter_worker_model_active", "1 for the active model version", ["version"], registry=r)
        self.swaps = Counter("banter_worker_model_swaps", "Model versions activated", registry=r)
        self.refused_versions = Counter(
            "banter_worker_model_refused", "Versions that failed to load or warm up", registry=r
        )
        self.jobs = Gauge("banter_worker_jobs", "Fine-tuning jobs by state", ["state"], registry=r)
        for state in JOB_STATES:
            self.jobs.labels(state).set(0)
        self._version: str | None = None

    def set_model(self, version: str | None) -> None:
        if self._version is not None:
            self.model.remove(self._version)
        if version is not None:
            self.model.labels(version).set(1)
        self._version = version

    def set_jobs(self, counts: dict[str, int]) -> None:
        for state in JOB_STATES:
            self.jobs.labels(state).set(counts.get(state, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
