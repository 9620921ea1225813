"""Public holidays of any country, from the well-kept ``holidays`` package.

The calendar model flags holidays and counts the days to the next one. A static seed of one
country's dates would give every other country no holidays without a word; every country's dates
for 2010-2035 are 177k rows, too many to load on every run. So the ingestion asks the package for
the client's country over the span its calendar needs, and dbt reads those rows.
"""

from __future__ import annotations

import datetime as dt
import difflib

import holidays
import polars as pl

HOLIDAY_SCHEMA = {"date": pl.Date, "name": pl.Utf8}
# The calendar counts the days to the next holiday (capped at 366 in covariate_calendar): the
# table runs a year past the forecast horizon so the last days of the horizon still see theirs.
LOOKAHEAD = dt.timedelta(days=366)


def supported_countries() -> list[str]:
    """Country codes the package knows (ISO 3166-1 alpha-2 and alpha-3), sorted."""
    return sorted(holidays.list_supported_countries(include_aliases=True))


def check_holiday_country(country: str) -> str:
    """``country`` if the package knows it, else an error naming it and the codes to choose from."""
    known = supported_countries()
    if country in known:
        return country
    close = [c for c in known if c == country.upper()] or difflib.get_close_matches(country, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"HOLIDAY_COUNTRY {country!r} is not a country the holidays package knows.{hint} Use an "
        f"ISO 3166-1 code from holidays.list_supported_countries() ({len(known)} codes, e.g. US, DE, "
        "GB, FR, JP)."
    )


def holiday_span(first_sale: dt.date, last_sale: dt.date, horizon: int) -> tuple[dt.date, dt.date]:
    """The days whose holidays a client's calendar needs: its sales, the horizon, and a year more."""
    return first_sale, last_sale + dt.timedelta(days=horizon) + LOOKAHEAD


def holiday_table(country: str, first: dt.date, last: dt.date) -> pl.DataFrame:
    """Holidays of ``country`` from ``first`` to ``last`` (inclusive): one row per date, with name.

    Observed days (a holiday moved off a weekend) are holidays too: shops see them as one. Names
    are in US English where the package has them, else in the country's own language; a date
    with two holidays carries both names, joined by the package with "; ".
    """
    check_holiday_country(country)
    if last < first:
        return pl.DataFrame(schema=HOLIDAY_SCHEMA)
    years = range(first.year, last.year + 1)
    language = (
        "en_US" if "en_US" in holidays.country_holidays(country, years=[]).supported_languages else None
    )
    found = holidays.country_holidays(country, years=years, language=language)
    rows = sorted((day, name) for day, name in found.items() if first <= day <= last)
    return pl.DataFrame(
        {"date": [day for day, _ in rows], "name": [name for _, name in rows]}, schema=HOLIDAY_SCHEMA
    )


def client_holidays(sale_dates: pl.Series, country: str, horizon: int) -> pl.DataFrame:
    """The holidays a client's calendar reads: ``country``'s over :func:`holiday_span` of its sales
    dates (none without sales: the calendar then has no days either)."""
    dates = sale_dates.drop_nulls()
    if dates.is_empty():
        return pl.DataFrame(schema=HOLIDAY_SCHEMA)
    return holiday_table(country, *holiday_span(dates.min(), dates.max(), horizon))
