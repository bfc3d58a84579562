"""The CCM's HTTP interface, on Starlette: what desks and the socket layer call.

=====================================  ============================================
``POST /message/receive``              a desk's CIM message (JSON), as Expertflow's
                                       CCM takes it; retried with the same message
                                       id, it gets the first answer again
``POST /desk/{agent}/up`` / ``down``   the socket layer: a desk connected or left
``POST /sessions``                     a customer's channel session started
``POST /sessions/{id}/end``            it ended
``GET /health``                        the process is alive
``GET /ready``                         the store answers and the loops run
``GET /metrics``                       Prometheus text format
=====================================  ============================================

An ``Idempotency-Key`` header names a presence or session input, so a retry of
it is recognised (a CIM message is named by its own ``id``). Answers are JSON:
``200`` with what the input did; ``400`` for a body that is no valid input (or
an empty key, or one too long), ``404`` / ``405`` for no such route, ``413``
for a body over :data:`MAX_BODY` (refused before it is read further), ``422``
for one the CCM refuses (the error's type and the field it names), ``503``
with ``Retry-After`` when the store is unavailable: nothing was applied, and
the same request may be sent again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consultfsm.ccm.correlation import ChannelSession, CorrelationError, InvalidSession
from consultfsm.core.errors import ConfigError, ConsultFsmError
from consultfsm.core.text import id_text
from consultfsm.durable.engine import MAX_ID_BYTES, Answer
from consultfsm.durable.store import SESSION_END_INPUT, SESSION_START_INPUT, StoreError
from consultfsm.wire.cim import CimError, parse_message
from consultfsm.wire.strict_json import loads_strict

from .worker import Worker

#: The most a request body may hold (a CIM message is a few KB).
MAX_BODY = 256 * 1024
_SESSION_FIELDS = {
    "id",
    "conversation_id",
    "customer_ani",
    "dialog_id",
    "service_identifier",
    "channel_type",
    "agents",
}
_SESSION_NEEDS = ("id", "conversation_id", "customer_ani")


class RequestRefused(ConsultFsmError):
    """A request the HTTP layer refuses before the CCM sees it: ``field``
    names what is wrong, ``status`` is the answer's."""

    def __init__(self, field: str, why: str, status: int = 400) -> None:
        self.field = field
        self.why = why
        self.status = status
        super().__init__(f"{field}: {why}")


def _scoped(what: str, key: str | None, named: str) -> str | None:
    """The inbox id of a keyed request: its key within what it does, so one key
    reused for another agent or session is another input, not its replay. Both
    are written as a JSON array, so no other input's id, keyed or not, is the
    same text (an unkeyed id is ``what`` alone, never an array). A key too
    long for the inbox with what it names is refused here, by its header's
    name (the CCM would name the inbox id, which the client never sent);
    unless ``named``, the agent or session id, is too long itself: the CCM
    refuses that, naming its field."""
    if key is None:
        return None
    scoped = id_text([what, key])
    if len(scoped.encode()) > MAX_ID_BYTES and len(named.encode()) <= MAX_ID_BYTES:
        raise RequestRefused(
            "Idempotency-Key", f"is too long: with what it names, over {MAX_ID_BYTES} bytes"
        )
    return scoped


def _key(request: Request) -> str | None:
    """The request's ``Idempotency-Key``: None without one; an empty one names nothing."""
    key = request.headers.get("idempotency-key")
    if key is not None and not key.strip():
        raise RequestRefused("Idempotency-Key", "is empty: send a key, or no header")
    return key


