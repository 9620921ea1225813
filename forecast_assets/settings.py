"""One settings object, read from the environment (``.env`` is loaded by ``dagster dev``).

Every knob a deployment turns lives here so that assets, resources and the CLI agree on it.
Each field is declared once with :func:`_setting`: its default, its environment variable and the
parser of that variable's text, so :meth:`Settings.from_env` is one loop and no default is
written twice (the resources in :mod:`forecast_assets.resources` take their values from here).
Nothing sensitive is logged: :meth:`Settings.redacted` masks credentials in URLs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forecast_assets.core.classification import DEFAULT_ABC_CUTOFFS, DEFAULT_XYZ_CUTOFFS
from forecast_assets.core.forecasting.baselines import HISTORY_DAYS as BASELINE_HISTORY_DAYS
from forecast_assets.core.forecasting.calendar import check_holiday_country
from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
from forecast_assets.core.forecasting.global_model import CALIBRATION_DAYS as GLOBAL_CALIBRATION_DAYS
from forecast_assets.core.forecasting.global_model import N_JOBS as GLOBAL_N_JOBS
from forecast_assets.core.forecasting.global_model import SLICE_ITEMS as GLOBAL_SLICE_ITEMS
from forecast_assets.core.forecasting.global_model import TRAINING as GLOBAL_TRAINING
from forecast_assets.core.forecasting.global_model import TRAININGS as GLOBAL_TRAININGS
from forecast_assets.urls import duckdb_file, sqlalchemy_url, warehouse_backend

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

# A parser turns the stripped, non-empty text of an environment variable into the field's value;
# it gets the variable's name for its error message.
Parser = Callable[[str, str], Any]


def _text(name: str, raw: str) -> str:
    return raw


def _lower(name: str, raw: str) -> str:
    return raw.lower()


def _path(name: str, raw: str) -> Path:
    return Path(raw).resolve()


def _url(name: str, raw: str) -> str:
    return sqlalchemy_url(raw)


def _bool(name: str, raw: str) -> bool:
    value = raw.lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _number(cast: type) -> Parser:
    def parse(name: str, raw: str) -> Any:
        try:
            return cast(raw)
        except ValueError as exc:
            raise ValueError(f"{name} must be a number, got {raw!r}") from exc

    return parse


_int = _number(int)
_float = _number(float)


def _pair(name: str, raw: str) -> tuple[float, float]:
    """Two comma-separated numbers (class cut-offs such as ``0.8,0.95``)."""
    try:
        a, b = (float(part) for part in raw.split(","))
    except ValueError as exc:
        raise ValueError(f"{name} must be two comma-separated numbers, got {raw!r}") from exc
    return a, b


def _iso_date(name: str, raw: str) -> str:
    """A calendar date written exactly YYYY-MM-DD (kept as text: resources take it as config)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            pass
    raise ValueError(f"{name} must be a date YYYY-MM-DD, got {raw!r}")


def _numbers(name: str, raw: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in raw.split(","))
    except ValueError as exc:
        raise ValueError(f"{name} must be comma-separated numbers, got {raw!r}") from exc


