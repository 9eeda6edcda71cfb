"""An evaluation that one world cannot fool (issue 11, item 7; issue 12 for ML): the detectors over
worlds of several families (`simulate/families`) and over real captures, run the way a deployment
runs them. The ML detector's part (a `detect --hours 72` run over the anomaly window, against the
world's devices that changed) is in `evaluation/worlds_ml.py`; the rule detectors' is here.

Per world, in a worker process of its own (one process can hold one embedded chDB path): generate
the world, ingest it into a fresh store with the product's ingest, run detection once per local day
after the warm-up (`run_detection(hours=24, until=<local midnight>)`, TIMEZONE = the world's zone),
and attribute each stored anomaly to the day whose run stored it first. Then:

- precision, recall, F1 per type over the anomaly days (the last ANOMALY_DAYS), under the matching
  rule of `evaluation/matching.py`;
- false alarms per clean day (alarms stored on days with no injected anomaly: every one is false)
  and per 1,000 devices per clean day (physical devices of the world, not MACs);
- hits on the hard negatives (fake crowd, early employee, weak fixture).

The report names the worst world per metric beside the mean. Real captures (`--lab`) have no
labels: alarms per type, per recorded day and per folder per week, 2022 (tune) and 2023 (check).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from santiway_anomaly.catalog import DETECTORS, RULE_DETECTORS
from santiway_anomaly.evaluation.false_alarms import list_false_alarms
from santiway_anomaly.evaluation.false_alarms import markdown as false_alarms_markdown

DETECTOR_TYPES: dict[str, str] = {d.name: d.anomaly_type for d in DETECTORS}
LAB_TIMEZONE = "Europe/Prague"
LOWER_IS_WORSE = ("precision", "recall", "f1")
HIGHER_IS_WORSE = ("fa_per_clean_day", "fa_per_1000_devices_per_clean_day")
ML_EXTRA = ("fa_per_1000_scored_devices_per_clean_day",)  # the ML detector's rate over the devices it scored


def _midnight_after(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), dtime(0), tzinfo=zone).astimezone(UTC)


def _quiet_worker() -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING", format="{time:HH:mm:ss} | {level: <7} | {message}")


def _settings(data_dir: Path, timezone: str) -> Any:
    from santiway_anomaly.config import load_settings

    # A fresh embedded store per world, whatever the caller's environment points at.
    return load_settings(data_dir=data_dir, timezone=timezone, clickhouse_host="", folder_timezones={})


def _detect_days(store: Any, settings: Any, days: Sequence[date], detectors: Sequence[str]) -> dict[str, list[Any]]:
    """Run detection once per local day; local date -> anomalies first stored by that day's run."""
    from santiway_anomaly.detectors.runner import run_detection

    zone = ZoneInfo(settings.timezone)
    by_day: dict[str, list[Any]] = {}
    for day in days:
        run = run_detection(store, settings, hours=24, until=_midnight_after(day, zone), detectors=list(detectors))
        if run.errors:
            logger.warning("detection on {} failed for {}", day, run.errors)
        by_day[day.isoformat()] = list(run.new)
    return by_day


