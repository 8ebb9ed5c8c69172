"""Publishing: queue a publish (its progress shows live on the dashboard), the deploy history, rollback."""

from __future__ import annotations

from litestar import Request, Response, get, post

from content import plans

from ..security import services_of
from .common import Form, back, number, page, who


@post("/admin/publish", opt={"action": "publish"}, sync_to_thread=True, include_in_schema=False)
def publish_now(request: Request) -> Response:
    member = who(request)
    services = services_of(request)
    with services.databases.connection(member.tenant.slug) as conn:
        try:  # refused here at once; the job would be refused too (publish_tenant checks under its lock)
            plans.check_publish(services.db.registry, member.tenant, conn)
        except plans.LimitReached as exc:
            return back(request, "/", error=str(exc))
    job = services.queue.enqueue(member.tenant.slug, actor=member.user.email)
    return back(request, "/", saved=f"Publishing (job {job.id}); the site updates in a moment.")


@get("/admin/deploys", opt={"action": "publish"}, sync_to_thread=True, include_in_schema=False)
def deploys(request: Request) -> Response:
    member = who(request)
    services = services_of(request)
    with services.databases.connection(member.tenant.slug) as conn:
        rows = [dict(r) for r in conn.execute("SELECT * FROM deploys ORDER BY id DESC LIMIT 50")]
    return page(request, "deploys.html", title="Deploys", section="deploys", deploys=rows,
                jobs=services.queue.list(member.tenant.slug, limit=10))


@post("/admin/deploys/rollback", opt={"action": "publish"}, sync_to_thread=True, include_in_schema=False)
def rollback(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    deploy_id = number(data, "deploy")
    with services.databases.connection(member.tenant.slug) as conn:
        row = conn.execute("SELECT id, status FROM deploys WHERE id = ?", (deploy_id,)).fetchone()
    if row is None or row["status"] == "failed":
        return back(request, "/deploys", error="Only a deploy that went live can be brought back.")
    job = services.queue.enqueue(member.tenant.slug, f"rollback:{deploy_id}", actor=member.user.email)
    services.audit.record("site.rollback", actor=member.user.id, tenant_id=member.tenant.id, deploy=deploy_id)
    return back(request, "/deploys", saved=f"Rolling back to deploy {deploy_id} (job {job.id}).")


ROUTES = [publish_now, deploys, rollback]
