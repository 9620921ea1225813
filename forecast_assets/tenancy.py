"""Tenant isolation for SQL consumers on Postgres: a database role per client that reads its own
client's rows of the consumer marts and nothing else, and writes nothing.

How, in the database (every step idempotent, safe to re-run, and applied only when missing, under
one transaction-scoped advisory lock, so concurrent serving builds neither fail on the same catalog
rows nor race past each other's existence checks):

- ``tenancy.client_roles(role_name, client_id)`` maps consumer roles to clients. It has row-level
  security itself, so a consumer sees only its own mapping row (not the list of tenants).
- A group role (``CONSUMER_GROUP_ROLE``, default ``forecast_consumer``, NOLOGIN) holds USAGE on the
  ``analytics`` and ``tenancy`` schemas and SELECT on the marts and the mapping table; every client
  role (``client_<key>``) is a member and holds nothing of its own.
- Each mart has row-level security enabled and forced, with two policies: ``consumer_own_client``
  (SELECT, for the group: ``client_id`` equals the client mapped to ``current_user``) and
  ``warehouse_writer`` (ALL, for the table's owner, the role dbt writes as), so forcing RLS does
  not lock the writer out. INSERT, UPDATE, DELETE and TRUNCATE are revoked from PUBLIC and the group.

When: ``forecast-assets grant-consumers`` sets it up and maps clients (it needs CREATEROLE and
ownership of the marts). dbt's incremental runs keep the tables and so their policies; a dbt
``--full-refresh`` drops and re-creates them without grants (consumers then see nothing, failing
closed), so the serving asset calls :func:`resecure_if_enabled` after every build.

Client keys are validated before they become role names; identifiers are composed with
:mod:`psycopg2.sql`, values are parameters, passwords are sent only as SCRAM verifiers computed
client-side (never in clear SQL text) and never logged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import psycopg2.extensions
from psycopg2 import sql

from forecast_assets.core.clients import validate_client_key
from forecast_assets.resources import warehouse_postgres as pg

CONSUMER_MARTS = (
    "analytics.fct_demand_forecast",
    "analytics.fct_forecast_accuracy",
    "analytics.fct_inventory_recommendations",
    "analytics.dim_item",
)
MAPPING_TABLE = "tenancy.client_roles"
_ROLE_PART = re.compile(r"^[a-z_][a-z0-9_]*$")
_MAX_IDENTIFIER = 63  # Postgres truncates longer names silently: never let that happen
_HASH_DIGITS = 12  # hex digits of the key's hash in a shortened role name
TENANCY_LOCK = "tenancy"  # the advisory lock every change of roles, grants or policies holds


def _lock(cur) -> None:
    """Serialize changes of grants, policies and mappings across processes (transaction-scoped):
    two serving builds re-securing at once otherwise fail with ``tuple concurrently updated`` on
    the same catalog rows, and two ``CREATE POLICY`` race past each other's existence check."""
    cur.execute("select pg_advisory_xact_lock(%s)", [pg.advisory_key(TENANCY_LOCK)])


def role_name(client_id: str, prefix: str = "client_") -> str:
    """The consumer role of a client: ``<prefix><key>`` where that is shorter than Postgres's
    63-byte limit, else a shortened key plus a hash of the whole key, exactly 63 bytes long.

    The two forms cannot meet: a plain name is at most 62 bytes, a hashed one always 63 (so a key
    cannot be crafted to equal another key's hashed name), and two long keys sharing a prefix
    differ in the 12-hex-digit (48-bit) hash of the whole key. :func:`grant_client` also refuses a
    role already mapped to another client, should anything still collide.
    """
    validate_client_key(client_id)
    if not _ROLE_PART.fullmatch(prefix) or len(prefix) > 20:
        raise ValueError(f"invalid consumer role prefix {prefix!r}: lowercase letters, digits, _")
    name = f"{prefix}{client_id}"
    if len(name) < _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(client_id.encode()).hexdigest()[:_HASH_DIGITS]
    return f"{prefix}{client_id[: _MAX_IDENTIFIER - len(prefix) - _HASH_DIGITS - 1]}_{digest}"


def _check_group(group: str) -> str:
    if not _ROLE_PART.fullmatch(group) or len(group) > _MAX_IDENTIFIER:
        raise ValueError(f"invalid consumer group role {group!r}")
    return group