def world_job(family: str, seed: int, scale: float, root: str, detectors: Sequence[str],
              keep: bool = False) -> dict[str, Any]:
    """Generate, ingest, detect and score one world (run in a worker process of its own)."""
    _quiet_worker()
    from santiway_anomaly.evaluation.matching import Detection, match
    from santiway_anomaly.evaluation.truth import load_truth
    from santiway_anomaly.evaluation.worlds_ml import ML_NAME, ML_TYPE, detect_ml, ml_type_scores
    from santiway_anomaly.ingest.pipeline import ingest_file
    from santiway_anomaly.simulate.families import generate
    from santiway_anomaly.storage.store import Store

    base = Path(root) / f"{family}-{seed}"
    timings: dict[str, float] = {}
    t = time.perf_counter()
    info = generate(family, seed, base / "world", scale)
    timings["generate_s"] = round(time.perf_counter() - t, 1)
    world = json.loads((base / "world" / "world.json").read_text(encoding="utf-8"))
    settings = _settings(base / "data", info.timezone)
    store = Store.open(settings)
    try:
        t = time.perf_counter()
        report = ingest_file(store, base / "world" / "sightings.parquet", settings)
        timings["ingest_s"] = round(time.perf_counter() - t, 1)
        days = [date.fromisoformat(d) for d in info.clean_days + info.anomaly_days]
        t = time.perf_counter()
        rules = [d for d in detectors if d in RULE_DETECTORS]
        # no rule detector asked for: no daily runs at all (run_detection runs every detector when given none)
        by_day = _detect_days(store, settings, days, rules) if rules else {d.isoformat(): [] for d in days}
        timings["detect_s"] = round(time.perf_counter() - t, 1)
        ml = None
        if ML_NAME in detectors:  # `detect --hours 72` over the anomaly window (evaluation/worlds_ml.py)
            t = time.perf_counter()
            ml = detect_ml(store, settings, [date.fromisoformat(d) for d in info.clean_days],
                           [date.fromisoformat(d) for d in info.anomaly_days])
            timings["detect_ml_s"] = round(time.perf_counter() - t, 1)
    finally:
        store.close()
    truth = load_truth(base / "world" / "truth.jsonl")
    types = [DETECTOR_TYPES[d] for d in detectors if d in RULE_DETECTORS]
    detections = {day: [Detection(a.anomaly_id, a.anomaly_type, a.subject, a.window_start, a.window_end, a.score,
                                  a.severity, a.folder, a.details) for a in found if a.anomaly_type in types]
                  for day, found in by_day.items()}
    in_window = [d for day in info.anomaly_days for d in detections[day]]
    scores = match(in_window, [e for e in truth if e.anomaly_type in types], types=types)
    clean = [d for day in info.clean_days for d in detections[day]]
    n_clean = max(len(info.clean_days), 1)
    per_type: dict[str, Any] = {}
    for name in types:
        s = scores[name]
        fa = sum(1 for d in clean if d.anomaly_type == name)
        per_type[name] = {
            "detections": s.detections, "correct": s.true_positives, "truth_events": s.truth_events,
            # no alarm at all against real events is an F1 of 0, not "undefined" (precision stays undefined)
            "found": s.found, "precision": s.precision, "recall": s.recall,
            "f1": 0.0 if s.f1 is None and s.recall is not None else s.f1,
            "clean_day_alarms": fa, "fa_per_clean_day": fa / n_clean,
            "fa_per_1000_devices_per_clean_day": fa / n_clean / (info.devices / 1000),
            "false_positives": s.false_positives[:10], "missed": s.missed,
        }
    if ml is not None:
        per_type[ML_TYPE] = ml_type_scores(ml, truth, len(info.clean_days), info.devices)
    fa_all = len(clean)
    unmatched_ids = {fp["anomaly_id"] for name in types for fp in scores[name].false_positives}
    false = clean + [d for d in in_window if d.anomaly_id in unmatched_ids]
    who = _who(base / "world" / "devices.parquet")
    listing = list_false_alarms([(day, d) for day in info.clean_days for d in detections[day]],
                                [(day, d) for day in info.anomaly_days for d in detections[day]
                                 if d.anomaly_id in unmatched_ids], truth, who)
    result = {
        "world": f"{family}-{seed}", "family": family, "seed": seed, "scale": scale, "timezone": info.timezone,
        "devices": info.devices, "macs": info.macs, "sightings": info.sightings, "ingested": report.accepted,
        "rejected": report.rejected, "clean_days": len(info.clean_days), "anomaly_days": len(info.anomaly_days),
        "truth_events": len(truth), "types": per_type, "timings": timings,
        "all_types": {"clean_day_alarms": fa_all, "fa_per_clean_day": fa_all / n_clean,
                      "fa_per_1000_devices_per_clean_day": fa_all / n_clean / (info.devices / 1000)},
        "hard_negative_hits": _hard_negative_hits(world, [d for v in detections.values() for d in v] + (
            [] if ml is None else [Detection(a.anomaly_id, a.anomaly_type, a.subject, a.window_start, a.window_end,
                                             a.score, a.severity) for a in ml["clean"] + ml["window"]]), truth),
        "false_alarms_by_role": _by_role(who, false + _ml_false(per_type, ml)),
        "false_alarms": listing.listed, "false_alarms_left_out": listing.left_out,
        "clean_day_examples": [{"type": d.anomaly_type, "subject": d.subject,
                                "window_start": d.window_start.isoformat(), "score": d.score} for d in clean[:15]],
    }
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
    return result


