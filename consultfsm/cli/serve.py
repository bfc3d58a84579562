"""``consultfsm serve``: run the CCM as an HTTP service on a durable store.

With no options it runs embedded: a SQLite file, events appended to a JSON
Lines file. ``--database postgresql://...`` and ``--broker stomp://...``
switch to the distributed setup: start as many workers as needed on the same
database; each sweeps deadlines and relays its share of the outbox.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from typing import Any

from . import argtypes

EPILOG = """\
endpoints: POST /message/receive, POST /desk/{agent}/up|down, POST /sessions,
POST /sessions/{id}/end, GET /health, GET /ready, GET /metrics
(see docs/deployment.md).

exit status:
  on SIGINT or SIGTERM it finishes the requests under way, stops its loops
  and exits by that signal (status 130 or 143 in a shell)
  2  usage error (options that contradict each other too), or the address
     could not be listened on, or the store or the broker could not be opened
"""


def is_postgres(database: str) -> bool:
    """Whether ``--database`` names a PostgreSQL server (else a SQLite file)."""
    return database.startswith(("postgresql://", "postgres://"))


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run the CCM as an HTTP service on a durable store",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--database",
        default="consultfsm.db",
        metavar="PATH|URL",
        help="a SQLite file (default %(default)s) or postgresql://user@host/db",
    )
    p.add_argument(
        "--broker",
        metavar="URL",
        help="stomp://host:port of ActiveMQ; without it events go to --events",
    )
    p.add_argument(
        "--events",
        default="consultfsm-events.jsonl",
        metavar="FILE",
        help="the JSON Lines file events go to without a broker (default %(default)s)",
    )
    p.add_argument(
        "--destination",
        default=None,
        metavar="TEMPLATE",
        help="the STOMP destination, {conversation} filled in "
        "(default /topic/conversation.{conversation})",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=argtypes.port, default=8080, help="port (default %(default)s)")
    p.add_argument(
        "--service-identifier",
        default="8000",
        metavar="DN",
        help="the channel's service identifier for events (default %(default)s)",
    )
    p.add_argument(
        "--partitions",
        type=argtypes.positive,
        default=16,
        help="outbox partitions (the same on every worker; default %(default)s)",
    )
    p.add_argument(
        "--relay-share",
        type=argtypes.positive,
        default=None,
        metavar="N",
        help="the most partitions this worker's relay takes, on PostgreSQL (default: all "
        "free ones)",
    )
    p.add_argument("--no-relay", action="store_true", help="do not publish from this worker")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from consultfsm.service.app import create_app
        from consultfsm.service.worker import structured_logs
    except ImportError as exc:
        print(
            f"consultfsm serve: needs the serve extra (pip install 'consultfsm[serve]'): {exc}",
            file=sys.stderr,
        )
        return 2
    from consultfsm.core.errors import ConsultFsmError

    why = contradiction(args)
    if why is not None:
        print(f"consultfsm serve: {why}", file=sys.stderr)
        return 2
    try:  # (before the store opens: a worker that cannot serve starts nothing)
        sock = listen(args.host, args.port)
    except OSError as exc:
        print(f"consultfsm serve: cannot listen on {args.host}:{args.port}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        worker = build_worker(args)
    except (ConsultFsmError, ImportError, OSError, ValueError) as exc:
        sock.close()
        print(f"consultfsm serve: {exc}", file=sys.stderr)
        return 2
    import logging

    structured_logs(getattr(logging, args.log_level.upper()))
    where = "PostgreSQL" if is_postgres(args.database) else f"SQLite {args.database}"
    to = args.broker or args.events
    host, port = sock.getsockname()[:2]
    print(f"consultfsm serve: http://{args.host}:{port} on {where}, events to {to}",
          file=sys.stderr, flush=True)  # fmt: skip
    config = uvicorn.Config(
        create_app(worker), host=host, port=port, log_level=args.log_level, access_log=False
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn, stopped cleanly, raises the SIGINT it caught: exit by it,
        # as it does by SIGTERM, without a traceback among the log lines.
        worker.ccm.store.close()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.raise_signal(signal.SIGINT)
        raise
    worker.ccm.store.close()
    return 0


def contradiction(args: argparse.Namespace) -> str | None:
    """What is wrong with options that cannot all hold, or None."""
    if not args.database.strip() or args.database == ":memory:":
        return f"--database {args.database!r}: a durable store needs a file or a postgresql:// URL"
    if args.relay_share is not None and not is_postgres(args.database):
        return "--relay-share shares a PostgreSQL outbox among workers: SQLite has one relay"
    if args.no_relay and (args.broker or args.destination):
        return "--no-relay publishes nothing: --broker and --destination say where to"
    if args.destination and not args.broker:
        return "--destination is a STOMP destination: it needs --broker"
    return unusable(args)


def unusable(args: argparse.Namespace) -> str | None:
    """What makes one option unusable on its own, found before anything is
    opened (a worker refused at startup leaves no store or events file)."""
    if args.broker and not args.no_relay:
        try:
            from consultfsm.durable.stomp_sink import broker_address, checked_destination
        except ImportError as exc:
            return f"--broker needs the stomp extra (pip install 'consultfsm[stomp]'): {exc}"
        from consultfsm.durable.relay import SinkError

        try:
            broker_address(args.broker)
        except SinkError as exc:
            return f"--broker: {exc}"
        try:
            if args.destination is not None:
                checked_destination(args.destination)
        except SinkError as exc:
            return f"--destination: {exc}"
    files = [] if args.no_relay or args.broker else [("--events", args.events)]
    if not is_postgres(args.database):
        files.append(("--database", args.database))
    for option, path in files:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            return f"{option} {path!r}: the folder {folder!r} does not exist"
    return None


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (the first address the name has)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def build_worker(args: argparse.Namespace) -> Any:
    """The worker the options describe (the store and the sink opened)."""
    from consultfsm.durable.engine import DurableCcm
    from consultfsm.durable.relay import JsonlSink, Lease, Relay, Sink
    from consultfsm.durable.store import Store
    from consultfsm.service.worker import Worker
    from consultfsm.wire.cim import CimCodec

    store: Store
    lease: Lease | None = None
    if is_postgres(args.database):
        from consultfsm.durable.postgres import AdvisoryLease, PostgresStore

        store = PostgresStore(args.database)
        try:
            lease = AdvisoryLease(args.database, args.partitions, most=args.relay_share)
        except BaseException:  # (its own connection refused: the store's goes too)
            store.close()
            raise
    else:
        from consultfsm.durable.sqlite import SqliteStore

        store = SqliteStore(args.database)
    try:
        ccm = DurableCcm(store, CimCodec(args.service_identifier), partitions=args.partitions)
        relay = None
        if not args.no_relay:
            sink: Sink
            if args.broker:
                from consultfsm.durable.stomp_sink import DEFAULT_DESTINATION, StompSink

                sink = StompSink(args.broker, destination=args.destination or DEFAULT_DESTINATION)
            else:
                sink = JsonlSink(args.events)
            relay = Relay(store, sink, lease=lease)
    except BaseException:  # (the store is open: a worker that cannot start closes it)
        if lease is not None:
            lease.close()
        store.close()
        raise
    return Worker(ccm, relay)
