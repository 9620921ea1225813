"""Which executor runs the steps of a run: one setting (``FORECAST_EXECUTOR``) per deployment.

- ``in_process`` (default): every step in the run's process. The embedded DuckDB warehouse admits
  one writing process at a time, so this is the only choice there.
- ``multiprocess``: a process per step, on one machine (a Postgres warehouse).
- ``k8s``: ``k8s_job_executor``, a Kubernetes pod per step (a Postgres warehouse, the Helm chart's
  ``K8sRunLauncher``). The Chronos step's ``dagster-k8s/config`` op tags give its pod a GPU, a
  node selector and a toleration (``GPU_OP_TAGS`` in defs/forecasting.py); a cluster with other
  node labels overrides them per deployment with the executor's ``per_step_k8s_config``.
"""

from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

from forecast_assets.settings import Settings

EXECUTORS = ("in_process", "multiprocess", "k8s")


def run_executor(settings: Settings) -> ExecutorDefinition:
    """The executor for ``settings.executor``; several processes need a Postgres warehouse."""
    kind = settings.executor
    if kind not in EXECUTORS:
        raise ValueError(f"FORECAST_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if kind != "in_process" and settings.warehouse_backend == "duckdb":
        raise ValueError(
            f"FORECAST_EXECUTOR={kind} runs steps in several processes, but the DuckDB warehouse "
            "admits one writing process: set a Postgres WAREHOUSE_URL or use in_process"
        )
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    return multiprocess_executor if kind == "multiprocess" else in_process_executor
