"""`santiway-anomaly operator add|remove|list`: who may sign in to the dashboard (DASHBOARD_USERS_FILE)."""

from __future__ import annotations

from typing import Annotated

import typer

from santiway_anomaly.cli.common import settings_or_exit

app = typer.Typer(help="Dashboard operators: names and Argon2 password hashes in DASHBOARD_USERS_FILE.",
                  no_args_is_help=True)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The operator's name, shown beside each verdict they give")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          envvar="SANTIWAY_OPERATOR_PASSWORD",
                                          help="Asked for when not given (or SANTIWAY_OPERATOR_PASSWORD)")],
) -> None:
    """Add an operator, or set a new password for one."""
    from santiway_anomaly.dashboard.auth import UsersFileError, set_password

    path = settings_or_exit().dashboard_users_path
    try:
        set_password(path, name, password)
    except (ValueError, UsersFileError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    typer.echo(f"operator {name} can sign in ({path})")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The operator to remove")]) -> None:
    """Remove an operator (their recorded actions keep their name)."""
    from santiway_anomaly.dashboard.auth import remove_user

    path = settings_or_exit().dashboard_users_path
    if not remove_user(path, name):
        typer.secho(f"error: no operator {name} in {path}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"operator {name} removed ({path})")


@app.command("list")
def list_operators() -> None:
    """The operators who can sign in (names only)."""
    from santiway_anomaly.dashboard.auth import load_users

    path = settings_or_exit().dashboard_users_path
    users = load_users(path)
    typer.echo(f"{len(users)} operator(s) in {path}")
    for name in sorted(users):
        typer.echo(f"  {name}")
