"""Scans per station and local day, and per station and local month, one column per outcome
(scan_day_totals, scan_month_totals; models/rollups.py): what the overview reads at national size
(issue 17), kept with the day counts as events arrive.

Backfill: both are derived here from scan_day_counts (frozen SQL: a sum per outcome, the day's
month), so they agree with the day counts whatever offset those were reckoned with.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

OUTCOMES = ("allowed", "refused", "overridden", "would_refuse")
MONTH_OF_DAY = {
    "sqlite": "date(day, 'start of month')",
    "postgresql": "CAST(date_trunc('month', CAST(day AS timestamp)) AS date)",
}


def _create(table: str, period: str) -> None:
    op.create_table(
        table,
        sa.Column(period, sa.Date(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in ("scans", *OUTCOMES)),
        sa.PrimaryKeyConstraint(period, "station_id", "region_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(f"ix_{table}_station_{period}", table, ["station_id", period], unique=False)


def upgrade() -> None:
    _create("scan_day_totals", "day")
    _create("scan_month_totals", "month")
    columns = ", ".join(("scans", *OUTCOMES))
    per_outcome = ", ".join(f"sum(CASE WHEN outcome = '{o}' THEN scans ELSE 0 END)" for o in OUTCOMES)
    op.execute(
        f"INSERT INTO scan_day_totals (day, station_id, region_id, {columns}) "
        f"SELECT day, station_id, region_id, sum(scans), {per_outcome} FROM scan_day_counts "
        "GROUP BY day, station_id, region_id"
    )
    month = MONTH_OF_DAY[op.get_bind().dialect.name]
    sums = ", ".join(f"sum({c})" for c in ("scans", *OUTCOMES))
    op.execute(
        f"INSERT INTO scan_month_totals (month, station_id, region_id, {columns}) "
        f"SELECT {month}, station_id, region_id, {sums} FROM scan_day_totals GROUP BY {month}, station_id, region_id"
    )


def downgrade() -> None:
    for table, period in (("scan_month_totals", "month"), ("scan_day_totals", "day")):
        op.drop_index(f"ix_{table}_station_{period}", table_name=table)
        op.drop_table(table)
