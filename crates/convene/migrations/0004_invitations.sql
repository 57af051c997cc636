-- Invitations, guests and the waiting room (issue 8).

-- People without a moderator right wait in the room's lobby until a moderator admits them.
ALTER TABLE rooms ADD COLUMN waiting_room BIGINT NOT NULL DEFAULT 0;

-- A link to a room for people without an account. The token is stored as its SHA-256 only.
-- `multi_use` 0: the first redemption uses it up (`uses` goes from 0 to 1 in one conditional
-- statement). `password_hash`: Argon2id, NULL when the invitation has no password.
-- `role`: `participant` or `moderator` (a moderator of the room while in it).
CREATE TABLE invitations (
    id $ID_PK,
    token_hash TEXT NOT NULL UNIQUE,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    multi_use BIGINT NOT NULL,
    password_hash TEXT,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    uses BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT
);
CREATE INDEX invitations_room ON invitations(room_id);
CREATE INDEX invitations_expiry ON invitations(expires_at);

-- The account (role `guest`) made by a redemption: bound to the invitation's room, until
-- the invitation's expiry. A guest user without a row here (or with an expired one) can
-- do nothing, and the purge deletes it.
CREATE TABLE guests (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    invitation_id BIGINT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    moderator BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);
CREATE INDEX guests_invitation ON guests(invitation_id);
CREATE INDEX guests_expiry ON guests(expires_at);

-- Who waits in each room's lobby: a copy the room's node writes (the lobby itself lives in
-- the room's task), read by the API on any node. A row goes with its connection.
CREATE TABLE lobby (
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    login TEXT NOT NULL,
    display_name TEXT NOT NULL,
    guest BIGINT NOT NULL DEFAULT 0,
    since BIGINT NOT NULL
);
CREATE INDEX lobby_room ON lobby(room_id);
