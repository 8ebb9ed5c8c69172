"""Your account: change your password, or reset a forgotten one by email (a one-time link for an hour).

The reset request answers the same whether or not the email has an account here, and an account
gets at most three reset mails an hour. A new password ends every session and token of the
account, on every site.
"""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from ..auth.passwords import check_strength
from ..errors import ApiError, Unauthorized
from ..mail import MailError, send
from ..routes.auth import _address
from ..security import services_of, site_base, tenant_of
from .common import Form, back, page, text, who

SENT = ("If an account with that email can sign in here, a link to choose a new password is on its way. "
        "It works once, for an hour.")


@get("/admin/forgot", sync_to_thread=True, include_in_schema=False)
def forgot_form(request: Request) -> Response:
    return page(request, "forgot.html", title="Forgotten password", email="")


@post("/admin/forgot/send", sync_to_thread=True, include_in_schema=False)
def forgot(request: Request, data: Form) -> Response:
    services = services_of(request)
    tenant = tenant_of(request)
    config = services.config
    if not config.smtp_url:
        return page(request, "forgot.html", 503, title="Forgotten password", email=text(data, "email"),
                    error="This installation cannot send mail. Ask the site's owner to invite you again, or the "
                          "platform's operator to set a new password.")
    email = text(data, "email")
    user = services.users.find(email)
    member = user is not None and (user.is_superadmin or services.users.role(user.id, tenant.id) is not None)  # type: ignore[union-attr]
    if member:
        token = services.credentials.password_reset(user.id)  # type: ignore[union-attr]
        if token is not None:
            link = f"{config.admin_origin}{site_base(tenant.slug)}/reset?token={token}"  # type: ignore[union-attr]
            try:
                send(config.smtp_url, config.mail_from, user.email, f"A new password for {tenant.name}",  # type: ignore[union-attr]
                     f"Someone (we hope you) asked to choose a new password for {user.email} on {tenant.name}.\n\n"  # type: ignore[union-attr]
                     f"Choose it here within an hour: {link}\n\nIf it was not you, ignore this email: your "
                     "password stays as it is.\n")
            except MailError as exc:
                return page(request, "forgot.html", 503, title="Forgotten password", email=email,
                            error=f"The mail could not be sent: {exc}. Try again later.")
        services.audit.record("password.reset_requested", actor=user.id, tenant_id=tenant.id,  # type: ignore[union-attr]
                              address=_address(request), sent=token is not None)
    return page(request, "forgot.html", title="Forgotten password", email="", flash=SENT)


def _reset_user(request: Request, token: str) -> int:
    user_id = services_of(request).credentials.reset_user(token)
    if user_id is None:
        raise Unauthorized("this link has expired or was used; ask for a new one", code="link_expired")
    return user_id


@get("/admin/reset", sync_to_thread=True, include_in_schema=False)
def reset_form(request: Request, token: FromQuery[str] = "") -> Response:
    user = services_of(request).users.get(_reset_user(request, token))
    return page(request, "reset.html", title="Choose a new password", token=token, email=user.email)  # type: ignore[union-attr]


@post("/admin/reset/save", sync_to_thread=True, include_in_schema=False)
def reset(request: Request, data: Form) -> Response:
    services = services_of(request)
    token, password = text(data, "token"), str(data.get("password", ""))
    user = services.users.get(_reset_user(request, token))
    try:
        check_strength(password)
    except ApiError as exc:
        return page(request, "reset.html", 422, title="Choose a new password", token=token, email=user.email,  # type: ignore[union-attr]
                    error=exc.message)
    if services.credentials.take_password_reset(token) is None:
        raise Unauthorized("this link has expired or was used; ask for a new one", code="link_expired")
    services.users.set_password(user.id, password)  # type: ignore[union-attr]
    services.credentials.revoke_all(user.id)  # type: ignore[union-attr]
    services.audit.record("password.reset", actor=user.id, tenant_id=tenant_of(request).id,  # type: ignore[union-attr]
                          address=_address(request))
    return back(request, "/login", saved="Password changed. Sign in with the new one.")


@post("/admin/account/password", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def change_password(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    if services.users.check_password(member.user.email, str(data.get("current_password", ""))) is None:
        return back(request, "/tokens", error="The current password is wrong; nothing changed.")
    try:
        services.users.set_password(member.user.id, str(data.get("new_password", "")))
    except ApiError as exc:
        return back(request, "/tokens", error=exc.message[:1].upper() + exc.message[1:] + ".")
    services.credentials.revoke_all(member.user.id)
    services.audit.record("password.changed", actor=member.user.id, tenant_id=member.tenant.id,
                          address=_address(request))
    return back(request, "/login", saved="Password changed: you are signed out everywhere. Sign in with the new one.")


ROUTES = [forgot_form, forgot, reset_form, reset, change_password]
