"""Resource names: short ids or full names in, full names out."""

from __future__ import annotations

import uuid


def tenant(tenant_id: str) -> str:
    """`tenants/{tenant}`."""
    return tenant_id if tenant_id.startswith("tenants/") else f"tenants/{tenant_id}"


def webinar(parent: str, webinar_id: str) -> str:
    """`tenants/{t}/webinars/{w}` from a short id or a full name."""
    return webinar_id if webinar_id.startswith("tenants/") else f"{parent}/webinars/{webinar_id}"


def request_id(given: str | None) -> str:
    """The caller's request id, or a new one, so a retried create cannot create twice."""
    return given or str(uuid.uuid4())
