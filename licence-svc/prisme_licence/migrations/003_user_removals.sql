-- Users removed from a contract by an amendment, with the contract version, so an older
-- contract.activated delivered late does not bring them back (reordering, DESIGN §3).
CREATE TABLE user_removals (
    contract_id uuid NOT NULL,
    user_id uuid NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (contract_id, user_id)
);
