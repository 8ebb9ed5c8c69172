"""Outgoing mail over SMTP (``TESSERA_SMTP_URL``: smtp://user:password@host:587 uses STARTTLS when the
server offers it, smtps://host:465 is TLS from the start). Without a URL nothing is sent and the
caller shows the link to the person who asked, instead of a mail nobody receives."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit


class MailError(Exception):
    """The mail server refused or could not be reached; the message says which, never the password."""


def send(smtp_url: str, sender: str, to: str, subject: str, text: str, timeout: float = 10) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(text)
    send_message(smtp_url, message, timeout)


def send_message(smtp_url: str, message: EmailMessage, timeout: float = 10) -> None:
    """Hand a composed message to the mail server, for exactly the one address in its To (never
    whatever else a header might be read as)."""
    url = urlsplit(smtp_url)
    host, secure = url.hostname or "localhost", url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    try:
        if secure:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if not secure and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message, to_addrs=[message["To"].addresses[0].addr_spec]
                                if hasattr(message["To"], "addresses") else [str(message["To"])])
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the mail server at {host}:{port} did not take the message ({type(exc).__name__}: "
                        f"{getattr(exc, 'smtp_error', b'') or exc})") from None
