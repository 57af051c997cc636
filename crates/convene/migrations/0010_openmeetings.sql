-- The OpenMeetings-compatible web-service API (issue 12): who and what an integration
-- (an LMS) means by its own ids, and the single-use secure hashes that sign its users in.

-- A person of an integration, by the integration's key: (externalType, externalId). The
-- account is an ordinary `user` account without a password; the names and picture are
-- what the integration sent last (`user/hash` updates them).
CREATE TABLE om_external_users (
    external_type TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id BIGINT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    login TEXT NOT NULL DEFAULT '',
    firstname TEXT NOT NULL DEFAULT '',
    lastname TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    picture_uri TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (external_type, external_id)
);

-- What OpenMeetings knows of a room and Convene does not: its external key, its
-- OpenMeetings type (for get-or-create by type), `closed`, and the other RoomDTO fields
-- kept as given (JSON) so that they are answered back.
CREATE TABLE om_rooms (
    room_id BIGINT PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    external_type TEXT,
    external_id TEXT,
    om_type TEXT NOT NULL,
    closed BIGINT NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX om_rooms_external ON om_rooms(external_type, external_id, om_type);

-- A secure hash (stored as its SHA-256) from `user/hash`: bound at creation to the person,
-- the room and the moderator right; single use (`used_at`), expiring on the database clock.
CREATE TABLE om_hashes (
    token_hash TEXT PRIMARY KEY,
    room_id BIGINT REFERENCES rooms(id) ON DELETE CASCADE,
    external_type TEXT NOT NULL,
    external_id TEXT NOT NULL,
    profile TEXT NOT NULL,
    moderator BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX om_hashes_expiry ON om_hashes(expires_at);