def _role_exists(cur, role: str) -> bool:
    cur.execute("select rolsuper or rolbypassrls or rolcreaterole from pg_roles where rolname = %s", [role])
    found = cur.fetchone()
    if found and found[0]:
        raise ValueError(f"role {role} exists with superuser, bypassrls or createrole: not a consumer role")
    return found is not None


def _ensure_mapping(cur, group: str) -> None:
    """The tenancy schema, the mapping table (RLS: a consumer sees its own row) and the group."""
    if not _role_exists(cur, group):
        cur.execute(sql.SQL("create role {} nologin").format(sql.Identifier(group)))
    cur.execute("create schema if not exists tenancy")
    cur.execute(
        "create table if not exists tenancy.client_roles ("
        " role_name text primary key, client_id text not null)"
    )
    cur.execute("create table if not exists tenancy.settings (key text primary key, value text not null)")
    cur.execute(
        "insert into tenancy.settings values ('consumer_group', %s) "
        "on conflict (key) do update set value = excluded.value",
        [group],
    )
    _enable_rls(cur, MAPPING_TABLE, force=False)
    _ensure_policy(
        cur,
        MAPPING_TABLE,
        "consumer_own_mapping",
        sql.SQL("for select to {} using (role_name = current_user)").format(sql.Identifier(group)),
    )
    cur.execute(sql.SQL("revoke all on tenancy.client_roles, tenancy.settings from public"))
    cur.execute(sql.SQL("grant usage on schema tenancy to {}").format(sql.Identifier(group)))
    cur.execute(sql.SQL("grant select on tenancy.client_roles to {}").format(sql.Identifier(group)))


def _enable_rls(cur, table: str, force: bool) -> None:
    """Enable (and force) RLS unless already so: ALTER TABLE takes an exclusive lock, so it runs
    only when something changes, not on every serving build."""
    cur.execute("select relrowsecurity, relforcerowsecurity from pg_class where oid = %s::regclass", [table])
    enabled, forced = cur.fetchone()
    ident = sql.Identifier(*table.split("."))
    if not enabled:
        cur.execute(sql.SQL("alter table {} enable row level security").format(ident))
    if force and not forced:
        cur.execute(sql.SQL("alter table {} force row level security").format(ident))


def _ensure_policy(cur, table: str, policy: str, body: sql.Composable) -> None:
    schema, name = table.split(".")
    cur.execute(
        "select 1 from pg_policies where schemaname = %s and tablename = %s and policyname = %s",
        [schema, name, policy],
    )
    if cur.fetchone() is None:
        cur.execute(
            sql.SQL("create policy {} on {} ").format(sql.Identifier(policy), sql.Identifier(schema, name))
            + body
        )


def _secure_mart(cur, table: str, group: str) -> None:
    schema, name = table.split(".")
    group_ident = sql.Identifier(group)
    cur.execute("select tableowner from pg_tables where schemaname = %s and tablename = %s", [schema, name])
    owner = cur.fetchone()[0]
    _enable_rls(cur, table, force=True)
    _ensure_policy(
        cur,
        table,
        "consumer_own_client",
        sql.SQL(
            "for select to {} using (client_id = "
            "(select m.client_id from tenancy.client_roles m where m.role_name = current_user))"
        ).format(group_ident),
    )
    _ensure_policy(
        cur,
        table,
        "warehouse_writer",
        sql.SQL("for all to {} using (true) with check (true)").format(sql.Identifier(owner)),
    )
    _ensure_select_only(cur, table, group)
    cur.execute("select has_schema_privilege(%s, %s, 'USAGE')", [group, schema])
    if not cur.fetchone()[0]:
        cur.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), group_ident))


def _ensure_select_only(cur, table: str, group: str) -> None:
    """The group holds SELECT on ``table`` and PUBLIC nothing; grants and revokes are issued only
    when the table's ACL differs (after a full refresh), never on every build."""
    cur.execute(
        "select coalesce(r.rolname, 'public'), a.privilege_type from pg_class c, "
        "aclexplode(c.relacl) a left join pg_roles r on r.oid = a.grantee "
        "where c.oid = %s::regclass",
        [table],
    )
    held = {(grantee, privilege) for grantee, privilege in cur.fetchall()}
    extra = {p for grantee, p in held if grantee in (group, "public")} - {"SELECT"}
    public = {p for grantee, p in held if grantee == "public"}
    if extra or public or (group, "SELECT") not in held:
        ident, group_ident = sql.Identifier(*table.split(".")), sql.Identifier(group)
        cur.execute(sql.SQL("revoke all on {} from public, {}").format(ident, group_ident))
        cur.execute(sql.SQL("grant select on {} to {}").format(ident, group_ident))


