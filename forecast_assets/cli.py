"""Command line: ``forecast-assets demo`` runs the whole flow for the demo clients, and
``forecast-assets query SQL`` reads the results from the warehouse.

Everything lives under FORECAST_HOME (default ``./var``): landing files, the DuckDB warehouse,
the Dagster instance (SQLite) and MLflow tracking, so the demo needs nothing started by hand.
With ``WAREHOUSE_URL``, ``MLFLOW_TRACKING_URI`` and ``DAGSTER_PG_HOST`` (and the other
``DAGSTER_PG_*``) pointing at Postgres, the same commands run on Postgres.
"""

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from forecast_assets.core.clients import validate_client_key
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    import polars as pl

INSTANCE_CONFIGS = {"sqlite": REPO_ROOT / "dagster.yaml", "postgres": REPO_ROOT / "dagster.postgres.yaml"}


def prepare_dagster_home(home: Path) -> Path:
    """Put the instance config for this environment in ``home``: the Postgres one when
    ``DAGSTER_PG_HOST`` is set, else SQLite. A config that is not one of the two shipped files
    (edited by hand) is left alone; a shipped one is switched when the environment changed."""
    kind = "postgres" if os.environ.get("DAGSTER_PG_HOST", "").strip() else "sqlite"
    if kind == "postgres":
        # Optional parts get their defaults; the config reads every part from the environment.
        os.environ.setdefault("DAGSTER_PG_PORT", "5432")
        os.environ.setdefault("DAGSTER_PG_PASSWORD", "")
        missing = [v for v in ("DAGSTER_PG_USER", "DAGSTER_PG_DB") if not os.environ.get(v)]
        if missing:
            raise SystemExit(
                f"DAGSTER_PG_HOST is set, so the instance is on Postgres: set {', '.join(missing)}"
            )
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = INSTANCE_CONFIGS[kind].read_text()
    shipped = {p.read_text() for p in INSTANCE_CONFIGS.values()}
    if not target.exists() or (target.read_text() in shipped and target.read_text() != wanted):
        target.write_text(wanted)
    return target


def _instance(settings: Settings):
    from dagster import DagsterInstance

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.home / "dagster_home")))
    prepare_dagster_home(home)
    return DagsterInstance.get()


def run_clients(
    settings: Settings, clients: list[str], as_of: str | None = None, retrospective: bool = False
) -> bool:
    """Register the clients as partitions and run the whole job for each; True if all succeeded.

    ``retrospective`` tags the runs (``forecast-assets/retrospective=true``): their evaluations
    are recorded as retrospective and do not change the as_of the marts serve. A run with an
    explicit ``as_of`` and no tag is a normal run: it is served (a fix of a wrong future date)."""
    from forecast_assets.definitions import build_definitions
    from forecast_assets.defs.evaluation import RETROSPECTIVE_TAG
    from forecast_assets.defs.inputs import AS_OF_OPS

    instance = _instance(settings)
    instance.add_dynamic_partitions(clients_partitions.name, clients)
    job = build_definitions(settings).resolve_job_def("forecast_client")
    run_config = None
    if as_of:
        run_config = {"ops": {name: {"config": {"as_of": as_of}} for name in AS_OF_OPS}}
    ok = True
    for client in clients:
        print(f"== running client {client} ...", flush=True)
        result = job.execute_in_process(
            partition_key=client,
            instance=instance,
            run_config=run_config,
            tags={RETROSPECTIVE_TAG: "true"} if retrospective else None,
            raise_on_error=False,
        )
        print(f"   {client}: {'success' if result.success else 'FAILED'} (run {result.run_id})", flush=True)
        ok &= result.success
    return ok


