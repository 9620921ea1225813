"""One settings object, read from the environment (``.env`` is loaded by ``dagster dev``).

Every knob a deployment turns lives here so that assets, resources and the CLI agree on it.
Nothing sensitive is logged: :meth:`Settings.redacted` masks credentials in URLs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
from forecast_assets.urls import duckdb_file, sqlalchemy_url, warehouse_backend

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _env_number(name: str, default: float, cast: type = float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _env_pair(name: str, default: tuple[float, float]) -> tuple[float, float]:
    """Two comma-separated numbers (class cut-offs such as ``0.8,0.95``)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        a, b = (float(part) for part in raw.split(","))
    except ValueError as exc:
        raise ValueError(f"{name} must be two comma-separated numbers, got {raw!r}") from exc
    return a, b


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with :meth:`from_env`."""

    home: Path
    landing_dir: Path
    warehouse_url: str
    mlflow_tracking_uri: str
    chronos_model_id: str = "amazon/chronos-2"
    chronos_device: str = "auto"
    chronos_dtype: str = "float32"
    chronos_batch_size: int = 256
    chronos_context_length: int = 512
    chronos_required: bool = False
    chronos_cross_learning: bool = False
    chronos_chunk_items: int = 1024
    baseline_n_jobs: int = 1
    backtest_windows: int = 3
    backtest_step_days: int = 7
    champion_metric: str = "mae"
    champion_margin: float = 0.05
    champion_scope: str = "client"
    drift_recent_days: int = 28
    plot_top_items: int = 6
    horizon: int = 28
    quantiles: tuple[float, ...] = field(default=DEFAULT_QUANTILES)
    service_level: float = 0.95
    review_period_days: int = 7
    safety_stock_method: str = "sigma"
    abc_cutoffs: tuple[float, float] = (0.8, 0.95)
    xyz_cutoffs: tuple[float, float] = (0.5, 1.0)
    min_history_days: int = 14
    holiday_country: str = "US"
    # Where new MLflow experiments keep artifacts; empty: beside a SQLite tracking file, under
    # FORECAST_HOME for a database tracking store, the server's choice for an http(s) one.
    mlflow_artifact_root: str = ""
    # Postgres consumers (forecast-assets grant-consumers): the group role every client role joins,
    # and the prefix of the client roles (client_<key>).
    consumer_group_role: str = "forecast_consumer"
    consumer_role_prefix: str = "client_"
    # How a run's steps execute: in_process (DuckDB), multiprocess or k8s (defs/executors.py).
    executor: str = "in_process"
    # Running itself: the daily schedule, the landing sensor, forecast freshness, failure alerts.
    schedule_time: str = "05:00"
    schedule_timezone: str = "UTC"
    landing_sensor_interval_seconds: int = 30
    landing_settle_seconds: int = 10
    forecast_max_age_hours: float = 36.0
    # The URL is the credential (chat webhooks carry their token in the path): environment only,
    # kept out of repr() and masked by redacted().
    failure_webhook_url: str = field(default="", repr=False)

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("FORECAST_HOME", str(REPO_ROOT / "var"))).resolve()
        quantiles = tuple(
            float(q) for q in _env("FORECAST_QUANTILES", ",".join(map(str, DEFAULT_QUANTILES))).split(",")
        )
        if any(not 0 < q < 1 for q in quantiles) or list(quantiles) != sorted(set(quantiles)):
            raise ValueError(f"FORECAST_QUANTILES must be increasing values in (0, 1), got {quantiles}")
        if 0.5 not in quantiles:
            raise ValueError("FORECAST_QUANTILES must include the median 0.5")
        settings = cls(
            home=home,
            landing_dir=Path(_env("LANDING_DIR", str(home / "landing"))).resolve(),
            warehouse_url=_env("WAREHOUSE_URL", f"duckdb:///{home / 'warehouse.duckdb'}"),
            mlflow_tracking_uri=sqlalchemy_url(
                _env("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
            ),
            mlflow_artifact_root=_env("MLFLOW_ARTIFACT_ROOT", ""),
            consumer_group_role=_env("CONSUMER_GROUP_ROLE", "forecast_consumer"),
            consumer_role_prefix=_env("CONSUMER_ROLE_PREFIX", "client_"),
            executor=_env("FORECAST_EXECUTOR", "in_process").lower(),
            chronos_model_id=_env("CHRONOS_MODEL_ID", "amazon/chronos-2"),
            chronos_device=_env("CHRONOS_DEVICE", "auto"),
            chronos_dtype=_env("CHRONOS_DTYPE", "float32"),
            chronos_batch_size=int(_env_number("CHRONOS_BATCH_SIZE", 256, int)),
            chronos_context_length=int(_env_number("CHRONOS_CONTEXT_LENGTH", 512, int)),
            chronos_required=_env_bool("CHRONOS_REQUIRED", False),
            chronos_cross_learning=_env_bool("CHRONOS_CROSS_LEARNING", False),
            chronos_chunk_items=int(_env_number("CHRONOS_CHUNK_ITEMS", 1024, int)),
            baseline_n_jobs=int(_env_number("BASELINE_N_JOBS", 1, int)),
            backtest_windows=int(_env_number("BACKTEST_WINDOWS", 3, int)),
            backtest_step_days=int(_env_number("BACKTEST_STEP_DAYS", 7, int)),
            champion_metric=_env("CHAMPION_METRIC", "mae").lower(),
            champion_margin=float(_env_number("CHAMPION_MARGIN", 0.05)),
            champion_scope=_env("CHAMPION_SCOPE", "client").lower(),
            drift_recent_days=int(_env_number("DRIFT_RECENT_DAYS", 28, int)),
            plot_top_items=int(_env_number("PLOT_TOP_ITEMS", 6, int)),
            horizon=int(_env_number("FORECAST_HORIZON", 28, int)),
            quantiles=quantiles,
            service_level=float(_env_number("SERVICE_LEVEL", 0.95)),
            review_period_days=int(_env_number("REVIEW_PERIOD_DAYS", 7, int)),
            safety_stock_method=_env("SAFETY_STOCK_METHOD", "sigma").lower(),
            abc_cutoffs=_env_pair("ABC_CUTOFFS", (0.8, 0.95)),
            xyz_cutoffs=_env_pair("XYZ_CUTOFFS", (0.5, 1.0)),
            min_history_days=int(_env_number("MIN_HISTORY_DAYS", 14, int)),
            holiday_country=_env("HOLIDAY_COUNTRY", "US"),
            schedule_time=_env("SCHEDULE_TIME", "05:00"),
            schedule_timezone=_env("SCHEDULE_TIMEZONE", "UTC"),
            landing_sensor_interval_seconds=int(_env_number("LANDING_SENSOR_INTERVAL_SECONDS", 30, int)),
            landing_settle_seconds=int(_env_number("LANDING_SETTLE_SECONDS", 10, int)),
            forecast_max_age_hours=float(_env_number("FORECAST_MAX_AGE_HOURS", 36.0)),
            failure_webhook_url=_env("FAILURE_WEBHOOK_URL", ""),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.chronos_device not in {"auto", "cpu", "cuda"}:
            raise ValueError(f"CHRONOS_DEVICE must be auto, cpu or cuda, got {self.chronos_device!r}")
        if self.chronos_dtype not in {"float32", "bfloat16"}:
            raise ValueError(f"CHRONOS_DTYPE must be float32 or bfloat16, got {self.chronos_dtype!r}")
        if not 1 <= self.horizon <= 366:
            raise ValueError(f"FORECAST_HORIZON must be between 1 and 366, got {self.horizon}")
        for name, value in (
            ("CHRONOS_BATCH_SIZE", self.chronos_batch_size),
            ("CHRONOS_CHUNK_ITEMS", self.chronos_chunk_items),
            ("BACKTEST_WINDOWS", self.backtest_windows),
            ("BACKTEST_STEP_DAYS", self.backtest_step_days),
            ("MIN_HISTORY_DAYS", self.min_history_days),
            ("DRIFT_RECENT_DAYS", self.drift_recent_days),
            ("PLOT_TOP_ITEMS", self.plot_top_items),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.champion_metric not in {"mae", "rmse", "wape", "mape", "smape", "mase", "wql", "sql"}:
            raise ValueError(
                f"CHAMPION_METRIC must be a lower-is-better metric, got {self.champion_metric!r}"
            )
        if self.champion_scope not in {"client", "item"}:
            raise ValueError(f"CHAMPION_SCOPE must be client or item, got {self.champion_scope!r}")
        if not 0 <= self.champion_margin < 1:
            raise ValueError(f"CHAMPION_MARGIN must be in [0, 1), got {self.champion_margin}")
        if not 0.5 <= self.service_level < 1:
            raise ValueError(f"SERVICE_LEVEL must be in [0.5, 1), got {self.service_level}")
        if self.safety_stock_method not in {"sigma", "quantile"}:
            raise ValueError(
                f"SAFETY_STOCK_METHOD must be sigma or quantile, got {self.safety_stock_method!r}"
            )
        a, b = self.abc_cutoffs
        if not 0 < a < b <= 1:
            raise ValueError(f"ABC_CUTOFFS must be two increasing revenue shares in (0, 1], got {a},{b}")
        x, y = self.xyz_cutoffs
        if not 0 < x < y:
            raise ValueError(f"XYZ_CUTOFFS must be two increasing positive CVs, got {x},{y}")
        self._validate_running()

    def _validate_running(self) -> None:
        """The knobs of the sensors, schedule and alerts (checked at load, not at the first tick)."""
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.schedule_time):
            raise ValueError(f"SCHEDULE_TIME must be HH:MM (24 h), got {self.schedule_time!r}")
        try:
            ZoneInfo(self.schedule_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"SCHEDULE_TIMEZONE is not a known time zone: {self.schedule_timezone!r}"
            ) from exc
        if self.landing_sensor_interval_seconds < 1 or self.landing_settle_seconds < 0:
            raise ValueError("LANDING_SENSOR_INTERVAL_SECONDS must be >= 1 and LANDING_SETTLE_SECONDS >= 0")
        if self.forecast_max_age_hours <= 0:
            raise ValueError(f"FORECAST_MAX_AGE_HOURS must be positive, got {self.forecast_max_age_hours}")
        if self.failure_webhook_url and not re.match(r"https?://[^/\s]+", self.failure_webhook_url):
            shown = redact_webhook_url(self.failure_webhook_url)
            raise ValueError(f"FAILURE_WEBHOOK_URL must be an http(s) URL, got {shown}")

    @property
    def schedule_cron(self) -> str:
        """``SCHEDULE_TIME`` as a daily cron expression (``05:00`` -> ``0 5 * * *``)."""
        hour, minute = (int(part) for part in self.schedule_time.split(":"))
        return f"{minute} {hour} * * *"

    @property
    def duckdb_path(self) -> Path | None:
        """The DuckDB file behind ``warehouse_url``, or None for another backend."""
        return duckdb_file(self.warehouse_url)

    @property
    def warehouse_backend(self) -> str:
        """``duckdb`` or ``postgres``: the one switch is the scheme of ``WAREHOUSE_URL``."""
        return warehouse_backend(self.warehouse_url)

    @property
    def dbt_target(self) -> str:
        """The profiles.yml output dbt builds: the warehouse's backend."""
        return self.warehouse_backend

    @property
    def mlflow_artifact_location(self) -> str | None:
        """Artifact location for new MLflow experiments, always explicit for a database store.

        A database tracking store would otherwise put artifacts under ``./mlruns`` of whatever
        directory the process runs in; an MLflow server (http) decides itself, so None.
        """
        uri = self.mlflow_tracking_uri
        if self.mlflow_artifact_root:
            return self.mlflow_artifact_root
        if uri.startswith("sqlite:///"):
            return (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
        if uri.split("://", 1)[0] in {"http", "https", "databricks", "file"} or "://" not in uri:
            return None
        return (self.home / "mlartifacts").as_uri()

    def redacted(self) -> dict[str, str]:
        """Settings as strings with passwords in URLs masked, safe to log or attach as metadata."""
        values = {f.name: redact_url(str(getattr(self, f.name))) for f in fields(self)}
        values["failure_webhook_url"] = redact_webhook_url(self.failure_webhook_url)
        return values


def redact_url(value: str) -> str:
    """Mask the password part of ``scheme://user:password@host`` URLs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", value)


def redact_webhook_url(value: str) -> str:
    """Only scheme and host of a webhook URL: its path and query usually are the secret token."""
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^@/]*@)?([^/?#]*)", value)
    if not value:
        return ""
    return f"{match.group(1)}{match.group(2)}/***" if match else "***"

