-- B11: every finalised invoice and credit note is e-mailed to the practice's manager, and so
-- is each B10 reminder. One row per sending, written with its mail job (key mail:<id>) in the
-- transaction that decided it; the job records who it went to, when and under which Message-ID.
-- The automatic sending of a document and each reminder exist once (partial unique indexes);
-- an operator's resend is a new row.
CREATE TABLE mailings (
    id              uuid PRIMARY KEY,
    document_id     uuid NOT NULL REFERENCES documents (id),
    purpose         text NOT NULL CHECK (purpose IN ('issued', 'resend', 'reminder')),
    reminder_stage  integer CHECK ((purpose = 'reminder') = (reminder_stage IS NOT NULL)),
    requested_by    text NOT NULL,
    requested_at    timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    recipient       text,
    message_id      text NOT NULL UNIQUE,
    sent_at         timestamptz,
    last_error      text,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE UNIQUE INDEX mailings_issued_once ON mailings (document_id) WHERE purpose = 'issued';
CREATE UNIQUE INDEX mailings_reminder_once ON mailings (document_id, reminder_stage)
    WHERE purpose = 'reminder';
CREATE INDEX mailings_of_document ON mailings (document_id, requested_at);
