#!/usr/bin/env python3
"""The Python reference library (eventsource-py 0.5.0) on the benchmark's
workloads W1-W5, with its in-memory, SQLite and PostgreSQL stores.

Run by the Rust `bench` binary (or by hand) in bench/peer/.venv; prints one
JSON measurement per line on stdout, progress on stderr. The domain, the data
set (the JSON Lines file the Rust side writes) and the definitions of each
workload are the same as on the Rust side; where a full-size run would take
too long here, the scale is reduced and each measurement says which scale it
ran at.

    bench/peer/.venv/bin/python bench/peer/run.py --scale small \
        --backend memory,sqlite,postgres --workload W1,W2,W3,W4,W5 \
        --dataset target/bench-data/dataset-v1-20.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable
from uuid import UUID, uuid4

import asyncpg
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from eventsource import (
    AggregateRepository,
    DeclarativeAggregate,
    DomainEvent,
    InMemoryEventStore,
    handles,
    register_event,
)
from eventsource.migrations import get_all_schemas
from eventsource.multitenancy import TenantAwareRepository, tenant_scope
from eventsource.projections.base import DeclarativeProjection
from eventsource.repositories.checkpoint import (
    InMemoryCheckpointRepository,
    PostgreSQLCheckpointRepository,
    SQLiteCheckpointRepository,
)
from eventsource.snapshots import (
    InMemorySnapshotStore,
    PostgreSQLSnapshotStore,
    SQLiteSnapshotStore,
)
from eventsource.stores.interface import ReadOptions
from eventsource.stores.postgresql import PostgreSQLEventStore
from eventsource.stores.sqlite import SQLiteEventStore

logging.disable(logging.WARNING)

# --------------------------------------------------------------------------
# Scales. The Rust side runs every workload at the benchmark's sizes; here a
# workload whose full size would take many minutes runs smaller (rates are
# per event or per aggregate, so they compare; each line states its scale).

SCALES: dict[str, dict[str, Any]] = {
    "full": {
        "w1_tenants": {"memory": 1000, "sqlite": 50, "postgres": 50},
        "aggregates_per_tenant": 10,
        "long_stream": 100_000,
        "w3_memory_tenants": 100,
        "w3_queries": 200,
        "w4_events": {"memory": 100_000, "sqlite": 50_000, "postgres": 20_000},
        "w5_lines": {"sqlite": 50_000, "postgres": 20_000},
    },
    "small": {
        "w1_tenants": {"memory": 50, "sqlite": 10, "postgres": 10},
        "aggregates_per_tenant": 10,
        "long_stream": 10_000,
        "w3_memory_tenants": 20,
        "w3_queries": 20,
        "w4_events": {"memory": 20_000, "sqlite": 10_000, "postgres": 5_000},
        "w5_lines": {"sqlite": 10_000, "postgres": 5_000},
    },
}

DATASET_END = datetime(2026, 1, 1, tzinfo=timezone.utc)
WINDOW_START = DATASET_END - timedelta(days=30)
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def say(message: str) -> None:
    print(f"[python] {message}", file=sys.stderr, flush=True)


def emit(workload: str, case: str, backend: str, unit: str, scale: str,
         runs: list[float], note: str | None = None) -> None:
    value = statistics.median(runs) if runs else float("nan")
    print(json.dumps({
        "workload": workload,
        "case": case,
        "backend": backend,
        "subject": "python",
        "value": value if runs else None,
        "unit": unit,
        "higher_is_better": unit not in ("ms", "MB", "s"),
        "scale": scale,
        "runs": runs,
        "note": note,
    }), flush=True)


# --------------------------------------------------------------------------
# The guide's domain, as the Python library writes it.

@register_event
class OrderCreated(DomainEvent):
    aggregate_type: str = "Order"
    customer_id: UUID
    total_amount: Decimal


@register_event
class OrderItemAdded(DomainEvent):
    aggregate_type: str = "Order"
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@register_event
class OrderShipped(DomainEvent):
    aggregate_type: str = "Order"
    tracking_number: str


@register_event
class TaskCreated(DomainEvent):
    aggregate_type: str = "Task"
    title: str
    description: str | None = None
    assigned_to: str | None = None


@register_event
class TaskCompleted(DomainEvent):
    aggregate_type: str = "Task"
    completed_by: str | None = None


@register_event
class Deposited(DomainEvent):
    aggregate_type: str = "Account"
    cents: int


EVENT_CLASSES: dict[str, type[DomainEvent]] = {
    cls.__name__: cls
    for cls in (OrderCreated, OrderItemAdded, OrderShipped, TaskCreated, TaskCompleted, Deposited)
}


class OrderLine(BaseModel):
    sku: str
    quantity: int
    unit_price: Decimal


class OrderState(BaseModel):
    customer_id: UUID | None = None
    total_amount: Decimal = Decimal(0)
    lines: list[OrderLine] = []
    status: str = "new"
    tracking_number: str | None = None


class OrderAggregate(DeclarativeAggregate[OrderState]):
    aggregate_type = "Order"

    def _get_initial_state(self) -> OrderState:
        return OrderState()

    def place(self, customer_id: UUID, total: Decimal) -> None:
        self.create_event(OrderCreated, customer_id=customer_id, total_amount=total)

    def add_item(self, sku: str, name: str, quantity: int, unit_price: Decimal) -> None:
        self.create_event(OrderItemAdded, sku=sku, name=name, quantity=quantity, unit_price=unit_price)

    def ship(self, tracking_number: str) -> None:
        self.create_event(OrderShipped, tracking_number=tracking_number)

    @handles(OrderCreated)
    def _on_created(self, event: OrderCreated) -> None:
        state = self._state or OrderState()
        state.customer_id = event.customer_id
        state.total_amount = event.total_amount
        state.status = "created"
        self._state = state

    @handles(OrderItemAdded)
    def _on_item(self, event: OrderItemAdded) -> None:
        state = self._state or OrderState()
        state.lines.append(OrderLine(sku=event.sku, quantity=event.quantity, unit_price=event.unit_price))
        self._state = state

    @handles(OrderShipped)
    def _on_shipped(self, event: OrderShipped) -> None:
        state = self._state or OrderState()
        state.status = "shipped"
        state.tracking_number = event.tracking_number
        self._state = state


class AccountState(BaseModel):
    balance: int = 0
    deposits: int = 0


class AccountAggregate(DeclarativeAggregate[AccountState]):
    aggregate_type = "Account"

    def _get_initial_state(self) -> AccountState:
        return AccountState()

    @handles(Deposited)
    def _on_deposited(self, event: Deposited) -> None:
        state = self._state or AccountState()
        state.balance += event.cents
        state.deposits += 1
        self._state = state


class TenantStatisticsProjection(DeclarativeProjection):
    """The guide's per-tenant statistics: orders, revenue, shipped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.statistics: dict[UUID | None, dict[str, Any]] = {}

    def _of(self, tenant: UUID | None) -> dict[str, Any]:
        return self.statistics.setdefault(
            tenant, {"order_count": 0, "total_revenue": Decimal(0), "shipped_count": 0})

    @handles(OrderCreated)
    async def _on_created(self, event: OrderCreated) -> None:
        statistics_ = self._of(event.tenant_id)
        statistics_["order_count"] += 1
        statistics_["total_revenue"] += event.total_amount

    @handles(OrderShipped)
    async def _on_shipped(self, event: OrderShipped) -> None:
        self._of(event.tenant_id)["shipped_count"] += 1