def _session_of(body: bytes) -> ChannelSession:
    """The session a ``POST /sessions`` body describes; :class:`InvalidSession`
    names what is wrong (``$`` for the body as a whole)."""
    try:
        raw = loads_strict(body)
    except RecursionError:
        raise InvalidSession("$", "nested too deeply to be a session") from None
    except ValueError as exc:
        raise InvalidSession("$", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidSession("$", f"must be an object of {sorted(_SESSION_FIELDS)}")
    for name in sorted(raw.keys() - _SESSION_FIELDS):
        raise InvalidSession(name, f"is no field of a session ({sorted(_SESSION_FIELDS)})")
    for name in _SESSION_NEEDS:
        if name not in raw:
            raise InvalidSession(name, "is missing")
    agents = raw.get("agents", [])
    if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
        raise InvalidSession("agents", "must be a list of agent ids")
    return ChannelSession(**{**raw, "agents": frozenset(agents)})


def _answer(answer: Answer) -> JSONResponse:
    body = answer.to_dict()
    body["replayed"] = answer.replayed
    return JSONResponse(body)


def _refusal(status: int, exc: BaseException) -> JSONResponse:
    body: dict[str, Any] = {"error": type(exc).__name__, "why": str(exc)}
    for name in ("path", "field"):
        if hasattr(exc, name):
            body[name] = getattr(exc, name)
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _refused(
    worker: Worker, kind: str, exc: RequestRefused | CimError | InvalidSession,
    ids: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    """The answer to a request refused before the CCM saw it, counted and logged."""
    worker.refuse(kind, exc, ids or {})
    return _refusal(exc.status if isinstance(exc, RequestRefused) else 400, exc)


async def _no_route(request: Request, exc: Exception) -> Response:
    """404 and 405 in JSON, as every other answer (Starlette's own are text)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, "HTTPError")
    why = exc.detail if isinstance(exc, HTTPException) else str(exc)
    headers = getattr(exc, "headers", None)
    return JSONResponse({"error": error, "why": why, "path": request.url.path},
                        status_code=status, headers=headers)  # fmt: skip


async def _run(
    worker: Worker, kind: str, call: Callable[[], Answer], ids: dict[str, Any]
) -> Response:
    try:
        answer = await run_in_threadpool(worker.handle, kind, call, ids)
    except StoreError as exc:
        return _refusal(503, exc)
    except (CimError, ConfigError) as exc:
        return _refusal(400, exc)
    except (CorrelationError, ConsultFsmError) as exc:
        return _refusal(422, exc)
    return _answer(answer)


async def _body(request: Request) -> bytes:
    """The body, read no further than :data:`MAX_BODY` (413 beyond it)."""
    too_large = RequestRefused("$", f"the body is over {MAX_BODY} bytes", 413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(worker: Worker, *, run_loops: bool = True) -> Starlette:
    """The service around ``worker``; its loops run while the app is up
    (``run_loops=False`` leaves them to the caller)."""

    async def receive(request: Request) -> Response:
        try:
            message = parse_message(await _body(request))
        except (CimError, RequestRefused) as exc:
            return _refused(worker, "cim", exc)
        ids = {
            "agent": message.header.sender.id,
            "dialog": message.body.call_id,
            "message": message.id,
            "conversation": message.header.conversation_id,
        }
        return await _run(worker, "cim", lambda: worker.ccm.receive(message), ids)

    async def presence(request: Request) -> Response:
        agent, move = request.path_params["agent"], request.path_params["move"]
        if move not in ("up", "down"):
            raise HTTPException(404, f"a desk goes up or down, not {move!r:.40}")
        try:
            input_id = _scoped(f"desk:{agent}:{move}", _key(request), agent)
        except RequestRefused as exc:
            return _refused(worker, f"desk_{move}", exc, {"agent": agent})
        call = worker.ccm.desk_up if move == "up" else worker.ccm.desk_down
        return await _run(
            worker, f"desk_{move}", lambda: call(agent, input_id=input_id), {"agent": agent}
        )

    async def start_session(request: Request) -> Response:
        try:
            key = _key(request)
            session = _session_of(await _body(request))
            input_id = _scoped(f"{SESSION_START_INPUT}{session.id}", key, session.id)
        except (InvalidSession, RequestRefused) as exc:
            return _refused(worker, "session_start", exc)
        return await _run(
            worker,
            "session_start",
            lambda: worker.ccm.start_session(session, input_id=input_id),
            {"session": session.id, "conversation": session.conversation_id},
        )

    async def end_session(request: Request) -> Response:
        session_id = request.path_params["session"]
        try:
            input_id = _scoped(f"{SESSION_END_INPUT}{session_id}", _key(request), session_id)
        except RequestRefused as exc:
            return _refused(worker, "session_end", exc, {"session": session_id})
        return await _run(
            worker,
            "session_end",
            lambda: worker.ccm.end_session(session_id, input_id=input_id),
            {"session": session_id},
        )

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        ok, state = await run_in_threadpool(lambda: worker.ready(loops=run_loops))
        return JSONResponse({"ready": ok, **state}, status_code=200 if ok else 503)

    async def metrics(_: Request) -> Response:
        text = await run_in_threadpool(generate_latest, worker.metrics.registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if run_loops:
            worker.start()
        try:
            yield
        finally:
            if run_loops:
                await run_in_threadpool(worker.stop)

    return Starlette(
        routes=[
            Route("/message/receive", receive, methods=["POST"]),
            Route("/desk/{agent}/{move}", presence, methods=["POST"]),
            Route("/sessions", start_session, methods=["POST"]),
            Route("/sessions/{session}/end", end_session, methods=["POST"]),
            Route("/health", health),
            Route("/ready", ready),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: _no_route},
    )


__all__ = ["MAX_BODY", "RequestRefused", "create_app"]
