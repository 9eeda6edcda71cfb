"""`santiway-anomaly train` and `santiway-anomaly model show|rollback`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from santiway_anomaly.cli.common import open_store, settings_or_exit

model_app = typer.Typer(help="Inspect or roll back the installed ML model.", no_args_is_help=True)

DaysOpt = Annotated[int, typer.Option("--days", min=1, max=365, help="Days of data to train on (spec: 30).")]
EpochsOpt = Annotated[int, typer.Option("--epochs", min=1, max=10000, help="Maximum epochs (spec default: 50).")]
ExtOpt = Annotated[bool, typer.Option(
    "--use-extended/--basic-features", help="All 98 features (default) or only the 20 basic ones.")]
AttOpt = Annotated[bool, typer.Option(
    "--use-attention/--no-attention", help="Multi-head self-attention (8 heads) in the TCN bottleneck.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cuda | mps | cpu (auto: the best available).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed; the same seed and data give the same model.")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", help="Train on the days before this UTC time (ISO 8601); default: the last hour with data.")]
HiddenOpt = Annotated[int, typer.Option("--hidden", min=8, max=1024, help="TCN channels (default 32).")]
LevelsOpt = Annotated[int, typer.Option("--levels", min=1, max=8, help="Residual levels, dilations 1,2,4,...")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, max=65536, help="Training batch size.")]
LrOpt = Annotated[float, typer.Option("--lr", min=1e-6, max=1.0, help="Learning rate (AdamW).")]
SourceOpt = Annotated[str, typer.Option("--data-source", help="Label written to model_metadata.json.")]
PathOpt = Annotated[Path | None, typer.Option("--model-path", help="Where to write the model (default MODEL_PATH).")]
ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", min=1, max=256, help="CPU threads for torch (default: 1 on a CPU, faster on a shared host).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def train_command(
    days: DaysOpt = 30,
    epochs: EpochsOpt = 50,
    use_extended: ExtOpt = True,
    use_attention: AttOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 42,
    until: UntilOpt = None,
    hidden: HiddenOpt = 32,
    levels: LevelsOpt = 3,
    batch_size: BatchOpt = 64,
    lr: LrOpt = 2e-3,
    data_source: SourceOpt = "production_way_data",
    model_path: PathOpt = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train the TCN autoencoder on the store's data and install it (the previous model is backed up)."""
    from santiway_anomaly.ml.errors import NotEnoughDataError
    from santiway_anomaly.ml.training import TrainConfig, train

    if device not in {"auto", "cuda", "mps", "cpu"}:
        typer.secho(f"error: --device must be auto, cuda, mps or cpu, got {device!r}", err=True, fg="red")
        raise typer.Exit(2)
    if use_attention and hidden % 8:
        typer.secho(f"error: --hidden must be a multiple of 8 with --use-attention, got {hidden}", err=True, fg="red")
        raise typer.Exit(2)
    until_dt = _parse_until(until)
    settings = settings_or_exit()
    cfg = TrainConfig(days=days, epochs=epochs, use_extended=use_extended, use_attention=use_attention,
                      device=device, seed=seed, until=until_dt, hidden=hidden, levels=levels,
                      batch_size=batch_size, lr=lr, data_source=data_source, model_path=model_path,
                      n_jobs=threads, verbose=not quiet)
    with open_store(settings) as store:
        try:
            meta = train(store, settings, cfg)
        except (NotEnoughDataError, ValueError) as exc:
            typer.secho(f"error: {exc}", err=True, fg="red")
            raise typer.Exit(1) from None
    tr = meta["training"]
    typer.echo(f"model {meta['model_version']} ({meta['model_type']}, {meta['input_channels']} features) "
               f"written to {model_path or settings.model_path}")
    typer.echo(f"  windows: {tr['train_windows']} train / {tr['validation_windows']} validation, "
               f"{tr['devices']} devices; epochs {tr['epochs_run']} (best {tr['best_epoch']}), "
               f"{tr['seconds_per_epoch']} s/epoch on {tr['device']}")
    typer.echo(f"  thresholds: p95 {meta['thresholds']['p95']:.5f}  p99 {meta['thresholds']['p99']:.5f}; "
               f"file {tr['model_bytes'] / 1e6:.2f} MB")


def _parse_until(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        typer.secho(f"error: --until must be an ISO 8601 time such as 2026-01-30T00:00, got {value!r}",
                    err=True, fg="red")
        raise typer.Exit(2) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@model_app.command("show")
def show_command(
    full: Annotated[bool, typer.Option("--full", help="Print the whole metadata (normalisation too).")] = False,
) -> None:
    """Print the installed model's metadata and whether it is usable."""
    from santiway_anomaly.ml.model_files import ModelPaths, model_metadata, model_status

    settings = settings_or_exit()
    meta, reason = model_metadata(settings)
    loaded, status = model_status(settings)
    typer.echo(f"model_loaded: {str(loaded).lower()} ({status})")
    if meta is None:
        raise typer.Exit(1)
    shown = dict(meta) if full else {k: v for k, v in meta.items() if k not in {"normalization", "feature_names"}}
    if not full and "training" in shown:
        shown["training"] = {k: v for k, v in shown["training"].items() if k != "history"}
    typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
    backups = ModelPaths.from_settings(settings).backups()
    typer.echo(f"backups: {len(backups)}" + (f" (newest {backups[0][0]})" if backups else ""))


@model_app.command("rollback")
def rollback_command() -> None:
    """Restore the newest backup of the model (the replaced one is kept as *_rolledback_*)."""
    from santiway_anomaly.ml.model_files import ModelPaths, read_metadata, rollback

    settings = settings_or_exit()
    paths = ModelPaths.from_settings(settings)
    try:
        stamp, kept = rollback(paths)
    except FileNotFoundError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    meta = read_metadata(paths) or {}
    typer.echo(f"restored backup {stamp}: model {meta.get('model_version', '?')} "
               f"(trained {meta.get('trained_at', '?')}); replaced model kept as {kept.model.name}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.add_typer(model_app, name="model")
