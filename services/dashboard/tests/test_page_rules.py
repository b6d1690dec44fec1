"""The pure rules behind the operational pages: the backups' 30-day picture, overdue invoices,
seats per SKU, French sizes and durations, the feed's cursor and subject matching."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from prisme_dashboard.backup_calendar import Run, calendar_svg, day_states
from prisme_dashboard.clients import YearEndEffects
from prisme_dashboard.feed import Cursor, clean_filter, streams_for, subject_matches
from prisme_dashboard.web.billing_pages import is_overdue, list_filters
from prisme_dashboard.web.licence_pages import graph_said, seats_by_sku
from prisme_dashboard.web.render import duration, size_fr
from prisme_dashboard.web.year_end_progress import progress_of

TODAY = date(2026, 6, 15)


def test_a_day_is_ok_failed_missed_pending_or_not_expected() -> None:
    runs = [
        Run(TODAY - timedelta(days=1), True),
        Run(TODAY - timedelta(days=2), False),
        Run(TODAY - timedelta(days=3), False),
        Run(TODAY - timedelta(days=3), True),  # a retry that day succeeded: the day is good
    ]
    states = dict(day_states(runs, today=TODAY, expected_from=TODAY - timedelta(days=5),
                             last_day=None))  # fmt: skip
    assert len(states) == 30
    assert states[TODAY] == "pending"
    assert states[TODAY - timedelta(days=1)] == "ok"
    assert states[TODAY - timedelta(days=2)] == "failed"
    assert states[TODAY - timedelta(days=3)] == "ok"
    assert states[TODAY - timedelta(days=4)] == "missed"
    assert states[TODAY - timedelta(days=6)] == "none"  # before the plan began
    ended = dict(day_states([], today=TODAY, expected_from=TODAY - timedelta(days=10),
                            last_day=TODAY - timedelta(days=5)))  # fmt: skip
    assert ended[TODAY - timedelta(days=5)] == "missed"
    assert ended[TODAY - timedelta(days=4)] == "none"  # the contract ended
    svg = calendar_svg(list(states.items()), label="Cabinet <Payet>")
    assert svg.count('<rect class="day ') == 30
    assert "&lt;Payet&gt;" in svg  # escaped
    assert "1 copie en échec" in svg


def test_overdue_means_past_due_with_something_left_to_pay() -> None:
    due = {"id": "a", "status": "open", "due_date": "2026-06-14", "total_ttc": "100.00",
           "amount_paid": "40.00", "issue_date": "2026-05-15"}  # fmt: skip
    assert is_overdue(due, TODAY)
    assert not is_overdue({**due, "due_date": "2026-06-15"}, TODAY)  # due today: not yet
    assert not is_overdue({**due, "status": "paid"}, TODAY)
    assert not is_overdue({**due, "amount_paid": "100.00"}, TODAY)


def test_facturation_sends_billing_svc_only_filters_it_takes() -> None:
    kept = list_filters(
        {"status": "paid", "origine": "one_off", "annee": "2026", "q": "  F2026 \x00 ",
         "du": "2026-03-01", "au": "2026-02-01", "retard": "1", "client_id": "lilas"},
        "factures",
    )  # fmt: skip
    assert kept == {"client_id": "", "status": "paid", "origine": "one_off", "annee": "2026",
                    "q": "", "du": "2026-02-01", "au": "2026-03-01", "retard": "1"}  # fmt: skip
    bad = list_filters({"status": "cancelled", "origine": "correction", "annee": "26"}, "factures")
    assert (bad["status"], bad["origine"], bad["annee"]) == ("", "", "")
    notes = list_filters({"status": "paid", "origine": "correction", "retard": "1"}, "avoirs")
    assert (notes["status"], notes["origine"], notes["retard"]) == ("", "correction", "")


def test_seats_count_active_accounts_per_sku() -> None:
    summary = {
        "by_sku": [
            {"sku": "E3", "pending": 0, "active": 0, "revoked": 0, "failed": 1},
            {"sku": "O365_BUSINESS", "pending": 1, "active": 2, "revoked": 1, "failed": 0},
        ]
    }
    # revoked and failed accounts hold no seat; a SKU with none in use or on the way is left out
    assert seats_by_sku(summary) == [("O365_BUSINESS", 2, 1)]
    assert seats_by_sku({}) == []


def test_a_graph_error_is_shown_without_its_reason_code() -> None:
    said = "graph_unavailable: Graph a répondu 503 : Service unavailable."
    assert graph_said(said) == "Graph a répondu 503 : Service unavailable."
    assert graph_said("Graph a répondu 503 : Service unavailable.") == (
        "Graph a répondu 503 : Service unavailable."
    )
    assert graph_said("Erreur: inattendue") == "Erreur: inattendue"


def test_french_sizes_and_durations() -> None:
    assert size_fr(999) == "999 octets"
    assert size_fr(5_500) == "5,5 ko"
    assert size_fr(1_000_000_000_000) == "1 To"
    assert duration("83.5") == "1:23"
    assert duration(3725) == "1:02:05"


def test_the_feed_cursor_and_filters_refuse_what_is_not_theirs() -> None:
    cursor = Cursor.parse("BILLING:4,CONTRACTS:12")
    assert cursor is not None
    assert cursor.positions == {"BILLING": 4, "CONTRACTS": 12}
    assert Cursor.parse(cursor.format()) == cursor
    for bad in ("", "EVIL:1", "CONTRACTS:-1", "CONTRACTS:1;DROP", "CONTRACTS:" + "9" * 19):
        assert Cursor.parse(bad) is None, bad
    assert clean_filter("$JS.API.>") is None
    assert clean_filter("contract.>") == "contract.>"
    assert streams_for("invoice.paid") == ("BILLING",)
    assert subject_matches("contract.>", "contract.ended")
    assert not subject_matches("contract.>", "contract")
    assert subject_matches("invoice.*", "invoice.paid")
    assert not subject_matches("invoice.*", "invoice.paid.late")


def _run(status: str, ended: int, remaining: int, ended_total: int | None = None) -> dict[str, Any]:
    return {
        "status": status,
        "ended": ended,
        "remaining": remaining,
        "batches": 1,
        "ended_total": ended if ended_total is None else ended_total,
    }


def _effects(seen: int, done: int, remaining: int, failed: int = 0) -> YearEndEffects:
    return YearEndEffects(
        year=2026,
        unit="accounts",
        contracts_ended=seen,
        done=done,
        remaining=remaining,
        failed=failed,
    )


def test_a_year_end_line_is_complete_once_every_contract_ended_reached_it() -> None:
    done = _run("done", 10, 0, ended_total=12)  # 2 cessations earlier in the year
    full = {k: _effects(12, 30, 0) for k in ("licences", "videos", "billing")}
    progress = progress_of(done, full)
    assert [line.label for line in progress.lines] == [
        "Contrats terminés",
        "Licences retirées",
        "Liens vidéo révoqués",
        "Facturation close",
    ]
    assert progress.complete
    assert not progress.polls(None)
    assert all(line.bar_value == line.bar_max for line in progress.lines)
    assert progress.lines[1].text == "30 licences retirées, 0 à retirer — 12 sur 12 contrats reçus."

    # the run is done but licence-svc has seen 10 of the 12 contract.ended: not complete,
    # though nothing it knows of is left to revoke
    late = progress_of(done, {**full, "licences": _effects(10, 25, 0)})
    licences = late.lines[1]
    assert not licences.complete
    assert late.polls(None)
    assert licences.bar_value == 1000 * 10 // 12 < licences.bar_max

    # every contract seen, two accounts still to revoke, one of them dead
    stuck = progress_of(done, {**full, "licences": _effects(12, 28, 2, failed=1)})
    assert not stuck.lines[1].complete
    assert "(dont 1 en échec" in stuck.lines[1].text
    # while the run goes on nothing downstream is complete, whatever the counts
    running = progress_of(_run("running", 5, 5), full)
    assert [line.complete for line in running.lines] == [False] * 4
    assert running.lines[0].text == "5 contrats terminés, 5 restants (1 lot)."


def test_a_service_that_does_not_answer_is_unavailable_and_the_box_keeps_polling() -> None:
    done = _run("done", 2, 0)
    answered = {k: _effects(2, 2, 0) for k in ("licences", "billing")}
    progress = progress_of(done, {**answered, "videos": None}, {"videos": "ne répond pas"})
    videos = progress.lines[2]
    assert (videos.available, videos.complete, videos.text) == (False, False, "indisponible")
    assert videos.note == "ne répond pas"
    assert [line.complete for line in progress.lines] == [True, True, False, True]
    assert progress.polls(None)
    # contracts-svc down: its line is unavailable, the others cannot be complete
    blind = progress_of(None, {**answered, "videos": _effects(2, 2, 0)})
    assert not blind.lines[0].available
    assert not blind.complete
    assert blind.polls(None)
    # a refused start (the year is not over): shown, and no refresh until started again
    refused = progress_of(_run("not_started", 0, 2), answered)
    assert not refused.polls("L'année n'est pas terminée")
    assert refused.polls(None)
    # before any run nothing has ended: the downstream bars are empty, not full
    assert [line.bar_value for line in refused.lines[1:]] == [0, 0, 0]