# --------------------------------------------------------------------------
# Fresh stores: in memory, an SQLite file, a PostgreSQL database of its own.

@dataclass
class Fresh:
    kind: str
    store: Any
    snapshots: Any
    checkpoints: Any
    sqlite_path: str | None = None
    database: str | None = None
    engine: Any = None
    closers: list[Callable[[], Any]] = field(default_factory=list)


class Environment:
    def __init__(self, postgres_url: str, data_dir: str) -> None:
        self.postgres_url = postgres_url.rstrip("/")
        base, _, _ = self.postgres_url.rpartition("/")
        self.base = base
        self.data_dir = data_dir
        self.counter = 0
        os.makedirs(data_dir, exist_ok=True)

    def name(self) -> str:
        self.counter += 1
        return f"esbench_py_{os.getpid()}_{self.counter}"

    async def create_database(self) -> str:
        name = self.name()
        admin = await asyncpg.connect(self.postgres_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        connection = await asyncpg.connect(f"{self.base}/{name}")
        await connection.execute(get_all_schemas("postgresql"))
        await connection.close()
        return name

    async def drop_database(self, name: str) -> None:
        admin = await asyncpg.connect(self.postgres_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    async def fresh(self, kind: str) -> Fresh:
        if kind == "memory":
            return Fresh(kind, InMemoryEventStore(), InMemorySnapshotStore(), InMemoryCheckpointRepository())
        if kind == "sqlite":
            folder = os.path.join(self.data_dir, self.name())
            os.makedirs(folder)
            path = os.path.join(folder, "events.db")
            store = SQLiteEventStore(path, wal_mode=True)
            await store.__aenter__()
            await store.initialize()
            fresh = Fresh(kind, store, SQLiteSnapshotStore(path),
                          SQLiteCheckpointRepository(store._connection), sqlite_path=path)
            fresh.closers.append(store.close)
            fresh.closers.append(lambda: shutil.rmtree(folder, ignore_errors=True))
            return fresh
        database = await self.create_database()
        engine = create_async_engine(f"postgresql+asyncpg://{self.base.split('://', 1)[1]}/{database}",
                                     pool_size=10)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        fresh = Fresh(kind, PostgreSQLEventStore(sessions), PostgreSQLSnapshotStore(sessions),
                      PostgreSQLCheckpointRepository(engine), database=database, engine=engine)
        fresh.closers.append(engine.dispose)
        fresh.closers.append(lambda: self.drop_database(database))
        return fresh

    async def close(self, fresh: Fresh) -> None:
        for closer in fresh.closers:
            result = closer()
            if asyncio.iscoroutine(result):
                await result


# --------------------------------------------------------------------------
# Loading rows without the clock running: straight into the library's table
# (PostgreSQL: COPY; SQLite: one executemany), or through the in-memory
# store's append. The payload is what the library stores: the event's
# model_dump(mode="json"), which is the flat interchange form.

Row = tuple  # (event_id, event_type, aggregate_type, aggregate_id, tenant_id, actor_id, version, at, payload)


def row_of_flat(line: str, flat: dict[str, Any]) -> Row:
    tenant = flat.get("tenant_id")
    return (
        UUID(flat["event_id"]), flat["event_type"], flat["aggregate_type"], UUID(flat["aggregate_id"]),
        UUID(tenant) if tenant else None, flat.get("actor_id"), flat["aggregate_version"],
        datetime.fromisoformat(flat["occurred_at"].replace("Z", "+00:00")), line,
    )


def row_of_event(event: DomainEvent) -> Row:
    return (event.event_id, event.event_type, event.aggregate_type, event.aggregate_id, event.tenant_id,
            event.actor_id, event.aggregate_version, event.occurred_at, event.model_dump_json())


async def bulk_load(environment: Environment, fresh: Fresh, rows: list[Row]) -> None:
    if fresh.kind == "postgres":
        connection = await asyncpg.connect(f"{environment.base}/{fresh.database}")
        # Binary COPY sends jsonb as a version byte followed by the text.
        await connection.set_type_codec("jsonb", encoder=lambda text: b"\x01" + text.encode(),
                                        decoder=lambda data: data[1:].decode(), schema="pg_catalog",
                                        format="binary")
        for start in range(0, len(rows), 50_000):
            await connection.copy_records_to_table(
                "events", records=rows[start:start + 50_000],
                columns=["event_id", "event_type", "aggregate_type", "aggregate_id", "tenant_id",
                         "actor_id", "version", "timestamp", "payload"])
        await connection.execute("VACUUM ANALYZE events")
        await connection.close()
    elif fresh.kind == "sqlite":
        connection = fresh.store._connection
        now = datetime.now(timezone.utc).isoformat()
        await connection.executemany(
            "INSERT INTO events (event_id, event_type, aggregate_type, aggregate_id, tenant_id, actor_id, "
            "version, timestamp, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(str(r[0]), r[1], r[2], str(r[3]), str(r[4]) if r[4] else None, r[5], r[6], r[7].isoformat(),
              r[8], now) for r in rows])
        await connection.commit()
        await connection.execute("ANALYZE")
    else:
        stream: list[DomainEvent] = []
        for row in rows:
            event = EVENT_CLASSES[row[1]].model_validate_json(row[8])
            if stream and stream[-1].aggregate_id != event.aggregate_id:
                await flush_stream(fresh.store, stream)
                stream = []
            stream.append(event)
        if stream:
            await flush_stream(fresh.store, stream)


