"""One worker process of the CCM service: the durable CCM, its sweeper and its
relay, with the metrics and logs an operator reads.

The worker's background loops are plain threads (the durable CCM is
synchronous); the HTTP layer (:mod:`consultfsm.service.app`) hands each
request to :meth:`Worker.handle` in a thread of its own. Any number of workers
may share one PostgreSQL database: the store's locks keep each leg's inputs
in order, the sweepers skip each other's legs, and the relays split the
outbox partitions between them.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from consultfsm.core.errors import ConsultFsmError
from consultfsm.durable.engine import Answer, DurableCcm
from consultfsm.durable.relay import Relay, SinkError
from consultfsm.durable.store import StoreError, UnreadableRows

LOG = logging.getLogger("consultfsm.service")


class JsonLogs(logging.Formatter):
    """One JSON object per line: time, level, message, and the ids it carries."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "ids", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


def structured_logs(level: int = logging.INFO) -> None:
    """Send the service's logs to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogs())
    LOG.handlers[:] = [handler]
    LOG.setLevel(level)
    LOG.propagate = False


class WorkerError(ConsultFsmError):
    """A worker asked to do what its state does not allow (start twice)."""


class _StoreGauges(Collector):
    """Legs by state and the outbox depth, read from the store at each scrape."""

    def __init__(self, ccm: DurableCcm) -> None:
        self.ccm = ccm

    def collect(self) -> Any:
        legs = GaugeMetricFamily(
            "consultfsm_legs", "Live consult legs by CCM state", labels=["state"]
        )
        depth = GaugeMetricFamily("consultfsm_outbox_depth", "Events waiting for the broker")
        stuck = GaugeMetricFamily(
            "consultfsm_stuck_legs", "Legs whose row this worker could not restore"
        )
        stuck.add_metric([], len(self.ccm.stuck))
        yield stuck
        try:
            states, waiting = self.ccm.store.gauges()  # (no lock: see Store.probe)
        except StoreError:
            return
        for state, count in sorted(states.items()):
            legs.add_metric([state], count)
        depth.add_metric([], waiting)
        yield legs
        yield depth


class Metrics:
    """The worker's Prometheus metrics, in a registry of their own."""

    def __init__(self, ccm: DurableCcm) -> None:
        self.registry = CollectorRegistry()
        self.inputs = Counter(
            "consultfsm_inputs",
            "Inputs taken, by kind and disposition",
            ["kind", "disposition"],
            registry=self.registry,
        )
        self.refused = Counter(
            "consultfsm_refused",
            "Inputs refused, by error",
            ["kind", "error"],
            registry=self.registry,
        )
        self.written = Counter(
            "consultfsm_events_written",
            "Events written to the outbox",
            ["intent"],
            registry=self.registry,
        )
        self.published = Counter(
            "consultfsm_publications", "Events the broker confirmed", registry=self.registry
        )
        self.lag = Histogram(
            "consultfsm_deadline_lag_seconds",
            "How late the sweeper fired a deadline",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.registry.register(_StoreGauges(ccm))


class Worker:
    """The durable CCM with its loops: ``sweep_every`` and ``relay_every`` are
    the idle polling intervals (seconds); busy loops do not wait."""

    def __init__(
        self,
        ccm: DurableCcm,
        relay: Relay | None,
        *,
        sweep_every: float = 0.05,
        relay_every: float = 0.05,
        tidy_every: float = 600.0,
    ) -> None:
        self.ccm = ccm
        self.relay = relay
        self.metrics = Metrics(ccm)
        self.sweep_every, self.relay_every, self.tidy_every = sweep_every, relay_every, tidy_every
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.healthy: dict[str, bool] = {"store": True, "sink": True}

    # --- inputs -------------------------------------------------------------------------

    def handle(self, kind: str, call: Callable[[], Answer], ids: dict[str, Any]) -> Answer:
        """Run one input, counting and logging it; errors are counted and re-raised."""
        try:
            answer = call()
        except UnreadableRows as exc:  # (the store answers: these rows need mending)
            self.metrics.refused.labels(kind, "UnreadableRows").inc()
            LOG.error(
                "stored rows cannot be read: the input waits until they are mended",
                extra={"ids": {**ids, "kind": kind, "why": str(exc)}},
            )
            raise
        except StoreError:
            self.healthy["store"] = False
            self.metrics.refused.labels(kind, "StoreError").inc()
            LOG.warning("store unavailable", extra={"ids": {**ids, "kind": kind}})
            raise
        except Exception as exc:
            self.refuse(kind, exc, ids)
            raise
        self.healthy["store"] = True
        self._account(kind, answer, ids)
        return answer

    def refuse(self, kind: str, exc: BaseException, ids: Mapping[str, Any] = {}) -> None:
        """Count and log an input refused, here or before it reached the CCM."""
        self.metrics.refused.labels(kind, type(exc).__name__).inc()
        LOG.info(
            "input refused",
            extra={"ids": {**ids, "kind": kind, "error": type(exc).__name__, "why": str(exc),
                           **{n: getattr(exc, n) for n in ("field", "path") if hasattr(exc, n)}}},
        )  # fmt: skip

    def _account(self, kind: str, answer: Answer, ids: dict[str, Any]) -> None:
        disposition = "replayed" if answer.replayed else str(answer.disposition)
        self.metrics.inputs.labels(kind, disposition).inc()
        if not answer.replayed:
            for sent in answer.sent:
                self.metrics.written.labels(sent.intent).inc()
        conversation = next((s.conversation for s in answer.sent), ids.get("conversation"))
        # A presence input may read several legs: the one it read, or all of them.
        one = answer.legs[0] if answer.leg is None and len(answer.legs) == 1 else answer.leg
        entry = {
            **ids,
            "kind": kind,
            "leg": one,
            "legs": list(answer.legs),
            "disposition": disposition,
            "conversation": conversation,
            "events": [s.intent for s in answer.sent],
        }
        LOG.info("input", extra={"ids": entry})

    # --- loops ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the loops, once: a worker stopped has closed its relay, and a
        worker running has its loops (:class:`WorkerError` either way)."""
        if self._stop.is_set():
            raise WorkerError("this worker was stopped (its relay is closed): build another")
        if self._threads:
            raise WorkerError("this worker's loops are running already")
        loops: list[tuple[str, Callable[[], bool], float]] = [
            ("sweeper", self._sweep_once, self.sweep_every),
            ("tidy", self._tidy_once, self.tidy_every),
        ]
        if self.relay is not None:
            loops.append(("relay", self._relay_once, self.relay_every))
        for name, step, idle in loops:
            thread = threading.Thread(
                target=self._loop, args=(name, step, idle), name=f"consultfsm-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loops, then close the relay's sink and lease (a broker
        connection, the partitions' advisory locks)."""
        self._stop.set()
        deadline = time.monotonic() + timeout  # (one wait for all the loops, not one each)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        self._threads.clear()
        if stuck:  # (closing the sink under a publish under way would break it, not stop it)
            LOG.warning(f"loops still running after {timeout} s: {', '.join(stuck)}; "
                        "the relay is left open", extra={"ids": {"loop": "stop"}})  # fmt: skip
        elif self.relay is not None:
            self.relay.close()

    @property
    def running(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def _loop(self, name: str, step: Callable[[], bool], idle: float) -> None:
        backoff = idle
        while not self._stop.is_set():
            try:
                busy = step()
                backoff = idle
            except (StoreError, SinkError) as exc:
                LOG.warning(f"{name}: {exc}", extra={"ids": {"loop": name}})
                busy, backoff = False, min(max(backoff * 2, 0.1), 5.0)
            except Exception:
                LOG.exception(f"{name} failed", extra={"ids": {"loop": name}})
                busy, backoff = False, min(max(backoff * 2, 0.1), 5.0)
            if not busy:
                self._stop.wait(backoff)

    def _sweep_once(self) -> bool:
        before = set(self.ccm.stuck)  # (an input may set aside or take back legs meanwhile)
        answers = self.ccm.sweep()
        self.healthy["store"] = True
        for leg, why in list(self.ccm.stuck.items()):
            if leg not in before:
                LOG.error(
                    "a leg's row cannot be read: its deadlines wait until it is mended "
                    "(it is tried again at each tidy, and whenever an input reads it)",
                    extra={"ids": {"leg": leg, "why": why}},
                )
        for answer in answers:
            if answer.due is not None:
                self.metrics.lag.observe(max(0, answer.at - answer.due) / 1000)
            self._account("deadline", answer, {"due": answer.due})
        return bool(answers)

    def _relay_once(self) -> bool:
        assert self.relay is not None
        try:
            sent = self.relay.run_once()
        except StoreError:
            raise
        except Exception:  # (the sink failed, however it said so)
            self.healthy["sink"] = False
            raise
        self.healthy["sink"] = True
        if sent:
            self.metrics.published.inc(sent)
        return sent > 0

    def _tidy_once(self) -> bool:
        self.ccm.tidy()
        return False

    def ready(self, *, loops: bool = True) -> tuple[bool, dict[str, Any]]:
        """Ready when the store answers now and the loops run (``loops=False``:
        whether they run is not this worker's to say; its caller drives them)."""
        try:
            self.ccm.store.ping()  # (no lock, no wait for the loops: see Store.probe)
            store = True
        except StoreError:
            store = False
        self.healthy["store"] = store
        state = {"store": store, "sink": self.healthy["sink"], "loops": self.running,
                 "stuck_legs": len(self.ccm.stuck)}  # fmt: skip
        return store and (self.running or not loops), state


__all__ = ["JsonLogs", "Metrics", "Worker", "WorkerError", "structured_logs"]
