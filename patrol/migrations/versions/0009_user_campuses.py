"""users in several campuses

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_campus',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campus_id'], ['campus.id'], name=op.f('fk_user_campus_campus_id_campus'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_campus_user_id_app_user'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'campus_id', name=op.f('pk_user_campus'))
    )
    with op.batch_alter_table('user_campus', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_campus_campus_id'), ['campus_id'], unique=False)
    # Everyone belongs to the campus they had.
    op.execute("INSERT INTO user_campus (user_id, campus_id) "
               "SELECT id, campus_id FROM app_user WHERE campus_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('user_campus', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_campus_campus_id'))
    op.drop_table('user_campus')
