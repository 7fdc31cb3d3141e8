"""Sending one message: e-mail through the configured SMTP server, or a chat URL (apprise).

E-mail uses the standard library's smtplib, in a worker thread: one message at a time,
bounded by HERALD_SMTP_TIMEOUT_SECONDS, is all a notification needs, and an async SMTP
client would be one more dependency for what a thread does here as well.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from herald.media.fetch import MediaURLError, check_media_url

if TYPE_CHECKING:
    from herald.config import Settings

EMAIL, CHAT = "email", "chat"
KINDS = (EMAIL, CHAT)
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
#: apprise's schemes that post to a host the user names (the others go to the chat
#: service's own API host): checked like webhook URLs.
_OWN_HOST_SCHEMES = {"json": "http", "jsons": "https", "xml": "http", "xmls": "https",
                     "form": "http", "forms": "https"}


class SendError(Exception):
    """The message could not be sent (said for a person, with no secret in it)."""


class BadTarget(ValueError):
    """The address or chat URL cannot be used."""


@dataclass(frozen=True)
class Smtp:
    host: str | None
    port: int
    username: str | None
    password: str | None
    sender: str
    security: str
    timeout: float

    @classmethod
    def from_settings(cls, s: Settings) -> Smtp:
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        return cls(s.smtp_host, s.smtp_port, s.smtp_username, password, s.smtp_from,
                   s.smtp_security, s.smtp_timeout_seconds)


#: E-mail not set up (HERALD_SMTP_HOST unset).
NO_SMTP = Smtp(None, 587, None, None, "herald@localhost", "starttls", 10.0)


def check_email(address: str) -> str:
    address = address.strip()
    if len(address) > 320 or not _EMAIL.match(address):
        raise BadTarget(f"{address!r} is not an e-mail address (e.g. ada@example.com).")
    return address


def check_chat_url(url: str, *, allow_private: bool) -> str:
    """An apprise URL apprise can use; one that posts to a host of the user's choosing
    (json://, xml://, form://) must reach a public address, as webhook URLs must."""
    import apprise

    url = url.strip()
    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        raise BadTarget("Herald cannot use that chat URL: give one of apprise's, e.g. "
                        "slack://T000/B000/XXXX, discord://id/token, "
                        "msteams://…, tgram://bot_token/chat_id (see docs/notifications.md).")
    scheme = urlsplit(url).scheme.lower()
    if scheme in _OWN_HOST_SCHEMES:
        http_url = _OWN_HOST_SCHEMES[scheme] + url[len(scheme):]
        try:
            check_media_url(http_url, allow_private=allow_private, noun="chat URL")
        except MediaURLError as exc:
            raise BadTarget(str(exc)) from None
    return url


def label(kind: str, target: str) -> str:
    """What a page shows of a channel: the address half-hidden, the chat URL's scheme."""
    if kind == EMAIL:
        name, _, domain = target.partition("@")
        return f"{name[:1]}…@{domain}"
    return f"{urlsplit(target).scheme}://…"


def send_email(smtp: Smtp, to: str, title: str, body: str) -> None:
    """One message through the SMTP server; SendError says what went wrong."""
    if not smtp.host:
        raise SendError("E-mail is not set up: set HERALD_SMTP_HOST (and the other "
                        "HERALD_SMTP_ settings) and restart Herald.")
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = title
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(smtp.sender)[1].partition("@")[2]
                                       or None)
    message.set_content(body)
    where = f"{smtp.host}:{smtp.port}"
    try:
        client: smtplib.SMTP
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(f"The SMTP server {where} refused the user name or password "
                        f"({exc.smtp_code}); check HERALD_SMTP_USERNAME and "
                        "HERALD_SMTP_PASSWORD.") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = ", ".join(f"{code} {reason.decode(errors='replace')}"
                          for code, reason in exc.recipients.values())
        raise SendError(f"The SMTP server {where} refused the address {to} ({codes}).") \
            from None
    except smtplib.SMTPNotSupportedError:
        raise SendError(f"The SMTP server {where} does not offer STARTTLS; set "
                        "HERALD_SMTP_SECURITY=ssl or, for a relay on your own network, "
                        "none.") from None
    except smtplib.SMTPResponseException as exc:
        said = exc.smtp_error
        text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        raise SendError(f"The SMTP server {where} answered {exc.smtp_code} {text}.") \
            from None
    except smtplib.SMTPServerDisconnected:
        raise SendError(f"The SMTP server {where} closed the connection.") from None
    except TimeoutError:
        raise SendError(f"The SMTP server {where} did not answer within "
                        f"{smtp.timeout:g} s.") from None
    except ssl.SSLError as exc:
        raise SendError(f"TLS with the SMTP server {where} failed ({exc.reason}).") from None
    except OSError as exc:
        raise SendError(f"Could not reach the SMTP server {where} "
                        f"({exc.strerror or exc}).") from None


def send_chat(url: str, title: str, body: str) -> None:
    """One message to a chat URL through apprise; SendError when it was not taken."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise SendError("The chat URL is not one apprise can use any more.")
    if not notifier.notify(title=title, body=body):
        scheme = urlsplit(url).scheme
        raise SendError(f"The chat service ({scheme}) did not take the message; the "
                        "worker's log says why.")