def _ml_false(per_type: dict[str, Any], ml: dict[str, Any] | None) -> list[Any]:
    """The ML detector's false alarms (clean days, and anomaly-window alarms on no changed device)."""
    from santiway_anomaly.evaluation.matching import Detection

    if ml is None:
        return []
    fp = {f["anomaly_id"] for f in per_type["ml_behavior"]["false_positives"]}
    return [Detection(a.anomaly_id, a.anomaly_type, a.subject, a.window_start, a.window_end, a.score, a.severity)
            for a in ml["clean"] + [a for a in ml["window"] if a.anomaly_id in fp]]


def _who(devices: Path) -> dict[str, str]:
    """MAC -> "role/MAC behaviour" of the world's device behind it."""
    import pyarrow.parquet as pq

    table = pq.read_table(devices, columns=["device_id", "role", "mac_mode"]).to_pydict()
    return {m: f"{r}/{k}" for m, r, k in zip(table["device_id"], table["role"], table["mac_mode"], strict=True)}


def _by_role(who: dict[str, str], false: list[Any]) -> dict[str, dict[str, int]]:
    """type -> "role/MAC behaviour" -> false alarms (clean days and anomaly days): who fooled a detector."""
    out: dict[str, dict[str, int]] = {}
    for d in false:
        key = "folder" if d.subject.startswith("folder:") else who.get(d.subject, "unknown")
        bucket = out.setdefault(d.anomaly_type, {})
        bucket[key] = bucket.get(key, 0) + 1
    return {t: dict(sorted(v.items(), key=lambda kv: -kv[1])) for t, v in out.items()}


def _hard_negative_hits(world: dict[str, Any], detections: list[Any], truth: list[Any]) -> list[dict[str, Any]]:
    """Detections on a hard negative: its device, or (fake crowd) its folder in its window."""
    from santiway_anomaly.evaluation.truth import _time

    true_subjects = {(t.anomaly_type, t.subject) for t in truth}
    hits = []
    for h in world.get("hard_negatives", []):
        a, b = _time(h["window_start"], 0, "window_start"), _time(h["window_end"], 0, "window_end")
        for d in detections:
            if (d.anomaly_type, d.subject) in true_subjects:
                continue
            same = (h["device_id"] and d.subject == h["device_id"]) or (
                h["kind"] == "fake_crowd" and d.subject == f"folder:{h['folder']}")
            if same and d.window_start < b and a < d.window_end:
                hits.append({"kind": h["kind"], "type": d.anomaly_type, "subject": d.subject,
                             "window_start": d.window_start.isoformat()})
    return hits


