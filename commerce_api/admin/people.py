"""Users and roles: invite by email (a one-time link), change a role, remove; personal API tokens."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from content import plans

from ..auth.permissions import ROLES
from ..auth.users import valid_email, valid_role
from ..errors import ApiError, Forbidden, Unauthorized
from ..mail import MailError, send
from ..routes.admin import AdminController
from ..routes.auth import _address
from ..security import services_of, site_base, tenant_of
from .common import Form, back, message_is_ours, number, page, text, who
from .notifications import email_choices
from .session import _start_session

ROLE_NAMES = {"owner": "Owner", "admin": "Admin", "editor": "Editor", "shop_manager": "Shop manager"}


@get("/admin/users", opt={"action": "users:read"}, sync_to_thread=True, include_in_schema=False)
def users(request: Request, link: FromQuery[str] = "") -> Response:
    member = who(request)
    services = services_of(request)
    return page(request, "users.html", title="Users and roles", section="users",
                members=services.users.members(member.tenant.id), invitations=services.invitations.pending(member.tenant.id),
                roles=[(r, ROLE_NAMES[r]) for r in ROLES if r != "owner" or member.role == "owner" or member.user.is_superadmin],
                role_names=ROLE_NAMES, can_write=member.can("users:write"),
                link=link if message_is_ours(request) else "")


@post("/admin/users/invite", opt={"action": "users:write"}, sync_to_thread=True, include_in_schema=False)
def invite(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    try:
        email, role = valid_email(text(data, "email")), valid_role(text(data, "role"))
        AdminController._may_assign(member, role)
        invited = services.users.find(email)
        if invited is None or services.users.role(invited.id, member.tenant.id) is None:
            # Each open invitation is a seat promised: count them, or the site could invite past its plan.
            others = [i for i in services.invitations.pending(member.tenant.id) if i["email"].lower() != email.lower()]
            services.users.check_seat(member.tenant.id, also=len(others))
    except ApiError as exc:
        return back(request, "/users", error=exc.message)
    except plans.LimitReached as exc:
        return back(request, "/users", error=str(exc))
    invitation_id, token = services.invitations.create(member.tenant.id, email, role, member.user.id)
    link = f"{services_of(request).config.admin_origin}{site_base(member.tenant.slug)}/invite?token={token}"
    services.audit.record("invitation.created", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), email=email, role=role, invitation=invitation_id)
    config = services.config
    if not config.smtp_url:
        # No mail server: the person inviting passes the link on. Shown once, never logged.
        return back(request, f"/users?link={link}", saved=f"No mail server is set up (TESSERA_SMTP_URL), so no email "
                                                      f"was sent: send {email} the link below yourself.")
    inviter = member.user.name or member.user.email
    try:
        send(config.smtp_url, config.mail_from, email, f"{inviter} invited you to {member.tenant.name}",
             f"{inviter} invited you to help run {member.tenant.name} as {ROLE_NAMES[role].lower()}.\n\n"
             f"Accept within 7 days: {link}\n\nIf you did not expect this, ignore this email.\n")
    except MailError as exc:
        services.invitations.revoke(invitation_id, member.tenant.id)
        return back(request, "/users", error=f"The invitation was not sent: {exc}.")
    return back(request, "/users", saved=f"Invitation sent to {email}.")


@post("/admin/users/invitations/revoke", opt={"action": "users:write"}, sync_to_thread=True, include_in_schema=False)
def revoke_invitation(request: Request, data: Form) -> Response:
    member = who(request)
    services_of(request).invitations.revoke(number(data, "id"), member.tenant.id)
    return back(request, "/users", saved="Invitation withdrawn.")


@post("/admin/users/role", opt={"action": "users:write"}, sync_to_thread=True, include_in_schema=False)
def change_role(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    user_id = number(data, "user")
    remove = text(data, "remove") == "1"
    try:
        current = services.users.role(user_id, member.tenant.id)
        if current is None:
            raise Forbidden("that account is not a member here")
        role = None if remove else valid_role(text(data, "role"))
        AdminController._may_assign(member, role, current)
        if remove:
            services.users.revoke(user_id, member.tenant.id)
        else:
            services.users.grant(user_id, member.tenant.id, role)  # type: ignore[arg-type]
    except ApiError as exc:
        return back(request, "/users", error=exc.message)
    except plans.LimitReached as exc:  # not for a role change: only a new member takes a seat
        return back(request, "/users", error=str(exc))
    services.audit.record("role.revoked" if remove else "role.changed", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), user=user_id, role=role, previous=current)
    return back(request, "/users", saved="Removed." if remove else "Role changed.")


# -- accepting an invitation (no session yet) ---------------------------------------------------


@get("/admin/invite", sync_to_thread=True, include_in_schema=False)
def invitation_form(request: Request, token: FromQuery[str] = "") -> Response:
    services = services_of(request)
    found = services.invitations.find(token, tenant_of(request).id)  # type: ignore[union-attr]
    if found is None:
        raise Unauthorized("this invitation has expired, was used or was withdrawn; ask for a new one",
                           code="invitation_invalid")
    exists = services.users.find(found["email"]) is not None
    return page(request, "invite.html", title="Accept invitation", invitation=found, token=token, exists=exists,
                role_name=ROLE_NAMES[found["role"]], errors=[])


@post("/admin/invite/accept", sync_to_thread=True, include_in_schema=False)
def accept(request: Request, data: Form) -> Response:
    services = services_of(request)
    tenant = tenant_of(request)
    token = text(data, "token")
    found = services.invitations.find(token, tenant.id)  # type: ignore[union-attr]
    if found is None:
        raise Unauthorized("this invitation has expired, was used or was withdrawn; ask for a new one",
                           code="invitation_invalid")
    password = str(data.get("password", ""))
    exists = services.users.find(found["email"]) is not None

    def again(message: str, status: int = 422) -> Response:
        return page(request, "invite.html", status, title="Accept invitation", invitation=found, token=token,
                    exists=exists, role_name=ROLE_NAMES[found["role"]], errors=[message])

    account = services.users.find(found["email"])
    joining = account is None or services.users.role(account.id, tenant.id) is None  # type: ignore[union-attr]
    try:
        if joining:  # the seats may have filled up since the invitation: refuse before any account is made
            services.users.check_seat(tenant.id)  # type: ignore[union-attr]
    except plans.LimitReached as exc:
        return again(f"This invitation cannot be accepted now: {exc} Ask the person who invited you.", 403)
    if exists:
        user = services.users.check_password(found["email"], password)
        if user is None:
            return again("That is not the password of " + found["email"] + ".")
    else:
        try:
            user = services.users.create(found["email"], password, name=text(data, "name"))
        except ApiError as exc:
            return again(exc.message)
    if services.users.role(user.id, tenant.id) != "owner":  # type: ignore[union-attr]
        try:  # counted again as the seat is taken: another invitation may have taken the last one
            services.users.grant(user.id, tenant.id, found["role"])  # type: ignore[union-attr]
        except plans.LimitReached as exc:
            return again(f"This invitation cannot be accepted now: {exc} Ask the person who invited you.", 403)
    services.invitations.accept(found["id"])
    services.audit.record("invitation.accepted", actor=user.id, tenant_id=tenant.id, address=_address(request),  # type: ignore[union-attr]
                          role=found["role"])
    return _start_session(request, user.id, tenant.id)  # type: ignore[union-attr]


# -- personal API tokens ------------------------------------------------------------------------


@get("/admin/tokens", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def tokens(request: Request) -> Response:
    member = who(request)
    listed = services_of(request).credentials.api_tokens(member.user.id, member.tenant.id)
    return page(request, "tokens.html", title="Your account", section="tokens", tokens=listed, new_token=None,
                emails=email_choices(request))


@post("/admin/tokens/new", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def create_token(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    name = text(data, "name") or "token"
    token_id, token = services.credentials.create_api_token(member.user.id, member.tenant.id, name[:100])
    services.audit.record("token.created", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), token_id=token_id, name=name)
    listed = services.credentials.api_tokens(member.user.id, member.tenant.id)
    return page(request, "tokens.html", title="Your account", section="tokens", tokens=listed, new_token=token,
                emails=email_choices(request),
                flash="Token created. Copy it now: it is not shown again.")


@post("/admin/tokens/revoke", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def revoke_token(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    token_id = number(data, "id")
    services.credentials.revoke_api_token(token_id, member.user.id, member.tenant.id)
    services.audit.record("token.revoked", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request), token_id=token_id)
    return back(request, "/tokens", saved="Token revoked.")


ROUTES = [users, invite, revoke_invitation, change_role, invitation_form, accept, tokens, create_token, revoke_token]
