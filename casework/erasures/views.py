from __future__ import annotations

from casework.http import Blueprint

blp = Blueprint("erasures", __name__, url_prefix="/api/v1", description="Two-person erasure of a witness's records")
