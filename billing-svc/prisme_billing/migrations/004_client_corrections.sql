-- C8: a client's identity corrected in contracts-svc (client.corrected) wins over the snapshot
-- older contract events carry; documents already finalised keep their own ``buyer``.
ALTER TABLE clients ADD COLUMN identity_version integer NOT NULL DEFAULT 0;
