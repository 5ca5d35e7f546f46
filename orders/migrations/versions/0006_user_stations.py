"""user_stations (a set of stations per user) and users.must_change_password

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_stations",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_stations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["machines.id"],
            name=op.f("fk_user_stations_machine_id_machines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "machine_id", name=op.f("pk_user_stations")),
    )
    # The single station each user had becomes their first member of the set.
    op.execute(
        sa.text(
            "INSERT INTO user_stations (user_id, machine_id) "
            "SELECT id, station_machine_id FROM users WHERE station_machine_id IS NOT NULL"
        )
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_users_station_machine_id_machines"), type_="foreignkey")
        batch_op.drop_column("station_machine_id")
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.add_column(sa.Column("station_machine_id", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_users_station_machine_id_machines"),
            "machines",
            ["station_machine_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # One station survives a downgrade: the first by id.
    op.execute(
        sa.text(
            "UPDATE users SET station_machine_id = (SELECT MIN(machine_id) FROM user_stations "
            "WHERE user_stations.user_id = users.id)"
        )
    )
    op.drop_table("user_stations")
