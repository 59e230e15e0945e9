"""The SQLite schema and its migrations.

A database records the schema version it is at (`schema_version`, one row); on opening, every
migration past it runs, in order, each in its own transaction. A new table or column is a new
function appended to MIGRATIONS, never an edit of an old one: a database made by an older gateway
is brought up to date, and one made by a newer gateway is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("policy", Text, nullable=False),  # JSON
    Column("credential", Text),  # Fernet token
    Column("created", Float, nullable=False),
    Column("revoked", Float),
)

usage = Table(
    "usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("day", String(10), nullable=False),  # UTC date of `at`, for grouping by day
    Column("tenant", String(64), nullable=False),
    Column("key_id", String(32)),
    Column("session_id", String(200)),
    Column("model", String(200), nullable=False),
    Column("door", String(20), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cache_read_input_tokens", Integer, nullable=False),
    Column("cache_creation_input_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("error", String(100)),  # since v3
    Column("web_search_requests", Integer, nullable=False, server_default="0"),  # these three since v9
    Column("web_fetch_requests", Integer, nullable=False, server_default="0"),
    Column("mcp_calls", Integer, nullable=False, server_default="0"),
    Index("usage_tenant_at", "tenant", "at"),
    Index("usage_at", "at"),
)


responses = Table(
    "responses",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("previous_id", String(100)),
    Column("system", Text),
    Column("messages", Text),  # JSON: the messages this response added; NULL once its session was deleted
    Column("response", Text, nullable=False),  # JSON: what GET /v1/responses/{id} returns
    Column("stored_at", Float, nullable=False),
    Column("session", String(64)),
    Index("responses_stored_at", "stored_at"),
    Index("responses_session", "session"),
)

files = Table(
    "files",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the listing's order (newest first)
    Column("id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False),
    Column("filename", String(1000), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("media_type", String(200), nullable=False),
    Column("size", Integer, nullable=False),
    Column("created", Float, nullable=False),
    Column("expires_at", Float),
    Column("data", LargeBinary, nullable=False),
    Index("files_tenant_seq", "tenant", "seq"),
    Index("files_expires_at", "expires_at"),
)


batches = Table(
    "batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("api", String(16), nullable=False),  # "anthropic" (Message Batches) or "openai" (Batch API)
    Column("tenant", String(64), nullable=False),
    Column("key_id", String(32)),  # the creating managed key, resolved again for every request
    Column("endpoint", String(64), nullable=False),  # the door its requests go to
    Column("created", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("cancel_initiated_at", Float),
    Column("ended_at", Float),
    Column("extra", Text, nullable=False),  # JSON: the API's own fields (metadata, files, errors)
    Index("batches_tenant_created", "tenant", "created"),
)

batch_requests = Table(
    "batch_requests",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("custom_id", String(200), nullable=False),
    Column("params", Text, nullable=False),  # JSON: the request's body
    Column("state", String(16), nullable=False),  # pending, succeeded, errored, canceled, expired
    Column("result", Text),  # JSON: {"status": HTTP status, "body": the answer or the error envelope}
    Index("batch_requests_state", "state"),
    # A batch's pending requests in order and its counts by state, read from the index alone: by
    # the primary key, each round read every row (params and results) of a 100k-request batch.
    Index("batch_requests_batch_state", "batch_id", "state", "idx"),
)


# Budget reserved by turns running now (app/tenancy/limits.py): dropped when the turn's usage entry
# is written, when its lease ends, and all at start-up (one gateway owns a SQLite file).
holds = Table(
    "budget_holds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("expires", Float, nullable=False),
    Index("budget_holds_tenant", "tenant"),
)


secrets = Table(
    "gateway_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)


def _v1(connection: Connection) -> None:
    """Keys and the usage ledger (with its indexes)."""
    keys.create(connection)
    usage.create(connection)


def _v2(connection: Connection) -> None:
    """Stored Responses API responses, so that they (and their conversations) outlive a restart."""
    responses.create(connection)


def _v3(connection: Connection) -> None:
    """The ledger records why a turn failed (a database made by v1 lacks the column; a new one has it)."""
    columns = {row[1] for row in connection.execute(text("PRAGMA table_info(usage)"))}
    if "error" not in columns:
        connection.execute(text("ALTER TABLE usage ADD COLUMN error VARCHAR(100)"))


def _v4(connection: Connection) -> None:
    """Uploaded files (app/files/), their bytes with them."""
    files.create(connection, checkfirst=True)


def _v5(connection: Connection) -> None:
    """Message batches (both APIs) and their requests, so that a restart resumes them."""
    batches.create(connection, checkfirst=True)
    batch_requests.create(connection, checkfirst=True)


def _v6(connection: Connection) -> None:
    """Batch requests indexed by batch and state (a v5 database lacks it; a new one has it)."""
    for index in batch_requests.indexes:
        index.create(connection, checkfirst=True)


def _v7(connection: Connection) -> None:
    """Budget reservations of running turns."""
    holds.create(connection, checkfirst=True)


def _v8(connection: Connection) -> None:
    """Random keys made once and kept for every later start (Store.shared_secret)."""
    secrets.create(connection, checkfirst=True)


def _v9(connection: Connection) -> None:
    """The ledger counts the hosted tool calls a turn made (a database made by v8 lacks the columns;
    a new one has them): 0 for the turns recorded before."""
    columns = {row[1] for row in connection.execute(text("PRAGMA table_info(usage)"))}
    for name in ("web_search_requests", "web_fetch_requests", "mcp_calls"):
        if name not in columns:
            connection.execute(text(f"ALTER TABLE usage ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0"))


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]


def migrate(connection: Connection) -> int:
    """Bring the database to the newest version; returns the version it was at."""
    schema_version.create(connection, checkfirst=True)
    current = connection.execute(select(schema_version.c.version)).scalar()
    if current is None:
        connection.execute(schema_version.insert().values(version=0))
        current = 0
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"The gateway's database is at schema version {current}, newer than this gateway knows "
            f"({len(MIGRATIONS)}): upgrade the gateway, or point GATEWAY_DATA_DIR elsewhere."
        )
    for version in range(current, len(MIGRATIONS)):
        MIGRATIONS[version](connection)
        connection.execute(schema_version.update().values(version=version + 1))
        connection.commit()
    return current