async def flush_stream(store: Any, events: list[DomainEvent]) -> None:
    first = events[0]
    await store.append_events(first.aggregate_id, first.aggregate_type, events,
                              expected_version=first.aggregate_version - 1)


def read_dataset(path: str, keep: Callable[[dict[str, Any]], bool] | None = None,
                 limit: int | None = None) -> list[Row]:
    rows = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if limit is not None and len(rows) >= limit:
                break
            line = line.strip()
            if not line:
                continue
            flat = json.loads(line)
            if keep is None or keep(flat):
                rows.append(row_of_flat(line, flat))
    return rows


# --------------------------------------------------------------------------
# W1 and W2.

def amount(rng: random.Random) -> Decimal:
    return Decimal(100 + rng.randrange(49_900)) / 100


async def write_orders(repository: TenantAwareRepository, tenants: list[UUID], per_tenant: int,
                       rng: random.Random) -> list[tuple[UUID, UUID]]:
    saved = []
    for tenant in tenants:
        async with tenant_scope(tenant):
            for _ in range(per_tenant):
                order_id = uuid4()
                order = repository.create_new(order_id)
                order.place(uuid4(), amount(rng))
                for line in range(8):
                    product = rng.randrange(10_000)
                    order.add_item(f"SKU-{product:05}", f"Product {product} (line {line})",
                                   1 + rng.randrange(5), amount(rng))
                order.ship(f"TRK{rng.randrange(10**12):012}")
                await repository.save(order)
                saved.append((tenant, order_id))
    return saved


