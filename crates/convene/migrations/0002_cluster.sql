-- Cluster mode: drain state and storage check on servers, the event outbox, settings.

ALTER TABLE servers ADD COLUMN draining_until BIGINT;
ALTER TABLE servers ADD COLUMN storage_status TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN storage_checked_at BIGINT;

-- Events between nodes: appended with increasing sequence numbers; each node reads
-- those after the last it applied. PostgreSQL NOTIFY only wakes the readers up.
CREATE TABLE events (
    seq $ID_PK,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_created ON events(created_at);

-- Cluster-wide settings, such as the id written into the shared storage.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