def lab_job(lab_dir: str, root: str, detectors: Sequence[str]) -> dict[str, Any]:
    """Real captures: ingest, detect once per recorded local day, count and list the alarms."""
    _quiet_worker()
    from santiway_anomaly.detectors.util import utc
    from santiway_anomaly.ingest.pipeline import ingest_file
    from santiway_anomaly.storage.queries.ingest import stored_folders
    from santiway_anomaly.storage.store import Store

    lab = Path(lab_dir)
    meta = json.loads((lab / "meta.json").read_text(encoding="utf-8"))
    days = [date.fromisoformat(d) for d in meta["days_used"]]
    settings = _settings(Path(root) / "lab" / "data", LAB_TIMEZONE)
    zone = ZoneInfo(LAB_TIMEZONE)
    store = Store.open(settings)
    try:
        t = time.perf_counter()
        report = ingest_file(store, lab / "sightings.parquet", settings)
        ingest_s = time.perf_counter() - t
        folders = stored_folders(store)
        t = time.perf_counter()
        by_day = _detect_days(store, settings, days, detectors)
        detect_s = time.perf_counter() - t
    finally:
        store.close()
    shutil.rmtree(Path(root) / "lab", ignore_errors=True)
    types = [DETECTOR_TYPES[d] for d in detectors if d in DETECTOR_TYPES]
    alarms = []
    for day, found in by_day.items():
        for a in found:
            if a.anomaly_type not in types:
                continue
            alarms.append({"day": day, "type": a.anomaly_type, "severity": a.severity, "score": a.score,
                           "device_id": a.device_id, "folder": a.folder,
                           "local_time": utc(a.window_start).astimezone(zone).isoformat(timespec="minutes"),
                           "reasons": a.details.get("reasons", []), "against": a.details.get("against", [])})
    periods = {}
    for label, year in (("2022 (tune)", "2022"), ("2023 (check)", "2023")):
        p_days = [d for d in days if str(d.year) == year]
        p_alarms = [a for a in alarms if a["day"].startswith(year)]
        weeks = max(len(p_days) / 7, 1e-9)
        per_type = {name: sum(1 for a in p_alarms if a["type"] == name) for name in types}
        periods[label] = {
            "recorded_days": len(p_days), "alarms": len(p_alarms), "per_type": per_type,
            "alarms_per_recorded_day": len(p_alarms) / max(len(p_days), 1),
            "per_type_per_recorded_day": {k: v / max(len(p_days), 1) for k, v in per_type.items()},
            "alarms_per_folder_per_week": len(p_alarms) / max(len(folders), 1) / weeks,
            "critical": sum(1 for a in p_alarms if a["severity"] == "critical"),
        }
    return {"source": str(lab), "timezone": LAB_TIMEZONE, "sightings": report.accepted, "rejected": report.rejected,
            "recorded_days": len(days), "folders": folders, "periods": periods, "alarms": alarms,
            "timings": {"ingest_s": round(ingest_s, 1), "detect_s": round(detect_s, 1)}}


def summarize(worlds: list[dict[str, Any]], types: Sequence[str]) -> dict[str, Any]:
    """Mean and worst world per type and metric (None where a world has no such figure)."""
    out: dict[str, Any] = {}
    for name in [*types, "all_types"]:
        metrics = ("fa_per_clean_day", "fa_per_1000_devices_per_clean_day") if name == "all_types" \
            else LOWER_IS_WORSE + HIGHER_IS_WORSE + (ML_EXTRA if name == "ml_behavior" else ())
        row: dict[str, Any] = {}
        for m in metrics:
            vals = [(w["world"], (w["all_types"] if name == "all_types" else w["types"][name])[m]) for w in worlds]
            vals = [(k, v) for k, v in vals if v is not None]
            if not vals:
                row[m] = {"mean": None, "worst": None, "worst_world": None}
                continue
            pick = min if m in LOWER_IS_WORSE else max  # ML_EXTRA: higher is worse
            worst = pick(vals, key=lambda kv: kv[1])
            row[m] = {"mean": sum(v for _, v in vals) / len(vals), "worst": worst[1], "worst_world": worst[0],
                      "tied": sum(1 for _, v in vals if v == worst[1]) - 1, "worlds": len(vals)}
        out[name] = row
    return out