def this_command() -> str:
    """How to call this CLI again from the user's shell: the script beside the running Python
    (``.venv/bin/forecast-assets`` after ``make demo``, whose PATH the user's shell lacks), else the
    bare name."""
    script = Path(sys.executable).parent / "forecast-assets"
    if not script.exists():
        return "forecast-assets"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def cmd_demo(args: argparse.Namespace) -> int:
    from forecast_assets.demo.sample_data import write_demo_landing

    settings = Settings.from_env()
    clients = write_demo_landing(settings.landing_dir)
    print(f"demo landing files written to {settings.landing_dir}")
    ok = run_clients(settings, clients, args.as_of)
    print(f"""
Results
  warehouse ({settings.warehouse_backend}): {settings.duckdb_path or settings.redacted()["warehouse_url"]}
  MLflow tracking:    {settings.redacted()["mlflow_tracking_uri"]}   (mlflow ui --backend-store-uri ...)
  Dagster instance:   {os.environ["DAGSTER_HOME"]}   (dagster dev shows the runs)

Read the forecasts (add --csv for CSV):
  {this_command()} query "select client_id, item_id, forecast_date, model, forecast_units, q10, q90
      from analytics.fct_demand_forecast order by client_id, item_id, forecast_date limit 20"
""")
    return 0 if ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    clients = [validate_client_key(c) for c in args.clients]
    if args.as_of_range:
        return 0 if run_retrospective(settings, clients, args.as_of_range, args.every_days) else 1
    return 0 if run_clients(settings, clients, args.as_of) else 1


def run_retrospective(settings: Settings, clients: list[str], as_of_range: str, every_days: int) -> bool:
    """One run per client and origin over ``START:END`` (oldest first): the forecasts the clients
    would have had, each scored against what happened after it (``fct_forecast_accuracy``).
    The runs are tagged retrospective: the marts keep serving the clients' latest other run."""
    from forecast_assets.core.running.retrospective import as_of_dates, parse_as_of_range

    start, end = parse_as_of_range(as_of_range)
    ok = True
    for day in as_of_dates(start, end, every_days):
        print(f"== origin as_of={day}", flush=True)
        ok &= run_clients(settings, clients, day.isoformat(), retrospective=True)
    return ok


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from forecast_assets.demo.tiny_chronos import save_tiny_chronos2

    path = save_tiny_chronos2(Path(args.directory))
    print(f"random-weight Chronos-2 saved to {path} (meaningless forecasts; for testing the code path)")
    return 0


def cmd_grant_consumers(args: argparse.Namespace) -> int:
    """Roles for SQL consumers on a Postgres warehouse: each sees its own client's mart rows only."""
    from forecast_assets import tenancy

    settings = Settings.from_env()
    if settings.warehouse_backend != "postgres":
        print("grant-consumers needs a Postgres WAREHOUSE_URL (DuckDB has no roles)", file=sys.stderr)
        return 2
    url, group = settings.warehouse_url, settings.consumer_group_role
    secured = tenancy.secure_marts(url, group)
    clients = [validate_client_key(c) for c in args.clients] or tenancy.clients_in_marts(url)
    for client in clients:
        password = None
        if args.login:
            variable = f"CONSUMER_PASSWORD_{client.upper()}"
            password = os.environ.get(variable, "")
            if not password:
                print(f"--login: set {variable} to the role's password", file=sys.stderr)
                return 2
        try:
            role = tenancy.grant_client(url, client, group, settings.consumer_role_prefix, password)
        except ValueError as refused:  # e.g. the role is mapped to another client: never remapped
            print(f"{client}: {refused}", file=sys.stderr)
            return 2
        print(f"{client}: role {role} ({'login' if password else 'nologin'}), member of {group}")
    print(f"row-level security on: {', '.join(secured) or 'no marts yet (re-run after the first build)'}")
    return 0


# Statement kinds ``query`` runs: reads only. DuckDB's parser names them for either backend.
READ_STATEMENT_TYPES = ("SELECT", "EXPLAIN")


def read_statement(text: str) -> str:
    """``text`` if it is exactly one read statement, else ValueError saying why.

    DuckDB's parser (Postgres' grammar) splits and classifies the text for both backends, so a
    write, or a second statement after a ``;`` (``select 1; commit; drop ...``), is refused before
    anything runs; the read-only connection or transaction is the second guard.
    """
    import duckdb

    with duckdb.connect() as con:
        try:
            statements = con.extract_statements(text)
        except duckdb.Error as exc:
            raise ValueError(f"cannot parse the statement: {exc}") from exc
    if len(statements) != 1:
        raise ValueError(f"query runs one statement, got {len(statements)}")
    kind = statements[0].type.name
    if kind not in READ_STATEMENT_TYPES:
        raise ValueError(f"query only reads (select, explain): refused a {kind} statement")
    return text


