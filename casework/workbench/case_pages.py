"""A case and what it holds: incidents, witnesses by pseudonym, interviews."""
from __future__ import annotations

from werkzeug.wrappers import Response

from casework.cases import service as cases_service
from casework.cases.schemas import CaseDetailSchema
from casework.workbench.blueprint import blp, render


@blp.get("/cases/<int:case_id>", endpoint="case_page")
def case_page(case_id: int) -> Response:
    case = CaseDetailSchema().dump(cases_service.case_detail(case_id))
    return render("workbench/case/case.html", case=case)
