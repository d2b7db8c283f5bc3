-- Version 7: a withdrawal of consent travels to the hub and every other device
-- (assistant/sync/withdrawals.py, docs/sync.md "Consent withdrawn anywhere").
-- withdrawal_id: one UUID per withdrawal, the same on every device and the hub (given when it is
-- first sent, or as the hub sent it). sent_at: when the hub acknowledged it (NULL: waiting).
-- from_hub: 1 for a withdrawal made elsewhere and received from the hub (never sent back).

ALTER TABLE consent_events ADD COLUMN withdrawal_id TEXT;
ALTER TABLE consent_events ADD COLUMN sent_at TEXT;
ALTER TABLE consent_events ADD COLUMN from_hub INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX consent_withdrawal_id ON consent_events (withdrawal_id)
    WHERE withdrawal_id IS NOT NULL;