def query_warehouse(warehouse_url: str, text: str) -> "pl.DataFrame":
    """The result of one read statement as a polars frame: the DuckDB file opened read-only, or a
    read-only Postgres transaction that is rolled back whatever happens."""
    import polars as pl

    from forecast_assets.urls import duckdb_file, warehouse_backend

    statement = read_statement(text)
    if warehouse_backend(warehouse_url) == "duckdb":
        from forecast_assets.resources.duckdb_lock import connect_duckdb

        path = duckdb_file(warehouse_url)
        if path is None or not path.is_file():
            raise FileNotFoundError(f"no DuckDB warehouse at {path}: run `forecast-assets demo` first")
        con = connect_duckdb(path, read_only=True)
        try:
            return pl.from_arrow(con.sql(statement).to_arrow_table())
        finally:
            con.close()
    from forecast_assets.resources import warehouse_postgres as pg

    with pg.connect(warehouse_url) as con:
        con.set_session(readonly=True)
        try:
            with con.cursor() as cur:
                cur.execute(statement)
                return pg.frame_from_cursor(cur)
        finally:
            con.rollback()


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb
    import polars as pl
    import psycopg2

    settings = Settings.from_env()
    try:
        frame = query_warehouse(settings.warehouse_url, args.sql)
    except (ValueError, FileNotFoundError) as exc:
        print(f"query: {exc}", file=sys.stderr)
        return 2
    except (duckdb.Error, psycopg2.Error) as exc:
        print(f"query failed: {str(exc).strip()}", file=sys.stderr)
        return 1
    if args.csv:
        sys.stdout.write(frame.write_csv())
    else:
        with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=120, tbl_width_chars=1000):
            print(frame)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="forecast-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write demo landing files and run the whole flow for the demo clients")
    demo.add_argument("--as-of", help="forecast origin YYYY-MM-DD (default: last date with data)")
    demo.set_defaults(func=cmd_demo)
    run = sub.add_parser("run", help="run the whole flow for clients whose landing folders exist")
    run.add_argument("clients", nargs="+", help="client keys (folders under LANDING_DIR)")
    origin = run.add_mutually_exclusive_group()
    origin.add_argument("--as-of", help="forecast origin YYYY-MM-DD (default: last date with data)")
    origin.add_argument(
        "--as-of-range",
        metavar="START:END",
        help="retrospective forecasts: one run per origin from START to END (YYYY-MM-DD:YYYY-MM-DD)",
    )
    run.add_argument("--every-days", type=int, default=7, help="days between origins of --as-of-range")
    run.set_defaults(func=cmd_run)
    tiny = sub.add_parser("tiny-model", help="save a small random-weight Chronos-2 to DIRECTORY (for tests)")
    tiny.add_argument("directory")
    tiny.set_defaults(func=cmd_tiny_model)
    grant = sub.add_parser(
        "grant-consumers",
        help="Postgres: a role per client (client_<key>) that reads only its client's rows of the marts",
    )
    grant.add_argument("clients", nargs="*", help="client keys (default: every client in the marts)")
    grant.add_argument(
        "--login",
        action="store_true",
        help="let the roles log in, with the password in CONSUMER_PASSWORD_<CLIENT> (upper-case key)",
    )
    grant.set_defaults(func=cmd_grant_consumers)
    query = sub.add_parser(
        "query",
        help="run one read-only SQL statement (select or explain) against the warehouse (WAREHOUSE_URL) "
        "and print the result",
    )
    query.add_argument(
        "sql", metavar="SQL", help='e.g. "select * from analytics.fct_demand_forecast limit 5"'
    )
    query.add_argument("--csv", action="store_true", help="print CSV (with a header row) instead of a table")
    query.set_defaults(func=cmd_query)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