async def read_orders(repository: TenantAwareRepository, orders: list[tuple[UUID, UUID]]) -> None:
    for tenant, order_id in orders:
        async with tenant_scope(tenant):
            order = await repository.load(order_id)
            assert order.version == 10


def split(items: list, parts: int) -> list[list]:
    size = max(1, -(-len(items) // parts))
    return [items[i:i + size] for i in range(0, len(items), size)]


def tenant_repository(store: Any) -> TenantAwareRepository:
    return TenantAwareRepository(AggregateRepository(store, OrderAggregate), enforce_on_load=True)


async def w1_w2(environment: Environment, kind: str, scale: dict[str, Any], repeat: int,
                append: bool, load: bool) -> None:
    tenants_count = scale["w1_tenants"][kind]
    per_tenant = scale["aggregates_per_tenant"]
    events = tenants_count * per_tenant * 10
    append_scale = f"{tenants_count:,} tenants × {per_tenant} aggregates × 10 events = {events:,} events"
    load_scale = f"{tenants_count * per_tenant:,} aggregates of 10 events"
    tenants = [uuid4() for _ in range(tenants_count)]
    appended: dict[int, list[float]] = {1: [], 4: []}
    loaded: dict[int, list[float]] = {1: [], 4: []}
    for run in range(repeat):
        for writers in (1, 4):
            if writers == 4 and not append:
                continue
            if writers == 4 and kind == "sqlite":
                continue
            say(f"W1 {kind}: run {run + 1} of {repeat}, {writers} writer(s)")
            fresh = await environment.fresh(kind)
            repository = tenant_repository(fresh.store)
            rng = random.Random(1000 + run)
            started = time.perf_counter()
            shares = await asyncio.gather(*(write_orders(repository, share, per_tenant, random.Random(rng.random()))
                                            for share in split(tenants, writers)))
            appended[writers].append(events / (time.perf_counter() - started))
            saved = [order for share in shares for order in share]
            if writers == 1 and load:
                for readers in (1, 4):
                    say(f"W2 {kind}: run {run + 1} of {repeat}, {readers} reader(s)")
                    started = time.perf_counter()
                    await asyncio.gather(*(read_orders(repository, share) for share in split(saved, readers)))
                    loaded[readers].append(len(saved) / (time.perf_counter() - started))
            await environment.close(fresh)
    for count in (1, 4):
        plural = "" if count == 1 else "s"
        if append:
            note = None
            if count == 4 and kind == "sqlite":
                note = ("not run: the library's SQLite store has one connection, so concurrent saves "
                        "would share one transaction")
            emit("W1", f"append, {count} writer{plural}", kind, "events/s", append_scale, appended[count], note)
        if load:
            emit("W2", f"load, {count} reader{plural}", kind, "aggregates/s", load_scale, loaded[count])
    if load:
        await long_stream(environment, kind, scale, repeat)


async def long_stream(environment: Environment, kind: str, scale: dict[str, Any], repeat: int) -> None:
    length = scale["long_stream"]
    fresh = await environment.fresh(kind)
    try:
        await timed_long_stream(environment, fresh, kind, length, repeat)
    finally:
        await environment.close(fresh)


async def timed_long_stream(environment: Environment, fresh: Fresh, kind: str, length: int,
                            repeat: int) -> None:
    account_id, tenant = uuid4(), uuid4()
    rng = random.Random(99)
    say(f"W2 {kind}: loading the long stream of {length} events (not timed)")
    events = [Deposited(aggregate_id=account_id, aggregate_version=version, tenant_id=tenant,
                        actor_id="bench", cents=1 + rng.randrange(10_000))
              for version in range(1, length + 1)]
    await bulk_load(environment, fresh, [row_of_event(event) for event in events])

    plain = AggregateRepository(fresh.store, AccountAggregate)
    snapshotting = AggregateRepository(fresh.store, AccountAggregate, snapshot_store=fresh.snapshots,
                                       snapshot_mode="manual")
    account = await plain.load(account_id)
    await snapshotting.create_snapshot(account)
    await snapshotting.load(account_id)  # untimed, as the first replay above
    replayed, from_snapshot = [], []
    for run in range(repeat):
        say(f"W2 {kind}: long stream, run {run + 1} of {repeat}")
        started = time.perf_counter()
        loaded = await plain.load(account_id)
        replayed.append((time.perf_counter() - started) * 1000)
        assert loaded.version == length
        started = time.perf_counter()
        loaded = await snapshotting.load(account_id)
        from_snapshot.append((time.perf_counter() - started) * 1000)
        assert loaded.state.deposits == length
    stream_scale = f"1 aggregate of {length:,} events"
    emit("W2", "long stream, no snapshot", kind, "ms", stream_scale, replayed)
    emit("W2", "long stream, snapshot", kind, "ms", stream_scale, from_snapshot)


# --------------------------------------------------------------------------
# W3 and W4, on the data set.

async def w3_w4(environment: Environment, kind: str, scale: dict[str, Any], repeat: int, dataset: str,
                query: bool, project: bool) -> None:
    keep = None
    if kind == "memory":
        # The in-memory store answers a query by scanning every event; at a
        # million events Python needs minutes per pass, so it holds the first
        # tenants' events only.
        wanted: set[str] = set()
        limit = scale["w3_memory_tenants"]

        def keep(flat: dict[str, Any]) -> bool:
            tenant = flat.get("tenant_id")
            if tenant in wanted:
                return True
            if len(wanted) < limit:
                wanted.add(tenant)
                return True
            return False
    say(f"W3/W4 {kind}: reading the data set")
    rows = read_dataset(dataset, keep)
    fresh = await environment.fresh(kind)
    try:
        await query_and_project(environment, fresh, kind, scale, repeat, rows, query, project)
    finally:
        await environment.close(fresh)


async def query_and_project(environment: Environment, fresh: Fresh, kind: str, scale: dict[str, Any],
                            repeat: int, rows: list[Row], query: bool, project: bool) -> None:
    say(f"W3/W4 {kind}: loading {len(rows):,} events (not timed)")
    await bulk_load(environment, fresh, rows)
    tenants = sorted({row[4] for row in rows}, key=str)
    size = f"{len(rows):,} events, {len(tenants):,} tenants"
    del rows

    if query:
        rng = random.Random(11)
        order = tenants[:]
        rng.shuffle(order)
        order = order[:scale["w3_queries"]]
        for tenant in order[:20]:
            await fresh.store.get_events_by_type("Order", tenant_id=tenant, from_timestamp=WINDOW_START)
        p50, p99, sizes = [], [], []
        for run in range(repeat):
            say(f"W3 {kind}: run {run + 1} of {repeat}")
            latencies = []
            for tenant in order:
                started = time.perf_counter()
                events = await fresh.store.get_events_by_type("Order", tenant_id=tenant,
                                                              from_timestamp=WINDOW_START)
                latencies.append((time.perf_counter() - started) * 1000)
                sizes.append(len(events))
            latencies.sort()
            p50.append(latencies[max(0, -(-len(latencies) * 50 // 100) - 1)])
            p99.append(latencies[max(0, -(-len(latencies) * 99 // 100) - 1)])
        scale_text = f"{size}; {len(order)} queries a run, {statistics.median(sizes):.0f} events each (median)"
        emit("W3", "tenant query p50", kind, "ms", scale_text, p50)
        emit("W3", "tenant query p99", kind, "ms", scale_text, p99)

    if project:
        limit = scale["w4_events"][kind]
        rates, handled = [], 0
        for run in range(repeat):
            say(f"W4 {kind}: run {run + 1} of {repeat}")
            checkpoints = (InMemoryCheckpointRepository() if kind == "memory" else fresh.checkpoints)
            projection = TenantStatisticsProjection(checkpoint_repo=checkpoints)
            await projection.reset()
            subscribed = set(projection.subscribed_to())
            position, read, handled = 0, 0, 0
            started = time.perf_counter()
            while read < limit:
                page = [stored async for stored in
                        fresh.store.read_all(ReadOptions(from_position=position, limit=500))]
                if not page:
                    break
                for stored in page:
                    if read >= limit:
                        break
                    read += 1
                    if type(stored.event) in subscribed:
                        await projection.handle(stored.event)
                        handled += 1
                position = page[-1].global_position
            rates.append(read / (time.perf_counter() - started))
        emit("W4", "catch-up", kind, "events/s",
             f"first {read:,} events of {size}; {handled:,} handled, checkpoint per handled event", rates,
             "read_all pages of 500, every event decoded; events of other types skipped before handle()")


# --------------------------------------------------------------------------
# W5: a JSON Lines import through the library, in a child process whose
# peak memory /usr/bin/time measures.

async def import_child(arguments: argparse.Namespace) -> None:
    environment = Environment(arguments.postgres, arguments.data_dir)
    if arguments.backend == "sqlite":
        store = SQLiteEventStore(arguments.target, wal_mode=True)
        await store.__aenter__()
        await store.initialize()
    else:
        engine = create_async_engine(
            f"postgresql+asyncpg://{environment.base.split('://', 1)[1]}/{arguments.target}", pool_size=10)
        store = PostgreSQLEventStore(async_sessionmaker(engine, expire_on_commit=False))
    started = time.perf_counter()
    imported = 0
    stream: list[DomainEvent] = []
    with open(arguments.file, encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number >= arguments.lines:
                break
            line = line.strip()
            if not line:
                continue
            event_type = json.loads(line)["event_type"]
            event = EVENT_CLASSES[event_type].model_validate_json(line)
            if stream and stream[-1].aggregate_id != event.aggregate_id:
                await flush_stream(store, stream)
                imported += len(stream)
                stream = []
            stream.append(event)
    if stream:
        await flush_stream(store, stream)
        imported += len(stream)
    print(json.dumps({"seconds": time.perf_counter() - started, "imported": imported}))
    if arguments.backend == "sqlite":
        await store.close()
    else:
        await engine.dispose()


async def w5(environment: Environment, kind: str, scale: dict[str, Any], repeat: int, dataset: str) -> None:
    lines = scale["w5_lines"][kind]
    rates, peaks = [], []
    for run in range(repeat):
        say(f"W5 {kind}: run {run + 1} of {repeat}")
        folder = None
        if kind == "sqlite":
            folder = os.path.join(environment.data_dir, environment.name())
            os.makedirs(folder)
            target = os.path.join(folder, "events.db")
        else:
            target = await environment.create_database()
        child = subprocess.run(
            ["/usr/bin/time", "-v", sys.executable, os.path.abspath(__file__), "--import-child",
             "--backend", kind, "--target", target, "--file", dataset, "--lines", str(lines),
             "--postgres", environment.postgres_url, "--data-dir", environment.data_dir],
            capture_output=True, text=True)
        if child.returncode != 0:
            raise RuntimeError(f"the import child failed: {child.stderr[-2000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        assert result["imported"] == lines, result
        rates.append(result["imported"] / result["seconds"])
        peak_kb = next(int(line.split(":")[1]) for line in child.stderr.splitlines()
                       if "Maximum resident set size" in line)
        peaks.append(peak_kb / 1024)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            await environment.drop_database(target)
    note = "no import command in the library: each line parsed by its event class, one append per stream"
    emit("W5", "import", kind, "events/s", f"first {lines:,} lines of the JSON Lines file", rates, note)
    emit("W5", "import peak memory", kind, "MB", f"first {lines:,} lines of the JSON Lines file", peaks,
         "peak resident memory of the Python process")


# --------------------------------------------------------------------------

async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="small", choices=sorted(SCALES))
    parser.add_argument("--backend", default="memory,sqlite,postgres")
    parser.add_argument("--workload", default="W1,W2,W3,W4,W5")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--dataset")
    parser.add_argument("--data-dir", default=os.path.join(REPO, "target", "bench-data"))
    parser.add_argument("--import-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--lines", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.import_child:
        await import_child(arguments)
        return

    scale = SCALES[arguments.scale]
    backends = [b.strip() for b in arguments.backend.split(",") if b.strip()]
    workloads = {w.strip().upper() for w in arguments.workload.split(",")}
    environment = Environment(arguments.postgres, arguments.data_dir)
    repeat = max(1, arguments.repeat)
    for kind in backends:
        if "W1" in workloads or "W2" in workloads:
            await w1_w2(environment, kind, scale, repeat, "W1" in workloads, "W2" in workloads)
    if arguments.dataset:
        for kind in backends:
            if "W3" in workloads or "W4" in workloads:
                await w3_w4(environment, kind, scale, repeat, arguments.dataset,
                            "W3" in workloads, "W4" in workloads)
        if "W5" in workloads:
            for kind in backends:
                if kind != "memory":
                    await w5(environment, kind, scale, repeat, arguments.dataset)


if __name__ == "__main__":
    asyncio.run(main())
