"""Operator console accounts: add, list, update, disable, enable, password, TOTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..accounts.roles import Role
from .context import DEFAULT_HOME, HomeOption, JsonOption, open_accounts
from .inputs import actor, new_password
from .output import EXIT_USAGE, cells, clock_time, fail, plain, print_json, print_table, say, table

if TYPE_CHECKING:
    from ..accounts.results import UserInfo

RoleOption = Annotated[
    str, typer.Option(help=f"One of: {', '.join(r.value for r in Role)}.", show_default=False)
]
PasswordStdinOption = Annotated[
    bool, typer.Option(help="Read the password from the first line of standard input.")
]
UserArgument = Annotated[str, typer.Argument(help="The user.")]


def user_row(user: UserInfo) -> dict[str, object]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "language": user.language,
        "timezone": user.timezone,
        "disabled": user.disabled,
        "totp": user.totp_enabled,
        "locked": user.locked,
        "locked_until_ms": user.locked_until_ms,
        "failed_logins": user.failed_logins,
        "created_ms": user.created_ms,
        "password_changed_ms": user.password_changed_ms,
    }


def add(
    username: Annotated[str, typer.Argument(help="Login name, e.g. 'li.wei'.")],
    role: RoleOption,
    display_name: Annotated[
        str | None, typer.Option(help="Name shown in the console (default: the username).")
    ] = None,
    language: Annotated[str, typer.Option(help="Console language: en or zh-Hans.")] = "en",
    timezone: Annotated[
        str, typer.Option(help="IANA time zone for times shown, e.g. Europe/London.")
    ] = "UTC",
    password_stdin: PasswordStdinOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Add a console user (asks for the password twice unless --password-stdin)."""
    with open_accounts(home) as accounts:
        # Check everything else before asking for a password.
        name = accounts.check_new_user(
            username, role=role, display_name=display_name, language=language, timezone=timezone
        )
        password = new_password(name, from_stdin=password_stdin)
        user = accounts.add_user(
            name,
            password,
            role=role,
            display_name=display_name,
            language=language,
            timezone=timezone,
            actor=actor(),
        )
    say("Added user [bold]{name}[/] ({role})", name=user.username, role=user.role.value)


def list_users(home: HomeOption = DEFAULT_HOME, as_json: JsonOption = False) -> None:
    """List the console's users."""
    from rich import box

    with open_accounts(home) as accounts:
        users = accounts.list_users()
    if as_json:
        print_json([user_row(u) for u in users])
        return
    rows = table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("username", "name", "role", "lang", "tz", "disabled", "totp", "locked"):
        rows.add_column(column, overflow="fold", min_width=4)
    for u in users:
        rows.add_row(
            *cells(
                u.username,
                u.display_name,
                u.role.value,
                u.language,
                u.timezone,
                "yes" if u.disabled else "no",
                "yes" if u.totp_enabled else "no",
                f"until {clock_time(u.locked_until_ms)}" if u.locked else "no",
            )
        )
    print_table(rows)


def update(
    username: Annotated[str, typer.Argument(help="The user to change.")],
    role: Annotated[str | None, typer.Option(help="New role.", show_default=False)] = None,
    display_name: Annotated[
        str | None, typer.Option(help="New name shown in the console.", show_default=False)
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Console language: en or zh-Hans.", show_default=False)
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone, e.g. Asia/Shanghai.", show_default=False)
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Change a user's role, shown name, language or time zone."""
    if role is None and display_name is None and language is None and timezone is None:
        fail("nothing to change: give --role, --display-name, --language or --timezone")
    with open_accounts(home) as accounts:
        user = accounts.update_user(
            username,
            role=role,
            display_name=display_name,
            language=language,
            timezone=timezone,
            actor=actor(),
        )
    say(
        "Updated [bold]{name}[/]: {role}, {display_name}, {language}, {timezone}",
        name=user.username,
        role=user.role.value,
        display_name=user.display_name,
        language=user.language,
        timezone=user.timezone,
    )


def disable(
    username: Annotated[str, typer.Argument(help="The user to disable.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Refuse the user's logins and end their sessions (the record keeps their name)."""
    with open_accounts(home) as accounts:
        user = accounts.disable_user(username, actor=actor())
    say("Disabled [bold]{name}[/]; their sessions have ended.", name=user.username)


def enable(
    username: Annotated[str, typer.Argument(help="The user to enable or unlock.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Allow the user's logins again, and lift a lockout after failed logins."""
    with open_accounts(home) as accounts:
        user = accounts.enable_user(username, actor=actor())
    say("Enabled [bold]{name}[/].", name=user.username)


def password(
    username: Annotated[str, typer.Argument(help="The user whose password to set.")],
    password_stdin: PasswordStdinOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Set a user's password; ends their sessions and lifts any lockout."""
    with open_accounts(home) as accounts:
        name = accounts.get_user(username).username
        accounts.set_password(name, new_password(name, from_stdin=password_stdin), actor=actor())
    say("Password set for [bold]{name}[/]; their sessions have ended.", name=name)


def totp(
    username: UserArgument,
    enable: Annotated[
        bool | None,
        typer.Option(
            "--enable/--disable",
            help="Require a code from an authenticator app at login, or stop requiring it.",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Turn two-factor login (TOTP) on (shows the new secret once) or off."""
    if enable is None:
        fail("say --enable or --disable", EXIT_USAGE)
    with open_accounts(home) as accounts:
        if not enable:
            user = accounts.disable_totp(username, actor=actor())
            say("TOTP disabled for [bold]{name}[/].", name=user.username)
            return
        name = accounts.get_user(username).username
        enrolment = accounts.enable_totp(name, actor=actor())
    say(
        "TOTP enabled for [bold]{name}[/]. Enter this into the user's "
        "authenticator app now; it is shown only once. Provisioning URI (for a QR code):",
        name=name,
    )
    from ..untrusted import inert

    plain(inert(enrolment.uri))
    say("Secret (to type in by hand):")
    plain(enrolment.secret)
