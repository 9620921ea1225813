"""Holidays for any country: the client's country's holidays reach its calendar, and a country
the holidays package does not know is refused when settings load, not silently left holiday-less."""

import datetime as dt

import polars as pl
import pytest

from forecast_assets.core.forecasting.calendar import (
    check_holiday_country,
    client_holidays,
    holiday_span,
    holiday_table,
)
from forecast_assets.core.landing.validation import ingest_client
from forecast_assets.resources.warehouse import TableWrite, Warehouse
from forecast_assets.settings import Settings

from .backends import BACKEND, SCRATCH, sql_rows
from .test_marts import dbt


@pytest.mark.parametrize(
    ("country", "day", "name"),
    [
        ("DE", dt.date(2025, 10, 3), "German Unity Day"),
        ("JP", dt.date(2025, 1, 1), "New Year's Day"),
        ("JP", dt.date(2025, 1, 13), "Coming of Age Day"),
        ("FR", dt.date(2025, 7, 14), "National Day"),
        ("GB", dt.date(2025, 12, 26), "Boxing Day"),
        ("US", dt.date(2026, 7, 3), "Independence Day (observed)"),  # the 4th is a Saturday
        ("DEU", dt.date(2025, 10, 3), "German Unity Day"),  # alpha-3 codes work too
    ],
)
def test_a_countrys_holidays_come_out_on_their_dates(country, day, name):
    table = holiday_table(country, dt.date(2025, 1, 1), dt.date(2026, 12, 31))
    assert table.schema == pl.Schema({"date": pl.Date, "name": pl.Utf8})
    assert dict(table.iter_rows())[day] == name


@pytest.mark.parametrize(
    ("country", "day"),
    [("DE", dt.date(2025, 7, 4)), ("US", dt.date(2025, 10, 3)), ("JP", dt.date(2025, 12, 25))],
)
def test_another_countrys_holiday_is_a_working_day(country, day):
    assert day not in holiday_table(country, dt.date(2025, 1, 1), dt.date(2025, 12, 31))["date"].to_list()


def test_the_table_holds_only_the_days_asked_for():
    table = holiday_table("DE", dt.date(2025, 10, 1), dt.date(2025, 12, 25))
    assert table["date"].to_list() == [dt.date(2025, 10, 3), dt.date(2025, 12, 25)]
    assert holiday_table("DE", dt.date(2025, 10, 4), dt.date(2025, 10, 3)).is_empty()


@pytest.mark.parametrize(
    ("country", "message"),
    [
        ("XX", r"HOLIDAY_COUNTRY 'XX' is not a country the holidays package knows\. Use an ISO 3166-1"),
        ("de", r"'de' .* Did you mean DE\?"),
        ("Germany", r"'Germany' .*holidays\.list_supported_countries\(\)"),
        ("", r"HOLIDAY_COUNTRY '' is not a country"),
    ],
)
def test_an_unknown_country_is_an_error_naming_it(country, message):
    with pytest.raises(ValueError, match=message):
        check_holiday_country(country)
    with pytest.raises(ValueError, match=message):
        holiday_table(country, dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def test_settings_refuse_an_unknown_holiday_country(tmp_path):
    def settings(country: str) -> Settings:
        return Settings(
            home=tmp_path,
            landing_dir=tmp_path / "landing",
            warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
            mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
            holiday_country=country,
        )

    settings("JP").validate()
    with pytest.raises(ValueError, match="HOLIDAY_COUNTRY 'ZZ'"):
        settings("ZZ").validate()


@pytest.mark.parametrize(
    ("first", "last", "horizon", "expected"),
    [
        (dt.date(2025, 1, 1), dt.date(2025, 6, 30), 28, (dt.date(2025, 1, 1), dt.date(2026, 7, 29))),
        (dt.date(2024, 3, 1), dt.date(2024, 3, 1), 1, (dt.date(2024, 3, 1), dt.date(2025, 3, 3))),
    ],
)
def test_the_span_covers_sales_the_horizon_and_a_year_to_the_next_holiday(first, last, horizon, expected):
    assert holiday_span(first, last, horizon) == expected


def test_a_client_without_sales_gets_an_empty_table_of_the_same_columns():
    empty = client_holidays(pl.Series("date", [], dtype=pl.Date), "DE", 28)
    assert empty.is_empty() and empty.columns == ["date", "name"]


START = dt.date(2025, 9, 1)


def _landing(root, client: str) -> None:
    folder = root / client
    folder.mkdir(parents=True)
    (folder / "products.csv").write_text(
        "item_id,name,category,unit_cost,price,lead_time_days\na,Apples,fruit,0.5,1.0,3\n"
    )
    sales = ["date,item_id,units_sold"] + [f"{START + dt.timedelta(days=d)},a,5" for d in range(28)]
    (folder / "sales.csv").write_text("\n".join(sales) + "\n")


def test_the_calendar_flags_the_clients_country_holidays_through_dbt(tmp_path):
    """Sales in September 2025 for a German client: German Unity Day (3 October) falls in the
    28-day horizon and is flagged, with its name; 4 July (a US holiday) is nowhere."""
    client = "berlin_shop"
    _landing(tmp_path / "landing", client)
    url = SCRATCH.create("calendar") if BACKEND == "postgres" else f"duckdb:///{tmp_path / 'w.duckdb'}"
    result = ingest_client(tmp_path / "landing", client, today=dt.date(2025, 12, 1))
    writes = [TableWrite(f"raw.{kind}", frame) for kind, frame in result.accepted.items()]
    holidays = client_holidays(result.accepted["sales"]["date"], "DE", 28)
    Warehouse(url=url).replace_client_rows(client, [*writes, TableWrite("raw.holidays", holidays)])

    run = dbt(["build", "--select", "+covariate_calendar"], url, tmp_path, client)
    assert run.returncode == 0, run.stdout[-3000:]

    flagged = sql_rows(
        url,
        "select date, holiday_name, is_future from analytics.covariate_calendar "
        f"where client_id = '{client}' and is_holiday = 1 order by date",
    )
    assert [(str(day)[:10], name, future) for day, name, future in flagged] == [
        ("2025-10-03", "German Unity Day", 1)
    ]
    (days_to,) = sql_rows(
        url,
        "select days_to_holiday from analytics.covariate_calendar "
        f"where client_id = '{client}' and date = '2025-09-29'",
    )
    assert days_to == (4,)
