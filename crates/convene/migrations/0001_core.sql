-- Core schema: accounts, sessions, rooms, nodes, live connections, chat.
-- Timestamps are milliseconds since the Unix epoch (UTC), written with the
-- database clock (NOW_MS). Booleans are BIGINT 0/1 so that one schema serves
-- SQLite and PostgreSQL alike. $ID_PK is the dialect's auto-increment key.

CREATE TABLE users (
    id $ID_PK,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);

CREATE TABLE rooms (
    id $ID_PK,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    public BIGINT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE room_members (
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    moderator BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
);

CREATE TABLE servers (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    http_port BIGINT NOT NULL DEFAULT 5080,
    protocol TEXT NOT NULL DEFAULT 'http',
    base_path TEXT NOT NULL DEFAULT '',
    weight DOUBLE PRECISION NOT NULL DEFAULT 1,
    comment TEXT NOT NULL DEFAULT '',
    active BIGINT NOT NULL DEFAULT 1,
    heartbeat_at BIGINT,
    started_at BIGINT,
    instance TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT ''
);

-- Which node hosts which live room: one row per room, so a room has one host.
CREATE TABLE room_hosts (
    room_id BIGINT PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    server_id BIGINT NOT NULL REFERENCES servers(id),
    assigned_at BIGINT NOT NULL
);
CREATE INDEX room_hosts_server ON room_hosts(server_id);

-- One row per live WebSocket, on whichever node it lives.
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    server_id BIGINT NOT NULL REFERENCES servers(id),
    since BIGINT NOT NULL,
    remote_addr TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX connections_room ON connections(room_id);
CREATE INDEX connections_server ON connections(server_id);

CREATE TABLE entry_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    server_id BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE chat_messages (
    id $ID_PK,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    login TEXT NOT NULL,
    display_name TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
CREATE INDEX chat_room_time ON chat_messages(room_id, id);
