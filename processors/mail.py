"""Mail adapters: SMTP for real, a folder of .eml files on a developer's machine. No composing here.

A failure says whether trying again could help: a refused address will be refused again, a server that
is down or busy (4xx, timeouts, refused connections) may answer later.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from impact.settings import Environment, Settings


class MailFailed(Exception):
    """`permanent`: this message will never go (its address is refused). `server`: the mail server itself
    failed (down, sign-in, our sender address), so every other message would fail now too."""

    def __init__(self, reason: str, *, permanent: bool, server: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.permanent, self.server = reason, permanent, server


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system, or raise MailFailed."""


class SmtpMailer:
    def __init__(self, host: str, port: int, *, security: str, username: str, password: str, timeout: float) -> None:
        self.host, self.port, self.security, self.timeout = host, port, security, timeout
        self.username, self.password = username, password

    def send(self, message: EmailMessage) -> None:
        try:
            if self.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password)
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise MailFailed(
                f"the mail server refused the address ({code} {_text(text)})", permanent=code >= 500
            ) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError) as exc:
            reason = f"the mail server refused our sign-in or sender address ({exc.smtp_code} {_text(exc.smtp_error)})"
            raise MailFailed(reason, permanent=False, server=True) from exc
        except smtplib.SMTPResponseException as exc:  # e.g. the message itself, at DATA: try again later
            reason = f"the mail server said {exc.smtp_code} {_text(exc.smtp_error)}"
            raise MailFailed(reason, permanent=False) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            reason = f"could not reach the mail server {self.host}:{self.port} ({exc})"
            raise MailFailed(reason, permanent=False, server=True) from exc


class FolderMailer:
    """Writes each message to `<folder>/<message id>.eml`: e-mail on a machine with no mail server."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").split("@")[0]
        (self.folder / f"{name}.eml").write_bytes(bytes(message))


def mailer_for(settings: Settings) -> Mailer | None:
    """SMTP when a server is set; outside production, a folder in data_dir; in production without one, none."""
    if settings.smtp_host:
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
        )
    if settings.env != Environment.production:
        return FolderMailer(settings.data_dir / "mail")
    return None


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value)[:300]
