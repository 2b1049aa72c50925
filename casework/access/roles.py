"""The four roles of the SPEC. Every account has exactly one."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    INTERVIEWER = "interviewer"
    LEGAL = "legal"
    AUDITOR = "auditor"
