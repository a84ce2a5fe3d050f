"""Mail adapters: SMTP for real, a folder of .eml files on a developer's machine. No composing here.

A failure says whether trying again could help: a refused address will be refused again, a server that
is down or busy (4xx, timeouts, refused connections) may answer later.

International addresses (`用户@例子.广告`, `user@bücher.example`) go with SMTPUTF8 where the server offers it
(smtplib then writes the message in UTF-8); elsewhere an ASCII local part goes with its domain in IDNA form
(`user@xn--bcher-kva.example`), and a non-ASCII local part cannot go at all: a permanent failure that says so.
"""

from __future__ import annotations

import copy
import re
import smtplib
import ssl
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import formataddr, quote
from pathlib import Path
from typing import Protocol

from email_validator import EmailNotValidError, validate_email

from impact.settings import Environment, Settings

ADDRESS_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc")
NEEDS_SMTPUTF8 = (
    "this address needs a mail server that accepts international addresses (SMTPUTF8), and ours does not: "
    "ask the person for another e-mail address or tell them another way, or set IMPACT_SMTP_HOST to a server "
    "that accepts them"
)


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
                client.ehlo_or_helo_if_needed()
                # With SMTPUTF8 smtplib itself sends a non-ASCII address with the SMTPUTF8 option (and the
                # message in UTF-8, policy utf8=True); without it, the addresses must be made ASCII first.
                client.send_message(fit_for(message, smtputf8=client.has_extn("smtputf8")))
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
        utf8 = not all(address.isascii() for address in _addresses(message))  # as an SMTPUTF8 server gets it
        written = message.as_bytes(policy=policy.SMTPUTF8) if utf8 else bytes(message)
        (self.folder / f"{name}.eml").write_bytes(written)


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


_ADDRESS_SPECIALS = re.compile(r'[<>()\[\]\\,;:@"]')


def _one_line(text: str) -> str:
    """A name fit for a mail header: line breaks (which free text may hold) would end the header."""
    return " ".join(text.split())


def address_header(name: str, address: str) -> str:
    """`"Name" <address>` for a mail header, on one line, that arrives naming exactly `address`.

    formataddr quotes a name with `<`, `,` or `:` in it, but the e-mail package's folding of a long header
    (or of a name with non-ASCII letters) can drop the quotes, so a name such as `Eve <evil@example.org>, ...`
    would arrive as another recipient. Such a name loses the characters that delimit addresses; should even
    that not arrive intact, the address goes alone. An international address (which formataddr refuses) is
    checked as an SMTPUTF8 server would receive it, the only way it can be sent.
    """
    for shown in (_one_line(name), _one_line(_ADDRESS_SPECIALS.sub(" ", name))):
        if address.isascii():
            header = formataddr((shown, address))
        else:
            header = f'"{quote(shown)}" <{address}>' if shown else address
        if _arrives(header, address):
            return header
    return address


def _arrives(header: str, address: str) -> bool:
    """Whether a To header of `header` names exactly `address` once written out, in ASCII and in UTF-8."""
    probe = EmailMessage()
    probe["To"] = header
    for written in (policy.default, policy.SMTPUTF8) if address.isascii() else (policy.SMTPUTF8,):
        arrived = message_from_string(probe.as_bytes(policy=written).decode(), policy=policy.default)["To"]
        if [one.addr_spec for one in arrived.addresses] != [address]:
            return False
    return True


def ascii_address(address: str) -> str | None:
    """`address` with its domain in IDNA form (`user@xn--bcher-kva.example`), or None when its local part is
    not ASCII (no such form exists) or the domain cannot be written in IDNA."""
    try:
        return validate_email(address, check_deliverability=False).ascii_email
    except EmailNotValidError:
        return None


def fit_for(message: EmailMessage, *, smtputf8: bool) -> EmailMessage:
    """The message as a server with or without SMTPUTF8 can take it: unchanged when every address is ASCII or
    the server offers SMTPUTF8; otherwise a copy whose international addresses are in IDNA form.

    Raises MailFailed (permanent) when an address has a non-ASCII local part and the server lacks SMTPUTF8.
    """
    if smtputf8 or all(address.isascii() for address in _addresses(message)):
        return message
    fitted = copy.deepcopy(message)
    for name in ADDRESS_HEADERS:
        values = [str(value) for value in message.get_all(name) or []]
        if all(value.isascii() for value in values):  # a non-ASCII name alone is encoded as usual
            continue
        del fitted[name]
        for value in message.get_all(name) or []:
            written = []
            for one in value.addresses:
                ascii = one.addr_spec if one.addr_spec.isascii() else ascii_address(one.addr_spec)
                if ascii is None:
                    ours = name != "To"  # From, Reply-To: the organisation's own address
                    raise MailFailed(
                        f"our {name} address: {NEEDS_SMTPUTF8}" if ours else NEEDS_SMTPUTF8, permanent=True
                    )
                written.append(address_header(one.display_name, ascii))
            fitted[name] = ", ".join(written)
    return fitted


def _addresses(message: EmailMessage) -> list[str]:
    return [
        one.addr_spec
        for name in ADDRESS_HEADERS
        for value in message.get_all(name) or []
        for one in getattr(value, "addresses", ())
    ]


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value)[:300]
