"""Command line: ``forecast-assets demo`` runs the whole flow for the demo clients.

Everything lives under FORECAST_HOME (default ``./var``): landing files, the DuckDB warehouse,
the Dagster instance (SQLite) and MLflow tracking, so the demo needs nothing started by hand.
With ``WAREHOUSE_URL``, ``MLFLOW_TRACKING_URI`` and ``DAGSTER_PG_HOST`` (and the other
``DAGSTER_PG_*``) pointing at Postgres, the same commands run on Postgres.
"""

import argparse
import os
import sys
from pathlib import Path

from forecast_assets.core.clients import validate_client_key
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.settings import REPO_ROOT, Settings

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


def run_clients(settings: Settings, clients: list[str], as_of: str | None = None) -> bool:
    """Register the clients as partitions and run the whole job for each; True if all succeeded."""
    from forecast_assets.definitions import defs

    instance = _instance(settings)
    instance.add_dynamic_partitions(clients_partitions.name, clients)
    job = defs.resolve_job_def("forecast_client")
    run_config = None
    if as_of:
        cfg = {"config": {"as_of": as_of}}
        run_config = {
            "ops": {
                name: cfg
                for name in (
                    "chronos_forecast",
                    "baseline_forecast",
                    "forecast_evaluation",
                    "inventory_metrics",
                )
            }
        }
    ok = True
    for client in clients:
        print(f"== running client {client} ...", flush=True)
        result = job.execute_in_process(
            partition_key=client, instance=instance, run_config=run_config, raise_on_error=False
        )
        print(f"   {client}: {'success' if result.success else 'FAILED'} (run {result.run_id})", flush=True)
        ok &= result.success
    return ok


def cmd_demo(args: argparse.Namespace) -> int:
    from forecast_assets.demo.sample_data import write_demo_landing

    settings = Settings.from_env()
    clients = write_demo_landing(settings.landing_dir)
    print(f"demo landing files written to {settings.landing_dir}")
    ok = run_clients(settings, clients, args.as_of)
    shell = f"duckdb {settings.duckdb_path}" if settings.duckdb_path else "psql $WAREHOUSE_URL -c"
    print(f"""
Results
  warehouse ({settings.warehouse_backend}): {settings.duckdb_path or settings.redacted()["warehouse_url"]}
  MLflow tracking:    {settings.redacted()["mlflow_tracking_uri"]}   (mlflow ui --backend-store-uri ...)
  Dagster instance:   {os.environ["DAGSTER_HOME"]}   (dagster dev shows the runs)

Read the forecasts:
  {shell} "select client_id, item_id, forecast_date, model, forecast_units, q10, q90
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
    would have had, each scored against what happened after it (``fct_forecast_accuracy``)."""
    from forecast_assets.core.running.retrospective import as_of_dates, parse_as_of_range

    start, end = parse_as_of_range(as_of_range)
    ok = True
    for day in as_of_dates(start, end, every_days):
        print(f"== origin as_of={day}", flush=True)
        ok &= run_clients(settings, clients, day.isoformat())
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
        role = tenancy.grant_client(url, client, group, settings.consumer_role_prefix, password)
        print(f"{client}: role {role} ({'login' if password else 'nologin'}), member of {group}")
    print(f"row-level security on: {', '.join(secured) or 'no marts yet (re-run after the first build)'}")
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
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