def run_all(tasks: Sequence[tuple[str, int]], scale: float, detectors: Sequence[str],
            lab: Path | None = None, jobs: int = 1, workdir: Path | None = None, keep: bool = False,
            progress: bool = True) -> dict[str, Any]:
    """Every (family, seed) of `tasks` (and the lab when given), each in a worker process of its own."""
    from tqdm import tqdm

    from santiway_anomaly.simulate.families import FAMILIES

    families = list(dict.fromkeys(f for f, _ in tasks))
    seeds = list(dict.fromkeys(s for _, s in tasks))
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    bad = [d for d in detectors if d not in DETECTOR_TYPES]
    if bad:
        raise ValueError(f"unknown detectors {bad}; choose from {', '.join(DETECTOR_TYPES)}")
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)  # a new --workdir is made, not refused
    root = Path(tempfile.mkdtemp(prefix="worlds-", dir=workdir))
    started = time.perf_counter()
    worlds: list[dict[str, Any]] = []
    lab_result: dict[str, Any] | None = None
    lab_note = None
    if lab is not None and not (lab / "sightings.parquet").exists():
        lab_note = f"real captures skipped: {lab / 'sightings.parquet'} not found"
        logger.warning(lab_note)
        lab = None
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, max_tasks_per_child=1) as pool, \
            tqdm(total=len(tasks) + (1 if lab else 0), unit="world", desc="evaluate", disable=not progress) as bar:
        futures = [pool.submit(world_job, f, s, scale, str(root), list(detectors), keep) for f, s in tasks]
        lab_future = pool.submit(lab_job, str(lab), str(root), list(detectors)) if lab else None
        for fut, (f, s) in zip(futures, tasks, strict=True):
            try:
                worlds.append(fut.result())
            except Exception as exc:  # one broken world must not hide the others' figures
                logger.error("world {}-{} failed: {}", f, s, exc)
                worlds.append({"world": f"{f}-{s}", "family": f, "seed": s, "error": f"{type(exc).__name__}: {exc}"})
            bar.set_postfix_str(f"{f}-{s}")
            bar.update()
        if lab_future is not None:
            try:
                lab_result = lab_future.result()
            except Exception as exc:  # the worlds' figures stand without the lab's
                lab_note = f"real captures failed: {type(exc).__name__}: {exc}"
                logger.error(lab_note)
            bar.update()
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    types = [DETECTOR_TYPES[d] for d in detectors]
    ok = [w for w in worlds if "error" not in w]
    return {"created": datetime.now(UTC).isoformat(timespec="seconds"), "families": families, "seeds": seeds,
            "scale": scale, "detectors": list(detectors), "types": types,
            "seconds": round(time.perf_counter() - started, 1), "worlds": worlds,
            "summary": summarize(ok, types), "lab": lab_result, "lab_note": lab_note,
            "rule": "same type, same subject, windows overlapping within 60 min"}