def _names(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated names (model names such as ``auto_ets,auto_theta``), blanks dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _source(env: str, parse: Parser = _text) -> dict[str, Any]:
    """Field metadata: the environment variable and the parser of its text."""
    return {"env": env, "parse": parse}


def _setting(default: Any, env: str, parse: Parser = _text, **kwargs: Any) -> Any:
    """A settings field with its environment variable and parser beside its one default."""
    return field(default=default, metadata=_source(env, parse), **kwargs)


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with :meth:`from_env`."""

    # Required when built directly (tests, benchmarks); from_env defaults them under FORECAST_HOME.
    home: Path = field(metadata=_source("FORECAST_HOME", _path))
    landing_dir: Path = field(metadata=_source("LANDING_DIR", _path))
    warehouse_url: str = field(metadata=_source("WAREHOUSE_URL"))
    mlflow_tracking_uri: str = field(metadata=_source("MLFLOW_TRACKING_URI", _url))
    chronos_model_id: str = _setting("amazon/chronos-2", "CHRONOS_MODEL_ID")
    chronos_device: str = _setting("auto", "CHRONOS_DEVICE")
    chronos_dtype: str = _setting("float32", "CHRONOS_DTYPE")
    chronos_batch_size: int = _setting(256, "CHRONOS_BATCH_SIZE", _int)
    chronos_context_length: int = _setting(512, "CHRONOS_CONTEXT_LENGTH", _int)
    chronos_required: bool = _setting(False, "CHRONOS_REQUIRED", _bool)
    chronos_cross_learning: bool = _setting(False, "CHRONOS_CROSS_LEARNING", _bool)
    chronos_chunk_items: int = _setting(1024, "CHRONOS_CHUNK_ITEMS", _int)
    baseline_n_jobs: int = _setting(-1, "BASELINE_N_JOBS", _int)  # -1: every core
    # Days of each item the statsforecast baselines read (0: all); core/forecasting/baselines.py.
    baseline_history_days: int = _setting(BASELINE_HISTORY_DAYS, "BASELINE_HISTORY_DAYS", _int)
    # Where the baselines and the global model fit: empty, this machine (BASELINE_N_JOBS local
    # processes, GLOBAL_MODEL_N_JOBS LightGBM threads); "local", a Ray cluster started on this
    # machine for the step; "ray://head:10001", that (KubeRay) Ray cluster.
    ray_address: str = _setting("", "RAY_ADDRESS")
    backtest_windows: int = _setting(3, "BACKTEST_WINDOWS", _int)
    # The global LightGBM models (core/forecasting/global_model.py) and the fixed-member ensembles.
    global_model_enabled: bool = _setting(True, "GLOBAL_MODEL_ENABLED", _bool)
    global_model_rounds: int = _setting(300, "GLOBAL_MODEL_ROUNDS", _int)
    global_model_conformal_windows: int = _setting(8, "GLOBAL_MODEL_CONFORMAL_WINDOWS", _int)
    global_model_history_days: int = _setting(730, "GLOBAL_MODEL_HISTORY_DAYS", _int)
    global_model_n_jobs: int = _setting(GLOBAL_N_JOBS, "GLOBAL_MODEL_N_JOBS", _int)  # -1: all (Ray: 1/task)
    # Items per LightGBM fit: a client with more is fitted in slices of related items (same
    # category together), so memory is bounded by a slice and cost grows linearly with items.
    global_model_slice_items: int = _setting(GLOBAL_SLICE_ITEMS, "GLOBAL_MODEL_SLICE_ITEMS", _int)
    # Days between conformal calibrations (on a fixed grid): an origin uses the last grid day's
    # before it, stored in ml.global_calibration, so a daily refresh fits each member once and one
    # run a week calibrates. 1: every origin, at the origin.
    global_model_calibration_days: int = _setting(
        GLOBAL_CALIBRATION_DAYS, "GLOBAL_MODEL_CALIBRATION_DAYS", _int
    )
    # Where the members are trained: at each origin, or on the calibration's grid day ("grid":
    # stored in ml.global_members, so the week's later runs train nothing; a little less accurate).
    global_model_training: str = _setting(GLOBAL_TRAINING, "GLOBAL_MODEL_TRAINING", _lower)
    ensemble_members: tuple[str, ...] = _setting(
        ("auto_ets", "auto_theta", "lightgbm", "lightgbm_log", "chronos-2"), "ENSEMBLE_MEMBERS", _names
    )
    backtest_step_days: int = _setting(7, "BACKTEST_STEP_DAYS", _int)
    # A forecast write deletes the client's backtest rows of an as_of this many days older (0: none).
    backtest_retention_days: int = _setting(90, "BACKTEST_RETENTION_DAYS", _int)
    champion_metric: str = _setting("sql", "CHAMPION_METRIC", _lower)
    champion_margin: float = _setting(0.05, "CHAMPION_MARGIN", _float)
    champion_scope: str = _setting("client", "CHAMPION_SCOPE", _lower)
    drift_recent_days: int = _setting(28, "DRIFT_RECENT_DAYS", _int)
    plot_top_items: int = _setting(6, "PLOT_TOP_ITEMS", _int)
    horizon: int = _setting(28, "FORECAST_HORIZON", _int)
    quantiles: tuple[float, ...] = _setting(DEFAULT_QUANTILES, "FORECAST_QUANTILES", _numbers)
    service_level: float = _setting(0.95, "SERVICE_LEVEL", _float)
    review_period_days: int = _setting(7, "REVIEW_PERIOD_DAYS", _int)
    # "sigma" (the champion's backtest errors) or "quantile" (its forecast quantiles).
    safety_stock_method: str = _setting("sigma", "SAFETY_STOCK_METHOD", _lower)
    # Cumulative revenue shares (A, B) and weekly demand CVs (X, Y): the core's defaults.
    abc_cutoffs: tuple[float, float] = _setting(DEFAULT_ABC_CUTOFFS, "ABC_CUTOFFS", _pair)
    xyz_cutoffs: tuple[float, float] = _setting(DEFAULT_XYZ_CUTOFFS, "XYZ_CUTOFFS", _pair)
    min_history_days: int = _setting(14, "MIN_HISTORY_DAYS", _int)
    holiday_country: str = _setting("US", "HOLIDAY_COUNTRY")
    # Where new MLflow experiments keep artifacts; empty: beside a SQLite tracking file, under
    # FORECAST_HOME for a database tracking store, the server's choice for an http(s) one.
    mlflow_artifact_root: str = _setting("", "MLFLOW_ARTIFACT_ROOT")
    # Postgres consumers (forecast-assets grant-consumers): the group role every client role joins,
    # and the prefix of the client roles (client_<key>).
    consumer_group_role: str = _setting("forecast_consumer", "CONSUMER_GROUP_ROLE")
    consumer_role_prefix: str = _setting("client_", "CONSUMER_ROLE_PREFIX")
    # How a run's steps execute: in_process (DuckDB), multiprocess or k8s (defs/executors.py).
    executor: str = _setting("in_process", "FORECAST_EXECUTOR", _lower)
    # Running itself: the daily schedule, the landing sensor, forecast freshness, failure alerts.
    schedule_time: str = _setting("05:00", "SCHEDULE_TIME")
    schedule_timezone: str = _setting("UTC", "SCHEDULE_TIMEZONE")
    landing_sensor_interval_seconds: int = _setting(30, "LANDING_SENSOR_INTERVAL_SECONDS", _int)
    landing_settle_seconds: int = _setting(10, "LANDING_SETTLE_SECONDS", _int)
    # Bytes of landing files one sensor look may hash (rotating over clients; at least one file).
    landing_hash_mb_per_tick: int = _setting(1024, "LANDING_HASH_MB_PER_TICK", _int)
    # Landing: a file past this size refuses the delivery; dates before this one reject their row; a
    # delivery accepting fewer sales rows than this share of the stored ones fails unless accepted.
    landing_max_file_mb: float = _setting(2048.0, "LANDING_MAX_FILE_MB", _float)
    earliest_date: str = _setting("2000-01-01", "EARLIEST_DATE", _iso_date)
    delivery_min_share: float = _setting(0.5, "DELIVERY_MIN_SHARE", _float)
    forecast_max_age_hours: float = _setting(36.0, "FORECAST_MAX_AGE_HOURS", _float)
    # The URL is the credential (chat webhooks carry their token in the path): environment only,
    # kept out of repr() and masked by redacted().
    failure_webhook_url: str = _setting("", "FAILURE_WEBHOOK_URL", repr=False)

    @classmethod
    def from_env(cls) -> Settings:
        """Every field from its environment variable, else its default (home-relative for the
        storage locations), then :meth:`validate`."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            name, parse = f.metadata["env"], f.metadata["parse"]
            raw = os.environ.get(name, "").strip()
            if not raw and f.name in _HOME_DEFAULTS:
                raw = _HOME_DEFAULTS[f.name](values.get("home"))
            if raw:
                values[f.name] = parse(name, raw)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.chronos_device not in {"auto", "cpu", "cuda"}:
            raise ValueError(f"CHRONOS_DEVICE must be auto, cpu or cuda, got {self.chronos_device!r}")
        if self.chronos_dtype not in {"float32", "bfloat16"}:
            raise ValueError(f"CHRONOS_DTYPE must be float32 or bfloat16, got {self.chronos_dtype!r}")
        if not 1 <= self.horizon <= 366:
            raise ValueError(f"FORECAST_HORIZON must be between 1 and 366, got {self.horizon}")
        quantiles = self.quantiles
        if any(not 0 < q < 1 for q in quantiles) or list(quantiles) != sorted(set(quantiles)):
            raise ValueError(f"FORECAST_QUANTILES must be increasing values in (0, 1), got {quantiles}")
        if 0.5 not in quantiles:
            raise ValueError("FORECAST_QUANTILES must include the median 0.5")
        for name, value in (
            ("CHRONOS_BATCH_SIZE", self.chronos_batch_size),
            ("CHRONOS_CHUNK_ITEMS", self.chronos_chunk_items),
            ("BACKTEST_WINDOWS", self.backtest_windows),
            ("BACKTEST_STEP_DAYS", self.backtest_step_days),
            ("MIN_HISTORY_DAYS", self.min_history_days),
            ("DRIFT_RECENT_DAYS", self.drift_recent_days),
            ("PLOT_TOP_ITEMS", self.plot_top_items),
            ("GLOBAL_MODEL_ROUNDS", self.global_model_rounds),
            ("GLOBAL_MODEL_CONFORMAL_WINDOWS", self.global_model_conformal_windows),
            ("GLOBAL_MODEL_HISTORY_DAYS", self.global_model_history_days),
            ("GLOBAL_MODEL_SLICE_ITEMS", self.global_model_slice_items),
            ("GLOBAL_MODEL_CALIBRATION_DAYS", self.global_model_calibration_days),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.baseline_history_days != 0 and self.baseline_history_days < 2 * self.horizon + 7:
            raise ValueError(
                f"BASELINE_HISTORY_DAYS must be 0 (all) or at least 2 x FORECAST_HORIZON + 7 "
                f"({2 * self.horizon + 7}: the moving average's calibration windows), "
                f"got {self.baseline_history_days}"
            )
        self._validate_scale()
        if self.champion_metric not in {"mae", "rmse", "wape", "mape", "smape", "mase", "wql", "sql"}:
            raise ValueError(
                f"CHAMPION_METRIC must be a lower-is-better metric, got {self.champion_metric!r}"
            )
        if self.global_model_training not in GLOBAL_TRAININGS:
            raise ValueError(
                f"GLOBAL_MODEL_TRAINING must be one of {', '.join(GLOBAL_TRAININGS)}, "
                f"got {self.global_model_training!r}"
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
        check_holiday_country(self.holiday_country)
        self._validate_running()

    def _validate_scale(self) -> None:
        """Where and how widely the model fits run, and how long backtest rows are kept."""
        for name, value in (
            ("BASELINE_N_JOBS", self.baseline_n_jobs),
            ("GLOBAL_MODEL_N_JOBS", self.global_model_n_jobs),
        ):
            if value == 0 or value < -1:
                raise ValueError(f"{name} must be -1 (every core) or at least 1, got {value}")
        if self.ray_address and not re.fullmatch(
            r"local|auto|(ray://)?[A-Za-z0-9.\-]+:\d+", self.ray_address
        ):
            raise ValueError(
                f"RAY_ADDRESS must be empty, local, auto or [ray://]host:port, got {self.ray_address!r}"
            )
        if self.backtest_retention_days < 0:
            raise ValueError(
                f"BACKTEST_RETENTION_DAYS must be 0 (keep all) or more, got {self.backtest_retention_days}"
            )

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
        if self.landing_hash_mb_per_tick < 1:
            raise ValueError(f"LANDING_HASH_MB_PER_TICK must be >= 1, got {self.landing_hash_mb_per_tick}")
        if self.landing_max_file_mb <= 0:
            raise ValueError(f"LANDING_MAX_FILE_MB must be positive, got {self.landing_max_file_mb}")
        if not 0 <= self.delivery_min_share <= 1:
            raise ValueError(f"DELIVERY_MIN_SHARE must be in [0, 1], got {self.delivery_min_share}")
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


# The storage locations default under FORECAST_HOME (the value of ``home`` read just before them).
_HOME_DEFAULTS: dict[str, Callable[[Path | None], str]] = {
    "home": lambda _: str(REPO_ROOT / "var"),
    "landing_dir": lambda home: str(home / "landing"),
    "warehouse_url": lambda home: f"duckdb:///{home / 'warehouse.duckdb'}",
    "mlflow_tracking_uri": lambda home: f"sqlite:///{home / 'mlflow.db'}",
}


def redact_url(value: str) -> str:
    """Mask the password part of ``scheme://user:password@host`` URLs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", value)


def redact_webhook_url(value: str) -> str:
    """Only scheme and host of a webhook URL: its path and query usually are the secret token."""
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^@/]*@)?([^/?#]*)", value)
    if not value:
        return ""
    return f"{match.group(1)}{match.group(2)}/***" if match else "***"
