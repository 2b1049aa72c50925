"""accounts: admin-set passwords must be changed, token lineage, TOTP second factor, recovery codes

Revision ID: 0005_auth_hardening
Revises: 0004_append_only

users.must_change_password; login_sessions.mfa_verified; api_tokens.parent_token_id (a token
made with a token names it, expires no later and is revoked with it) and api_tokens.mfa_verified;
totp_secrets (the sealed TOTP secret, one per user, and the last accepted time step) and
recovery_codes (SHA-256 of one-time codes). Existing rows get false: no existing account must
change its password, and no existing session or token passed a second factor.

On PostgreSQL the new tables are handed to the owner role and granted to the app role like every
other table (the same idempotent statements as 0004_append_only): a migration run as a superuser
creates them owned by the superuser, where the owner role's default privileges do not reach.
Other names: ``-x owner_role=NAME -x app_role=NAME`` or $CASEWORK_DB_OWNER_ROLE / $CASEWORK_DB_APP_ROLE.
"""

import sqlalchemy as sa
from alembic import context, op

from migrations.frozen import roles

revision = "0005_auth_hardening"
down_revision = "0004_append_only"
branch_labels = None
depends_on = None


# A literal default ('0' is false on both databases), not sa.false(): SQLite adds such a column in
# place, where an expression default would make batch mode recreate users, which fails on the rows
# of every table that refers to it.
FALSE = "0"


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), server_default=FALSE, nullable=False))

    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mfa_verified", sa.Boolean(), server_default=FALSE, nullable=False))

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_token_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("mfa_verified", sa.Boolean(), server_default=FALSE, nullable=False))
        batch_op.create_index(batch_op.f("ix_api_tokens_parent_token_id"), ["parent_token_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_api_tokens_parent_token_id_api_tokens"), "api_tokens",
                                    ["parent_token_id"], ["id"])

    op.create_table(
        "totp_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("secret_nonce", sa.LargeBinary(length=12), nullable=True),
        sa.Column("secret_wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("secret_kek_id", sa.String(length=32), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_step", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_totp_secrets_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_secrets")),
        sa.UniqueConstraint("user_id", name=op.f("uq_totp_secrets_user_id")),
    )
    with op.batch_alter_table("totp_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_totp_secrets_secret_kek_id"), ["secret_kek_id"], unique=False)

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    roles.grant_roles(op, context)


def downgrade():
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")

    with op.batch_alter_table("totp_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_totp_secrets_secret_kek_id"))
    op.drop_table("totp_secrets")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_parent_token_id_api_tokens"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_tokens_parent_token_id"))
        batch_op.drop_column("mfa_verified")
        batch_op.drop_column("parent_token_id")

    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): recreating users on SQLite would fail on
    # the rows of every table that refers to it.
    with op.batch_alter_table("login_sessions", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("mfa_verified")

    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("must_change_password")