def _f(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _cell(stat: dict[str, Any]) -> str:
    who = stat["worst_world"] or "-"
    if stat.get("tied") and stat["tied"] + 1 == stat.get("worlds"):
        who = "every world"
    elif stat.get("tied"):
        who += f" and {stat['tied']} more"
    return f"{_f(stat['mean'])} / **{_f(stat['worst'])}** ({who})"


def _families_table(result: dict[str, Any]) -> list[str]:
    from santiway_anomaly.simulate.families import FAMILIES

    lines = ["## Families", "", "| family | what it tests |", "| --- | --- |"]
    lines += [f"| {f} | {FAMILIES[f].notes} |" for f in result["families"] if f in FAMILIES]
    return [*lines, "", "Every world also has ordinary life (staff on weekday rhythms, visitors, passers-by, phones "
            "rotating randomized MACs every 15-30 min, fixtures) and, in its last 3 days only: density crowds "
            "(2-4x the folder's same-hour p95, mostly rotating MACs), night intruders, lingering and returning "
            "strangers, followers of a moving sensor (patrols, large_site); plus hard negatives.", ""]


def render_markdown(result: dict[str, Any], command: str = "") -> str:
    types: list[str] = result["types"]
    ok = [w for w in result["worlds"] if "error" not in w]
    lines = ["# Detectors across world families and real captures", "",
             f"Measured {result['created']} in {result['seconds']:.0f} s: {len(ok)} worlds "
             f"(families {', '.join(result['families'])}; seeds {', '.join(map(str, result['seeds']))}; "
             f"scale {result['scale']}), detectors {', '.join(result['detectors'])}.", ""]
    if command:
        lines += [f"Reproduce: `{command}`", ""]
    lines += ["How: each world is generated by `simulate/families` (independent of the main simulator), ingested "
              "into a fresh embedded store and run once per local day after a 7-day warm-up "
              "(`run_detection(hours=24, until=<local midnight>)`, TIMEZONE = the world's zone). Precision, recall "
              "and F1 count the alarms of the last 3 days (the anomaly days) under the matching rule "
              f"({result['rule']}); false alarms (FA) are the alarms raised on clean days (no injected anomaly), "
              "per clean day and per 1,000 devices (physical devices, not MACs) per clean day. A detector "
              "without any alarm in a world has no precision there (n/a) and an F1 of 0 if it missed events; "
              "the worst world is the lowest precision / recall / F1 or the most false alarms.", "",
              *_families_table(result), "## Summary: mean and worst world", "",
              "| type | precision mean / worst | recall mean / worst | F1 mean / worst | FA per clean day mean / worst "
              "| FA per 1,000 devices per clean day mean / worst |",
              "| --- | --- | --- | --- | --- | --- |"]
    for name in types:
        row = result["summary"][name]
        cells = [_cell(row[m]) for m in LOWER_IS_WORSE + HIGHER_IS_WORSE]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    allrow = result["summary"]["all_types"]
    lines.append("| all rule detectors | | | | " + " | ".join(_cell(allrow[m]) for m in HIGHER_IS_WORSE) + " |")
    lines += ["", "## Per world", "",
              "| world | zone | devices | MACs | sightings | type | alarms | correct | truth | found | P | R | F1 "
              "| FA / clean day | FA / 1k dev / clean day |",
              "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for w in result["worlds"]:
        if "error" in w:
            lines.append(f"| {w['world']} | failed: {w['error']} |")
            continue
        for i, name in enumerate(types):
            t = w["types"][name]
            head = (f"| {w['world']} | {w['timezone']} | {w['devices']:,} | {w['macs']:,} | {w['sightings']:,} "
                    if i == 0 else "| | | | | ")
            lines.append(head + f"| {name} | {t['detections']} | {t['correct']} | {t['truth_events']} | {t['found']} "
                         f"| {_f(t['precision'])} | {_f(t['recall'])} | {_f(t['f1'])} | {_f(t['fa_per_clean_day'])} "
                         f"| {_f(t['fa_per_1000_devices_per_clean_day'])} |")
    if "ml_behavior" in types:
        lines += _ml_lines(result, ok)
    hits = [(w["world"], h) for w in ok for h in w["hard_negative_hits"]]
    lines += ["", "## Hard negatives (must stay silent)", "",
              "A fake crowd (one device rotating its MAC every minute for 2 h), an employee arriving at 05:45, a "
              "fixture heard at -92 dBm, in every world.", ""]
    if hits:
        lines += [f"- {world}: {h['kind']} flagged as {h['type']} ({h['subject']}, {h['window_start']})"
                  for world, h in hits]
    else:
        lines.append("None flagged.")
    roles: dict[str, dict[str, int]] = {}
    for w in ok:
        for name, counts in w.get("false_alarms_by_role", {}).items():
            for key, n in counts.items():
                roles.setdefault(name, {})[key] = roles.setdefault(name, {}).get(key, 0) + n
    if roles:
        lines += ["", "## Who the false alarms were (all worlds, clean and anomaly days)", "",
                  "Role of the device behind each false alarm / its MAC behaviour (from each world's "
                  "`devices.parquet`).", ""]
        for name, counts in roles.items():
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
            lines.append(f"- {name} ({sum(counts.values())}): " + ", ".join(f"{k} {n}" for k, n in top))
    lines += false_alarms_markdown(ok)
    missed = [(w["world"], name, m) for w in ok for name in types for m in w["types"][name]["missed"]]
    if missed:
        lines += ["", "## Missed truth events", ""]
        lines += [f"- {world}: {name} {m['scenario']} {m['subject']} {m['window_start']}" for world, name, m in missed]
    lines += ["", "## Real captures", ""]
    lab = result.get("lab")
    if lab is None:
        lines.append(result.get("lab_note") or "Not run (no `--lab`).")
    else:
        lines += [f"`{lab['source']}`: {lab['sightings']:,} sightings, {lab['recorded_days']} recorded days, "
                  f"folders {', '.join(lab['folders'])}, TIMEZONE={lab['timezone']}; detection once per recorded "
                  "local day. No labels: every alarm here is a candidate false alarm.", "",
                  "| period | recorded days | alarms | critical | " + " | ".join(types)
                  + " | alarms per recorded day | alarms per folder per week |",
                  "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in types) + " | ---: | ---: |"]
        for label, p in lab["periods"].items():
            lines.append(f"| {label} | {p['recorded_days']} | {p['alarms']} | {p['critical']} | "
                         + " | ".join(str(p["per_type"][t]) for t in types)
                         + f" | {_f(p['alarms_per_recorded_day'])} | {_f(p['alarms_per_folder_per_week'])} |")
        lines += ["", f"The {len(lab['alarms'])} alarms, with their reasons, are listed in `worlds.json` "
                  "(`lab.alarms`)."]
    timing = [f"{w['world']} {sum(w['timings'].values()):.0f} s" for w in ok]
    lines += ["", "## Time", "", "Per world (generate + ingest + detect): " + ", ".join(timing) + "."]
    if lab is not None:
        lines.append(f"Real captures: ingest {lab['timings']['ingest_s']} s, detect {lab['timings']['detect_s']} s.")
    return "\n".join(lines) + "\n"


def _ml_lines(result: dict[str, Any], ok: list[dict[str, Any]]) -> list[str]:
    """The ML detector's section: how it was run, the figures per world, recall per kind of change."""
    extra = result["summary"]["ml_behavior"].get("fa_per_1000_scored_devices_per_clean_day")
    lines = ["", "## ML detector (ml_behavior): devices that changed", "",
             "Truth: in each world 8 regular staff devices with stable MACs (6 in small_site, 16 in large_site) "
             "change in the last 3 days in one way each: schedule shifted 4.5-7 h, 30-75 min in two folders never "
             "visited, coming and going in short visits, signal 10-14 dB stronger or weaker, or 3-4x the sightings "
             "(`simulate/families/changes.py`). Run as `detect --hours 72` runs it: one 72-hour run over the anomaly "
             "window; the clean days in 72-hour runs before it (every alarm there is false). FA per 1,000 scored "
             "device-days counts only the device-days the detector scored (stable MACs past learning).", ""]
    if extra:
        lines += [f"FA per 1,000 scored device-days per clean day, mean / worst: {_cell(extra)}.", ""]
    lines += ["| world | devices scored | alarms | correct | changed | found | P | R | F1 | FA / clean day "
              "| FA / 1k dev / clean day | FA / 1k scored device-days | recall by kind |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for w in ok:
        t = w["types"]["ml_behavior"]
        kinds = ", ".join(f"{k} {v['found']}/{v['truth']}" for k, v in sorted(t["recall_by_kind"].items()))
        lines.append(f"| {w['world']} | {t['scored_devices']:,} | {t['detections']} | {t['correct']} "
                     f"| {t['truth_events']} | {t['found']} | {_f(t['precision'])} | {_f(t['recall'])} "
                     f"| {_f(t['f1'])} | {_f(t['fa_per_clean_day'])} | {_f(t['fa_per_1000_devices_per_clean_day'])} "
                     f"| {_f(t['fa_per_1000_scored_devices_per_clean_day'])} | {kinds} |")
    return lines


def write_outputs(result: dict[str, Any], out_dir: Path, command: str = "") -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "worlds.md", out_dir / "worlds.json"
    md.write_text(render_markdown(result, command), encoding="utf-8")
    js.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return md, js
