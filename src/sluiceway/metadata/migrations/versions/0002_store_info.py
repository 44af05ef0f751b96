"""Store facts about the store itself: the oldest Sluiceway that can use it (``min_sluiceway_version``).

Revision ID: 0002_store_info
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_store_info"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from sluiceway.metadata.migrations import MIN_VERSION_KEY, MINIMUM_VERSIONS

    store_info = op.create_table(
        "store_info",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(store_info, [{"key": MIN_VERSION_KEY, "value": MINIMUM_VERSIONS[revision]}])


def downgrade() -> None:
    op.drop_table("store_info")