def _existing(cur, tables: Iterable[str]) -> list[str]:
    found = []
    for table in tables:
        cur.execute("select to_regclass(%s)", [table])
        if cur.fetchone()[0] is not None:
            found.append(table)
    return found


def secure_marts(
    url: str, group: str = "forecast_consumer", marts: Iterable[str] = CONSUMER_MARTS
) -> list[str]:
    """Set up the mapping and the group, and secure every existing mart; returns the marts secured."""
    _check_group(group)
    with pg.connect(url) as con:
        with con.cursor() as cur:
            _lock(cur)
            _ensure_mapping(cur, group)
            secured = _existing(cur, marts)
            for table in secured:
                _secure_mart(cur, table, group)
        con.commit()
    return secured


def resecure_if_enabled(url: str, marts: Iterable[str] = CONSUMER_MARTS) -> list[str]:
    """Re-apply RLS and grants to the marts if tenancy was set up in this database (after a dbt
    full refresh re-created a mart); a no-op returning [] where it never was."""
    with pg.connect(url) as con:
        with con.cursor() as cur:
            cur.execute("select to_regclass('tenancy.settings')")
            if cur.fetchone()[0] is None:
                return []
            _lock(cur)
            cur.execute("select value from tenancy.settings where key = 'consumer_group'")
            group = _check_group(cur.fetchone()[0])
            secured = _existing(cur, marts)
            for table in secured:
                _secure_mart(cur, table, group)
        con.commit()
    return secured


def grant_client(
    url: str,
    client_id: str,
    group: str = "forecast_consumer",
    prefix: str = "client_",
    password: str | None = None,
) -> str:
    """Create (if missing) the client's consumer role, make it a member of the group and map it
    to the client; with ``password`` it may log in. Returns the role name.

    Without a password the role is NOLOGIN: an administrator may grant it to a login role, or run
    this again with a password, and nobody can connect as it before that.
    """
    role = role_name(client_id, prefix)
    _check_group(group)
    with pg.connect(url) as con:
        with con.cursor() as cur:
            _lock(cur)
            _ensure_mapping(cur, group)
            _claim(cur, role, client_id)
            role_ident = sql.Identifier(role)
            if not _role_exists(cur, role):
                cur.execute(sql.SQL("create role {} nologin").format(role_ident))
            cur.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), role_ident))
            if password:
                verifier = psycopg2.extensions.encrypt_password(password, role, con, "scram-sha-256")
                cur.execute(sql.SQL("alter role {} login password %s").format(role_ident), [verifier])
        con.commit()
    return role


def _claim(cur, role: str, client_id: str) -> None:
    """Map ``role`` to ``client_id``, refusing a role mapped to another client: remapping would
    hand that client's rows (and, with a password, its login) to this one."""
    cur.execute(
        "insert into tenancy.client_roles (role_name, client_id) values (%s, %s) "
        "on conflict (role_name) do nothing",
        [role, client_id],
    )
    cur.execute("select client_id from tenancy.client_roles where role_name = %s", [role])
    mapped = cur.fetchone()[0]
    if mapped != client_id:
        raise ValueError(f"role {role} is mapped to another client: refusing to remap it to {client_id}")


def clients_in_marts(url: str, marts: Iterable[str] = CONSUMER_MARTS) -> list[str]:
    """Every client with rows in any existing mart (the clients ``grant-consumers`` maps by default)."""
    with pg.connect(url) as con, con.cursor() as cur:
        tables = _existing(cur, marts)
        if not tables:
            return []
        union = sql.SQL(" union ").join(
            sql.SQL("select client_id from {}").format(sql.Identifier(*t.split("."))) for t in tables
        )
        cur.execute(sql.SQL("select distinct client_id from ({}) c order by 1").format(union))
        return [validate_client_key(r[0]) for r in cur.fetchall()]
