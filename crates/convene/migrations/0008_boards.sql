-- The whiteboard (issue 10, item 3): each room's boards as an operation log plus
-- the latest snapshot. `seq` is the room's operation number, chosen by the room's
-- node; the primary key refuses a second node writing the same number for the same
-- room (the fenced one finds out). A snapshot holds the boards as of `seq`; the
-- operations up to it are then deleted. The boards are the log replayed on top of the
-- snapshot, on any node.

CREATE TABLE board_ops (
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    op TEXT NOT NULL,
    by_user BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq)
);

CREATE TABLE board_snapshots (
    room_id BIGINT PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
