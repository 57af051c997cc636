-- Recordings (issue 11). A recording is `recording` while the room's node captures it
-- (`heartbeat_at` moves with every segment it writes to the shared storage under
-- `storage_prefix`), `stopping` once asked to stop (its node writes what it holds, then
-- makes it `processing`), `processing` while a node composes the playable file (a claim
-- on the database clock like a conversion's: `claimed_by` until `claimed_until`,
-- `attempts` fencing a stale claimer), then `ready` (`media_key`, `thumbnail_key`) or
-- `failed` with `error`. A capture whose heartbeat stopped (its node died) is processed
-- from the segments it wrote. One live recording per room. A room's `recording` policy:
-- `allowed` (moderators start it), `forbidden`, or `automatic` (its node starts one
-- when the room opens).

CREATE TABLE recordings (
    id $ID_PK,
    room_id BIGINT REFERENCES rooms(id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    storage_prefix TEXT NOT NULL UNIQUE,
    started_by BIGINT,
    started_by_name TEXT,
    started_at BIGINT NOT NULL,
    stopped_at BIGINT,
    heartbeat_at BIGINT NOT NULL,
    node_id BIGINT,
    duration_ms BIGINT,
    size_bytes BIGINT,
    media_key TEXT,
    thumbnail_key TEXT,
    error TEXT,
    claimed_by BIGINT,
    claimed_until BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    deleted_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX recordings_one_live ON recordings(room_id) WHERE status IN ('recording', 'stopping');
CREATE INDEX recordings_room ON recordings(room_id, started_at);
CREATE INDEX recordings_status ON recordings(status, claimed_until);

ALTER TABLE rooms ADD COLUMN recording TEXT NOT NULL DEFAULT 'allowed';
