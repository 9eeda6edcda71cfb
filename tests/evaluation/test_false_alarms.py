"""Every false alarm of a world is listed with what it takes to diagnose it (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from santiway_anomaly.evaluation.false_alarms import list_false_alarms, markdown
from santiway_anomaly.evaluation.matching import Detection, match
from santiway_anomaly.evaluation.truth import TruthEvent

T0 = datetime(2026, 5, 19, tzinfo=UTC)
TYPE = "stationary_surveillance"


def _det(subject: str, start: datetime, pattern: str, score: float = 0.5) -> Detection:
    details = {"pattern": pattern, "reasons": ["at the same spot on 3 different days"], "against": [],
               "days_at_spot": 3, "rssi_mean": -68.6, "days": ["2026-05-15"], "other_patterns": [{"pattern": "x"}]}
    return Detection(f"id-{subject}-{pattern}", TYPE, subject, start, start + timedelta(days=1), score, "info",
                     "store-4", details)


def test_a_planted_false_alarm_is_listed_on_anomaly_and_clean_days() -> None:
    planted = TruthEvent(TYPE, "AA:00:00:00:00:01", T0 + timedelta(hours=30), T0 + timedelta(hours=31),
                         "lingering", "AA:00:00:00:00:01", "lab-2")
    right = _det("AA:00:00:00:00:01", T0 + timedelta(days=1), "lingering", 0.9)
    wrong_visitor = _det("BB:00:00:00:00:02", T0, "returning")  # planted false alarm: no truth event
    early = _det("AA:00:00:00:00:01", T0 - timedelta(days=3), "following")  # same device, far before its event
    clean_day = _det("CC:00:00:00:00:03", T0 - timedelta(days=2), "lingering")
    scores = match([right, wrong_visitor], [planted], types=[TYPE])
    unmatched = {fp["anomaly_id"] for fp in scores[TYPE].false_positives}
    assert unmatched == {wrong_visitor.anomaly_id}
    fa = list_false_alarms([("2026-05-16", early), ("2026-05-17", clean_day)],
                           [("2026-05-19", d) for d in (right, wrong_visitor) if d.anomaly_id in unmatched],
                           [planted], {"BB:00:00:00:00:02": "visitor/stable"})
    assert fa.total == 3 and fa.left_out == 0
    by_subject = {a["subject"]: a for a in fa.listed}
    v = by_subject["BB:00:00:00:00:02"]
    assert (v["day_kind"], v["detector"], v["rule"], v["who"], v["folder"]) == (
        "anomaly", "stationary", "returning", "visitor/stable", "store-4")
    assert v["evidence"]["days_at_spot"] == 3 and v["evidence"]["rssi_mean"] == -68.6
    assert v["evidence"]["reasons"] and v["evidence"]["other_patterns"] == ["x"]
    assert v["nearest_planted"] is None
    e = by_subject["AA:00:00:00:00:01"]
    assert e["day_kind"] == "clean" and e["rule"] == "following"
    assert e["nearest_planted"]["scenario"] == "lingering" and e["nearest_planted"]["gap_hours"] == 78.0
    lines = "\n".join(markdown([{"world": "patrols-1", "false_alarms": fa.listed, "false_alarms_left_out": 0}]))
    assert "BB:00:00:00:00:02" in lines and "returning" in lines and "visitor/stable" in lines


def test_the_list_is_capped_and_says_how_many_were_left_out() -> None:
    many = [("2026-05-17", _det(f"DD:00:00:00:00:{i:02d}", T0, "lingering")) for i in range(30)]
    fa = list_false_alarms(many, [], [], {}, cap=25)
    assert len(fa.listed) == 25 and fa.left_out == 5
