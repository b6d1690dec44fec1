"""The pure rules behind the operational pages: the backups' 30-day picture, overdue invoices,
seats per SKU, French sizes and durations, the feed's cursor and subject matching."""

from __future__ import annotations

from datetime import date, timedelta

from prisme_dashboard.backup_calendar import Run, calendar_svg, day_states
from prisme_dashboard.feed import Cursor, clean_filter, streams_for, subject_matches
from prisme_dashboard.web.billing_pages import is_overdue, list_filters
from prisme_dashboard.web.licence_pages import seats_by_sku
from prisme_dashboard.web.render import duration, size_fr

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
    accounts = [
        {"sku": "O365_BUSINESS", "status": "active"},
        {"sku": "O365_BUSINESS", "status": "active"},
        {"sku": "O365_BUSINESS", "status": "revoked"},
        {"sku": "O365_BUSINESS", "status": "pending"},
        {"sku": "E3", "status": "failed"},
    ]
    assert seats_by_sku(accounts) == [("O365_BUSINESS", 2, 1)]


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
