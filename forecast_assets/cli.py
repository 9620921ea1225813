"""Command line: ``forecast-assets demo`` runs the whole flow for the demo clients.

Everything lives under FORECAST_HOME (default ``./var``): landing files, the DuckDB warehouse,
the Dagster instance (SQLite) and MLflow tracking, so the demo needs nothing started by hand.
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

from forecast_assets.clients import clients_partitions, validate_client_key
from forecast_assets.settings import REPO_ROOT, Settings


def _instance(settings: Settings):
    from dagster import DagsterInstance

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.home / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
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
    from forecast_assets.core.sample_data import write_demo_landing

    settings = Settings.from_env()
    clients = write_demo_landing(settings.landing_dir)
    print(f"demo landing files written to {settings.landing_dir}")
    ok = run_clients(settings, clients, args.as_of)
    print(f"""
Results
  warehouse (DuckDB): {settings.duckdb_path or settings.redacted()["warehouse_url"]}
  MLflow tracking:    {settings.redacted()["mlflow_tracking_uri"]}   (mlflow ui --backend-store-uri ...)
  Dagster instance:   {os.environ["DAGSTER_HOME"]}   (dagster dev shows the runs)

Read the forecasts:
  duckdb {settings.duckdb_path} "select client_id, item_id, forecast_date, model, forecast_units, q10, q90
      from analytics.fct_demand_forecast order by client_id, item_id, forecast_date limit 20"
""")
    return 0 if ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    clients = [validate_client_key(c) for c in args.clients]
    return 0 if run_clients(settings, clients, args.as_of) else 1


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from forecast_assets.core.tiny_chronos import save_tiny_chronos2

    path = save_tiny_chronos2(Path(args.directory))
    print(f"random-weight Chronos-2 saved to {path} (meaningless forecasts; for testing the code path)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="forecast-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write demo landing files and run the whole flow for the demo clients")
    demo.add_argument("--as-of", help="forecast origin YYYY-MM-DD (default: last date with data)")
    demo.set_defaults(func=cmd_demo)
    run = sub.add_parser("run", help="run the whole flow for clients whose landing folders exist")
    run.add_argument("clients", nargs="+", help="client keys (folders under LANDING_DIR)")
    run.add_argument("--as-of", help="forecast origin YYYY-MM-DD (default: last date with data)")
    run.set_defaults(func=cmd_run)
    tiny = sub.add_parser("tiny-model", help="save a small random-weight Chronos-2 to DIRECTORY (for tests)")
    tiny.add_argument("directory")
    tiny.set_defaults(func=cmd_tiny_model)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
