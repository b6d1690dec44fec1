CREATE TABLE deliveries (
    item_id uuid PRIMARY KEY,
    receipt text NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
